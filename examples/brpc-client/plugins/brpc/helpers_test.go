package brpc_test

import (
	"context"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/internal/echotest"
	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "bombed-client" {
		os.Exit(runBombedClient())
	}
	goleak.VerifyTestMain(m)
}

// noLeaks fails t if goroutines started during the test outlive it and its
// cleanups. Call it first, so that its cleanup runs last.
func noLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// startEcho serves the echo service over baidu_std with the real server.
func startEcho(t *testing.T) *echotest.BRPC {
	t.Helper()
	return echotest.StartBRPC(t, echotest.Config{})
}

// startGate serves the echo and test.Gate services with the real server
// and returns a client of it, made with opts. The gate opens when the test
// ends, before the client and the server close (calls to Stall past their
// deadline wait for it).
func startGate(t *testing.T, opts ...client.Option) (*echotest.Gate, *echotest.BRPC, client.Client) {
	t.Helper()
	gate := echotest.NewGate(t)
	srv := echotest.StartBRPC(t, echotest.Config{Register: gate.Register})
	c := newClient(srv.Addr, opts...)
	t.Cleanup(func() { c.Close() })
	t.Cleanup(gate.Open)
	return gate, srv, c
}

// stall calls test.Gate/Stall with msg: the server does not answer before
// the gate opens, whatever the call's deadline.
func stall(ctx context.Context, c client.Client, msg string) error {
	var rsp echopb.EchoResponse
	return c.Call(ctx, "test.Gate", "Stall", &echopb.EchoRequest{Message: proto.String(msg)}, &rsp)
}

// waitReading waits until a call of the package reads the connection: a
// goroutine blocked in a read, under (*conn).waitFrame, waiting for the
// next frame to begin. It fails t if none does within a minute.
func waitReading(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(time.Millisecond) {
		n := runtime.Stack(buf, true)
		for g := range strings.SplitSeq(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "[IO wait") && strings.Contains(g, "brpc.(*conn).waitFrame(") {
				return
			}
		}
	}
	t.Fatal("no call came to wait in its read")
}

// scripted is a test server that hands each connection to a script, with
// the connection's index (0 for the first). It reads frames with the real
// decoder and writes whatever the script wants, good or bad.
type scripted struct {
	*echotest.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func startScripted(t *testing.T, script func(i int, nc net.Conn, d *baidustd.Decoder)) *scripted {
	t.Helper()
	s := &scripted{Listener: echotest.Listen(t)}
	s.wg.Go(func() {
		for i := 0; ; i++ {
			nc, err := s.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, nc)
			s.mu.Unlock()
			s.wg.Go(func() {
				defer nc.Close()
				script(i, nc, baidustd.NewDecoder(nc, 0))
			})
		}
	})
	t.Cleanup(func() {
		s.Close()
		s.mu.Lock()
		for _, nc := range s.conns {
			nc.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// reply returns the echo service's response frame to the request f.
func reply(t *testing.T, f *baidustd.Frame) []byte {
	payload, _, err := baidustd.Payload(f, 0, nil)
	if err != nil {
		t.Errorf("scripted server: %v", err)
		return nil
	}
	var req echopb.EchoRequest
	if err := proto.Unmarshal(payload, &req); err != nil {
		t.Errorf("scripted server: %v", err)
	}
	out, _ := proto.Marshal(&echopb.EchoResponse{Message: req.Message})
	return baidustd.AppendFrame(nil, &baidustd.Meta{
		Response:      &baidustd.ResponseMeta{},
		CorrelationID: f.Meta.CorrelationID,
	}, out, f.Attachment)
}

// serveEcho answers every request on nc, in order, as the echo service.
func serveEcho(t *testing.T, nc net.Conn, d *baidustd.Decoder) {
	for {
		var f baidustd.Frame
		if d.Decode(&f) != nil {
			return
		}
		if _, err := nc.Write(reply(t, &f)); err != nil {
			return
		}
	}
}

// newClient returns a client of addr whose calls time out after a minute,
// so that none that should succeed fails on a loaded machine, made with
// opts besides.
func newClient(addr string, opts ...client.Option) client.Client {
	return brpc.NewClient(append([]client.Option{client.Address(addr), client.Timeout(time.Minute)}, opts...)...)
}

// echoCall calls Echo with msg and returns the answer's message.
func echoCall(ctx context.Context, c client.Client, msg string, opts ...client.CallOption) (string, error) {
	var rsp echopb.EchoResponse
	err := c.Call(ctx, "example.EchoService", "Echo", &echopb.EchoRequest{Message: proto.String(msg)}, &rsp, opts...)
	return rsp.GetMessage(), err
}

// mustEcho checks that an Echo call with msg succeeds.
func mustEcho(t *testing.T, c client.Client, msg string) {
	t.Helper()
	got, err := echoCall(context.Background(), c, msg)
	require.NoError(t, err)
	require.Equal(t, msg, got)
}
