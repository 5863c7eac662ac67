package brpc_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/internal/proctest"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

// The attack below runs the client in a child process (this package's test
// binary, built without the race detector, started with childEnv set) and
// reads its peak resident memory when it exits.

const (
	// childEnv names the role the test binary plays as a child.
	childEnv = "PLUGINK_BRPC_ATTACK_CHILD"
	// childAddrEnv is the address of the server the child calls.
	childAddrEnv = "PLUGINK_BRPC_ATTACK_ADDR"
	mb           = 1 << 20
)

// bombResult is what the bombed client child reports on stdout.
type bombResult struct {
	BombErrors   map[string]int // kind of error -> count, of the calls answered with a bomb
	BombOK       int            // bomb calls that succeeded (must be none)
	NormalOK     int
	NormalFailed []string
}

// runBombedClient is the child: 16 callers each make 3 calls that the
// server answers with a gzip bomb, while another caller makes normal calls;
// then 10 more normal calls. It prints a bombResult.
func runBombedClient() int {
	c := newClient(os.Getenv(childAddrEnv))
	defer c.Close()
	var (
		res     = bombResult{BombErrors: map[string]int{}}
		mu      sync.Mutex
		bombing sync.WaitGroup
		done    atomic.Bool
		normal  sync.WaitGroup
	)
	normalCall := func() {
		msg, err := echoCall(context.Background(), c, "normal")
		mu.Lock()
		defer mu.Unlock()
		if err != nil || msg != "normal" {
			res.NormalFailed = append(res.NormalFailed, fmt.Sprint(err))
			return
		}
		res.NormalOK++
	}
	normal.Go(func() {
		for !done.Load() {
			normalCall()
		}
	})
	for range 16 {
		bombing.Go(func() {
			for range 3 {
				_, err := echoCall(context.Background(), c, "bomb")
				mu.Lock()
				switch {
				case err == nil:
					res.BombOK++
				case errors.Is(err, baidustd.ErrOvercrowded):
					res.BombErrors["overcrowded"]++
				case errors.Is(err, baidustd.ErrTooLarge):
					res.BombErrors["too large"]++
				default:
					res.BombErrors[err.Error()]++
				}
				mu.Unlock()
			}
		})
	}
	bombing.Wait()
	done.Store(true)
	normal.Wait()
	for range 10 {
		normalCall()
	}
	json.NewEncoder(os.Stdout).Encode(&res)
	return 0
}

// bombServer answers a request whose message is "bomb" with a gzipped
// response that expands past 64 MiB, and echoes any other.
func bombServer(t *testing.T) *scripted {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zeros := make([]byte, mb)
	for range 65 {
		w.Write(zeros)
	}
	w.Close()
	bomb := buf.Bytes()
	return startScripted(t, func(_ int, nc net.Conn, d *baidustd.Decoder) {
		for {
			var f baidustd.Frame
			if d.Decode(&f) != nil {
				return
			}
			var req echopb.EchoRequest
			proto.Unmarshal(f.Payload, &req)
			out := reply(t, &f)
			if req.GetMessage() == "bomb" {
				out = baidustd.AppendFrame(nil, &baidustd.Meta{Response: &baidustd.ResponseMeta{},
					CompressType: baidustd.CompressGzip, CorrelationID: f.Meta.CorrelationID}, bomb, nil)
			}
			if _, err := nc.Write(out); err != nil {
				return
			}
		}
	})
}

// TestGzipBombAnswers has a server answer 16 concurrent calls (3 each)
// with gzip bombs while normal calls go on, on one connection.
func TestGzipBombAnswers(t *testing.T) {
	bin := proctest.Build(t, ".", true)
	s := bombServer(t)
	p := proctest.Start(t, bin, []string{"-test.run", "^$"}, []string{childEnv + "=bombed-client", childAddrEnv + "=" + s.Addr().String()})
	var res bombResult
	require.NoError(t, json.Unmarshal([]byte(p.Line(t)), &res))
	peak := p.Wait(t)
	t.Logf("client peak RSS: %d MB; bomb answers: %v; normal calls: %d ok, %d failed",
		peak/mb, res.BombErrors, res.NormalOK, len(res.NormalFailed))
	assert.Zero(t, res.BombOK, "a bomb decoded")
	assert.Empty(t, res.NormalFailed, "normal calls during and after the attack")
	assert.Less(t, peak, int64(600*mb), "peak RSS")
}
