package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/internal/brpcserver"
	"github.com/plugink/plugink/examples/brpc-client/internal/proctest"
	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

// The attacks below run against echo-server in a child process, built
// without the race detector, and read its peak resident memory when it
// exits.

const mb = 1 << 20

// child is echo-server running in a child process.
type child struct {
	*proctest.Proc
	brpc string
	c    client.Client
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	bin := proctest.Build(t, ".", false)
	p := proctest.Start(t, bin, append([]string{"-grpc", "127.0.0.1:0", "-brpc", "127.0.0.1:0"}, args...), nil)
	p.Line(t) // grpc ADDR
	name, addr, _ := strings.Cut(p.Line(t), " ")
	require.Equal(t, "brpc", name)
	c := brpc.NewClient(client.Address(addr), client.Timeout(time.Minute)) // normal calls must succeed, however loaded the machine
	t.Cleanup(func() { c.Close() })
	return &child{Proc: p, brpc: addr, c: c}
}

// mustEcho checks that a normal call succeeds.
func (ch *child) mustEcho(t *testing.T, when string) {
	t.Helper()
	var rsp echopb.EchoResponse
	err := ch.c.Call(context.Background(), "example.EchoService", "Echo", &echopb.EchoRequest{Message: proto.String(when)}, &rsp)
	require.NoError(t, err, "a normal call %s", when)
	require.Equal(t, when, rsp.GetMessage())
}

// halfFrame is a frame header claiming a 64 MiB body, and one byte of it.
func halfFrame() []byte {
	b := []byte(baidustd.Magic)
	b = binary.BigEndian.AppendUint32(b, baidustd.DefaultMaxBodySize)
	b = binary.BigEndian.AppendUint32(b, 16)
	return append(b, 0x0a)
}

// closedByPeer reports whether err is how a read ends when the peer has
// closed the connection: a clean end (EOF), or a reset (ECONNRESET, or
// EPIPE when it follows the FIN), which a system may send instead.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// TestHalfFrameConnections opens 3,000 connections that each send 13 bytes
// of a frame claiming a 64 MiB body, twice, while normal calls go on: the
// server holds little for each, and closes them all once its frame timeout
// (5 s) has passed, before its default frame timeout (10 s) would have.
func TestHalfFrameConnections(t *testing.T) {
	const timeout = 5 * time.Second
	require.Equal(t, 2*timeout, brpcserver.DefaultFrameTimeout)
	ch := startChild(t, "-frame-timeout", timeout.String())
	for round := range 2 {
		conns := make([]net.Conn, 0, 3000)
		sent := make([]time.Time, 0, cap(conns))
		for range cap(conns) {
			nc, err := net.Dial("tcp", ch.brpc)
			require.NoError(t, err)
			conns = append(conns, nc)
			sent = append(sent, time.Now()) // the server cannot see the frame before
			_, err = nc.Write(halfFrame())
			require.NoError(t, err)
		}
		ch.mustEcho(t, fmt.Sprintf("during round %d", round+1))
		for i, nc := range conns {
			// Closed within the default frame timeout of the frame's start,
			// which is when the server would close it had it ignored
			// -frame-timeout.
			nc.SetReadDeadline(sent[i].Add(brpcserver.DefaultFrameTimeout))
			_, err := nc.Read(make([]byte, 1))
			require.True(t, closedByPeer(err), "the server closes a half-sent frame's connection after its frame timeout: %v", err)
			nc.Close()
		}
	}
	ch.mustEcho(t, "after the attack")
	peak := ch.Stop(t)
	t.Logf("echo-server peak RSS: %d MB", peak/mb)
	assert.Less(t, peak, int64(300*mb), "peak RSS")
}

// gzipBomb returns a gzip stream of n zero bytes.
func gzipBomb(t *testing.T, n int) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zeros := make([]byte, mb)
	for n > 0 {
		k := min(n, len(zeros))
		_, err := w.Write(zeros[:k])
		require.NoError(t, err)
		n -= k
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// TestOutOfFileDescriptors leaves the server 64 file descriptors and opens
// 80 connections: it cannot accept them all, and must not exit over it;
// once they close, it serves again, and it said so in a few log lines.
func TestOutOfFileDescriptors(t *testing.T) {
	ch := startChild(t)
	ch.mustEcho(t, "before the attack")
	began := time.Now()
	require.NoError(t, ch.SetNoFile(64))
	conns := make([]net.Conn, 0, 80)
	for range cap(conns) {
		nc, err := net.Dial("tcp", ch.brpc)
		require.NoError(t, err)
		conns = append(conns, nc)
	}
	// The server runs out, and says so; it then pauses (5 ms, doubling)
	// and tries again while the connections stay open, and says so again a
	// second later, counting the lines it left out meanwhile.
	ch.WaitStderr(t, "too many open files")
	ch.WaitStderr(t, "more like it)")
	require.True(t, ch.Alive(), "echo-server exited:\n%s", ch.Stderr())
	for _, nc := range conns {
		nc.Close()
	}
	for { // until the server serves again (its pause is 1 s at most)
		if _, err := echoOnce(ch.c); err == nil {
			break
		}
		require.True(t, ch.Alive(), "echo-server exited:\n%s", ch.Stderr())
		time.Sleep(100 * time.Millisecond)
	}
	ch.mustEcho(t, "after the attack")
	logs := ch.Stderr()
	t.Logf("echo-server's log:\n%s", logs)
	assert.Contains(t, logs, "too many open files")
	lines, most := strings.Count(logs, "accept:"), 1+int(time.Since(began)/time.Second)
	assert.LessOrEqual(t, lines, most, "one line a second at most")
}

// echoOnce makes one normal call.
func echoOnce(c client.Client) (string, error) {
	var rsp echopb.EchoResponse
	err := c.Call(context.Background(), "example.EchoService", "Echo", &echopb.EchoRequest{Message: proto.String("again")}, &rsp)
	return rsp.GetMessage(), err
}

// TestGzipBombs sends 48 gzipped requests that each expand past the 64 MiB
// limit, in one write on one connection, and reads the 48 answers.
func TestGzipBombs(t *testing.T) {
	ch := startChild(t)
	ch.mustEcho(t, "before the attack")
	bomb := gzipBomb(t, baidustd.DefaultMaxBodySize+mb)
	var batch []byte
	for i := range 48 {
		batch = baidustd.AppendFrame(batch, &baidustd.Meta{
			Request:       &baidustd.RequestMeta{ServiceName: "example.EchoService", MethodName: "Echo"},
			CompressType:  baidustd.CompressGzip,
			CorrelationID: int64(i),
		}, bomb, nil)
	}
	nc, err := net.Dial("tcp", ch.brpc)
	require.NoError(t, err)
	defer nc.Close()
	_, err = nc.Write(batch)
	require.NoError(t, err)
	t.Logf("sent %d bytes", len(batch))
	ch.mustEcho(t, "during the attack")

	nc.SetReadDeadline(time.Now().Add(2 * time.Minute))
	d := baidustd.NewDecoder(nc, 0)
	codes := map[int32]int{}
	for range 48 {
		var f baidustd.Frame
		require.NoError(t, d.Decode(&f))
		require.NotNil(t, f.Meta.Response)
		codes[f.Meta.Response.ErrorCode]++
	}
	t.Logf("answers by error code: %v", codes)
	ch.mustEcho(t, "after the attack")
	peak := ch.Stop(t)
	t.Logf("echo-server peak RSS: %d MB", peak/mb)
	assert.Less(t, peak, int64(600*mb), "peak RSS")
}
