package brpcserver_test

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/plugink/plugink/examples/brpc-client/internal/brpcserver"
	"github.com/plugink/plugink/examples/brpc-client/internal/echotest"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// FuzzServer writes any bytes to a connection of a running server, then
// shuts down its side: the server answers only with response frames,
// closes the connection, and goes on serving others. Seeds (valid
// requests, bad frames, bombs): testdata/fuzz/FuzzServer.
func FuzzServer(f *testing.F) {
	srv := echotest.StartBRPC(f, echotest.Config{Options: []brpcserver.Option{
		brpcserver.MaxBodySize(1 << 16), brpcserver.FrameTimeout(time.Second), brpcserver.DecompressBudget(1 << 20),
	}})
	f.Add(echoFrame(1, "hello", baidustd.CompressNone, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		nc, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write(data) // the server may close first, on a bad frame
		nc.(*net.TCPConn).CloseWrite()
		frames, err := readAnswers(nc)
		if !closedByPeer(err) {
			t.Fatalf("the server did not close the connection cleanly: %v", err)
		}
		for _, fr := range frames {
			if fr.Meta.Response == nil || fr.Meta.Request != nil {
				t.Fatalf("the server sent a frame that is not a response: %+v", fr.Meta)
			}
		}
		if got := echoOnce(t, srv.Addr); got != "still serving" {
			t.Fatalf("the server stopped serving: %q", got)
		}
	})
}

// echoOnce makes one Echo call on a new raw connection and returns the
// answer's payload, as text, or the error.
func echoOnce(t *testing.T, addr string) string {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err.Error()
	}
	defer nc.Close()
	if _, err := nc.Write(echoFrame(1, "still serving", baidustd.CompressNone, nil)); err != nil {
		return err.Error()
	}
	frames := readN(t, nc, 1)
	payload := frames[0].Payload
	if i := bytes.Index(payload, []byte("still serving")); i >= 0 {
		return string(payload[i:])
	}
	return string(payload)
}
