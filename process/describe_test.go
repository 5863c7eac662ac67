package process

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// unlinkedMessage returns a message of a type no package of this program
// declares (so protoregistry does not know it), with its text field set.
func unlinkedMessage(t *testing.T, name, text string) *dynamicpb.Message {
	t.Helper()
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:    proto.String("plugink/test/" + strings.ToLower(name) + ".proto"),
		Package: proto.String("plugink.test"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String(name),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("text"), JsonName: proto.String("text"), Number: proto.Int32(1),
				Type:  descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}},
		}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := fd.Messages().Get(0)
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("text"), protoreflect.ValueOfString(text))
	return m
}

// things numbers the unlinked message types the tests make.
var things atomic.Int64

// TestUnlinkedMessageAsksForItsDescriptor: a program that does not link a
// message's type says so with an error naming it; the descriptor the
// sender kept for it makes the type, and the message then decodes.
func TestUnlinkedMessageAsksForItsDescriptor(t *testing.T) {
	// A name of its own each run: a type made from a descriptor stays.
	thing := fmt.Sprintf("Thing%d", things.Add(1))
	m := unlinkedMessage(t, thing, "hello")
	wire, err := MarshalMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wire.New()
	if err == nil || !strings.Contains(err.Error(), needDescriptor) {
		t.Fatalf("New of an unlinked message: %v, want an error asking for its descriptor", err)
	}
	name, desc, ok := wantedDescriptor("decode parameter req: " + err.Error())
	if !ok || name != "plugink.test."+thing || len(desc) == 0 {
		t.Fatalf("wantedDescriptor = %q, %d bytes, %v", name, len(desc), ok)
	}
	if err := describe(name, desc); err != nil {
		t.Fatal(err)
	}
	got, err := wire.New()
	if err != nil {
		t.Fatal(err)
	}
	// Two types made from the same descriptor are not proto.Equal: compare
	// the wire forms.
	back, err := MarshalMessage(got)
	if err != nil {
		t.Fatal(err)
	}
	if back.Name != wire.Name || string(back.Data) != string(wire.Data) {
		t.Fatalf("decoded %s %q, want %s %q", back.Name, back.Data, wire.Name, wire.Data)
	}
}

// TestDescribeRefusesBadDescriptors: garbage, a descriptor without the
// message, and one over the bound are errors, and make no type.
func TestDescribeRefusesBadDescriptors(t *testing.T) {
	if _, err := MarshalMessage(unlinkedMessage(t, "Other", "x")); err != nil {
		t.Fatal(err)
	}
	_, desc, ok := wantedDescriptor(needDescriptor + `"plugink.test.Other"`)
	if !ok {
		t.Fatal("no descriptor kept for plugink.test.Other")
	}
	for _, tc := range []struct {
		what, name string
		desc       []byte
	}{
		{"garbage", "plugink.test.Nothing", []byte("\xff\xff\xff not a descriptor")},
		{"another message's", "plugink.test.Nothing", desc},
		{"over the bound", "plugink.test.Nothing", make([]byte, maxDesc+1)},
	} {
		if err := describe(tc.name, tc.desc); err == nil {
			t.Errorf("%s descriptor: no error", tc.what)
		}
	}
	if _, err := (Message{Name: "plugink.test.Nothing", Set: true}).New(); err == nil {
		t.Error("a refused descriptor made a type")
	}
	if _, _, ok := wantedDescriptor(needDescriptor + `"plugink.test.Unknown"`); ok {
		t.Error("wantedDescriptor gave a descriptor this program never marshalled")
	}
}
