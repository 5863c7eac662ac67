package process

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestErrorsCross(t *testing.T) {
	errOther := errors.New("other")
	for _, tc := range []struct {
		name     string
		err      error
		sentinel string
		is       error
	}{
		{"nil", nil, "", nil},
		{"plain", errors.New("boom"), "", nil},
		{"sentinel", errNotFound, "testkind.ErrNotFound", errNotFound},
		{"wrapped sentinel", fmt.Errorf("get x: %w", errNotFound), "testkind.ErrNotFound", errNotFound},
		{"unknown", errOther, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := EncodeError(tc.err, testSentinels)
			if tc.err == nil {
				if e != nil || DecodeError(e, testSentinels) != nil {
					t.Fatalf("nil crossed as %v", e)
				}
				return
			}
			if e.Msg != tc.err.Error() || e.Sentinel != tc.sentinel {
				t.Fatalf("EncodeError = %+v", e)
			}
			back := DecodeError(e, testSentinels)
			if back.Error() != tc.err.Error() {
				t.Fatalf("message %q, want %q", back, tc.err)
			}
			if tc.is != nil && !errors.Is(back, tc.is) {
				t.Fatalf("%v does not match its sentinel", back)
			}
			// A host that does not know the sentinel keeps the message.
			if got := DecodeError(e, nil); got.Error() != tc.err.Error() || errors.Unwrap(got) != nil {
				t.Fatalf("without sentinels: %#v", got)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	a, b := Version("shape a"), Version("shape b")
	if a == b || a == 0 || b == 0 || a > 1<<31-1 || b > 1<<31-1 {
		t.Fatalf("Version = %d, %d", a, b)
	}
	if Version("shape a") != a {
		t.Fatal("Version is not a function of the shape")
	}
	h := Handshake("k", "n", "shape a")
	if h.ProtocolVersion != a || h.MagicCookieKey != CookieKey || h.MagicCookieValue != "k/n" {
		t.Fatalf("Handshake = %+v", h)
	}
}

func TestIsZeroAndCheckContext(t *testing.T) {
	type opts struct{ N int }
	if !IsZero(nil) || !IsZero(opts{}) || IsZero(opts{1}) || !IsZero((*opts)(nil)) {
		t.Fatal("IsZero")
	}
	type key struct{}
	for _, ctx := range []context.Context{nil, context.Background(), context.TODO()} {
		if err := CheckContext(ctx, "x.Options.Context"); err != nil {
			t.Fatalf("CheckContext(%v) = %v", ctx, err)
		}
	}
	if err := CheckContext(context.WithValue(context.Background(), key{}, 1), "x.Options.Context"); err == nil {
		t.Fatal("a context with a value crosses")
	}
}

func TestMessage(t *testing.T) {
	for _, m := range []proto.Message{nil, (*wrapperspb.StringValue)(nil)} {
		w, err := MarshalMessage(m)
		if err != nil || w.Set {
			t.Fatalf("MarshalMessage(%#v) = %+v, %v", m, w, err)
		}
		if v, err := w.New(); v != nil || err != nil {
			t.Fatalf("New of an unset message = %v, %v", v, err)
		}
	}
	in := wrapperspb.String("hello")
	w, err := MarshalMessage(in)
	if err != nil || !w.Set || w.Name != "google.protobuf.StringValue" {
		t.Fatalf("MarshalMessage = %+v, %v", w, err)
	}
	v, err := w.New()
	if err != nil || !proto.Equal(v, in) {
		t.Fatalf("New = %v, %v", v, err)
	}

	// The callee's answer: Same if it did not change the message.
	back, err := w.Return(v)
	if err != nil || !back.Same {
		t.Fatalf("Return of an unchanged message = %+v, %v", back, err)
	}
	dst := wrapperspb.String("kept")
	if err := back.Into(dst); err != nil || dst.Value != "kept" {
		t.Fatalf("Into of Same = %v, %v", dst, err)
	}
	v.(*wrapperspb.StringValue).Value = "changed"
	back, err = w.Return(v)
	if err != nil || back.Same {
		t.Fatalf("Return of a changed message = %+v, %v", back, err)
	}
	if err := back.Into(dst); err != nil || dst.Value != "changed" {
		t.Fatalf("Into = %v, %v", dst, err)
	}
	if err := back.Into(wrapperspb.Int64(1)); err == nil {
		t.Fatal("a StringValue copied into an Int64Value")
	}
	if err := (Message{}).Into(dst); err != nil || dst.Value != "" {
		t.Fatalf("Into of an unset message = %v, %v; want the message reset", dst, err)
	}
	if _, err := (Message{Name: "no.Such", Set: true}).New(); err == nil {
		t.Fatal("New of a message type not linked in")
	}
}
