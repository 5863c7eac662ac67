package brpc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

// bRPCEchoEnv names the address of a real Apache bRPC echo server: the
// echo_server of bRPC's example/echo_c++ (echo_attachment on, as by
// default), started with or without --enable_checksum.
const bRPCEchoEnv = "PLUGINK_BRPC_ECHO"

// TestRealBRPCServer calls a real bRPC server, when $PLUGINK_BRPC_ECHO
// names one; no bRPC build is part of this repository's CI, so it is
// skipped otherwise. examples/brpc-client/README.md says how to run it.
func TestRealBRPCServer(t *testing.T) {
	addr := os.Getenv(bRPCEchoEnv)
	if addr == "" {
		t.Skipf("set %s=host:port of bRPC's example/echo_c++ echo_server to run", bRPCEchoEnv)
	}
	for _, ct := range []baidustd.CompressType{baidustd.CompressNone, baidustd.CompressGzip, baidustd.CompressZlib} {
		t.Run("echo/"+ct.String(), func(t *testing.T) {
			c := newClient(addr, brpc.Compress(ct))
			t.Cleanup(func() { c.Close() })
			for _, msg := range []string{"hello world", "", strings.Repeat("compressible ", 20000)} {
				var att []byte
				got, err := echoCall(context.Background(), c, msg, brpc.Attachment([]byte("att\x00ach")), brpc.ResponseAttachment(&att), brpc.LogID(42))
				require.NoError(t, err)
				assert.Equal(t, msg, got)
				assert.Equal(t, "att\x00ach", string(att), "echo_server echoes the attachment")
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		c := newClient(addr)
		t.Cleanup(func() { c.Close() })
		for _, tt := range []struct {
			service, method string
			req             proto.Message
			code            baidustd.Code
			text            string // what follows "[ip:port][E<code>]"
		}{
			{"example.Nope", "Echo", &echopb.EchoRequest{Message: proto.String("x")}, baidustd.ENOMETHOD, "Fail to find method=example.Nope/Echo"},
			{"Nope", "Echo", &echopb.EchoRequest{Message: proto.String("x")}, baidustd.ENOSERVICE, "Fail to find service=Nope"},
			{"example.EchoService", "Nope", &echopb.EchoRequest{Message: proto.String("x")}, baidustd.ENOMETHOD, "Fail to find method=example.EchoService/Nope"},
			{"example.EchoService", "Echo", &emptypb.Empty{}, baidustd.EREQUEST,
				"Fail to parse request=example.EchoRequest, ContentType=pb, CompressType=none, ChecksumType=none, request_size=0"},
		} {
			err := c.Call(context.Background(), tt.service, tt.method, tt.req, &echopb.EchoResponse{})
			var e *brpc.Error
			require.True(t, errors.As(err, &e), "%s.%s: got %v", tt.service, tt.method, err)
			assert.Equal(t, tt.code, e.Code, "%s.%s: %s", tt.service, tt.method, e.Text)
			assert.Equal(t, fmt.Sprintf("[%s][E%d]%s", addr, tt.code, tt.text), e.Text)
		}
		mustEcho(t, c, "after the errors")
		var rsp echopb.EchoResponse
		require.NoError(t, c.Call(context.Background(), "EchoService", "Echo", &echopb.EchoRequest{Message: proto.String("short")}, &rsp),
			"a service name without its package, as jprotobuf sends it")
		assert.Equal(t, "short", rsp.GetMessage())
	})
	t.Run("64 callers on one connection", func(t *testing.T) {
		c := newClient(addr)
		t.Cleanup(func() { c.Close() })
		var wg sync.WaitGroup
		for g := range 64 {
			wg.Go(func() {
				for i := range 200 {
					msg := fmt.Sprintf("caller %d call %d", g, i)
					got, err := echoCall(context.Background(), c, msg)
					if err != nil || got != msg {
						t.Errorf("%s: got %q, %v", msg, got, err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}
