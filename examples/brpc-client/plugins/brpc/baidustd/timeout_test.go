package baidustd_test

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	a, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	b, err := l.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestFrameTimeoutIsPerFrame trickles a frame a byte every 20 ms: each
// byte comes well within the timeout, but the frame as a whole does not.
func TestFrameTimeoutIsPerFrame(t *testing.T) {
	peer, nc := tcpPair(t)
	d := baidustd.NewDecoder(nc, 0)
	d.SetFrameTimeout(300 * time.Millisecond)
	frame := baidustd.AppendFrame(nil, echoRequest(1), make([]byte, 100), nil)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for _, b := range frame {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := peer.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	var f baidustd.Frame
	err := d.Decode(&f)
	assert.ErrorIs(t, err, baidustd.ErrFrameTimeout)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.Regexp(t, `^baidu_std: frame timeout: frame not whole after 300ms \(\d+ of \d+ (header|body) bytes\)$`, err.Error())
	assert.Less(t, time.Since(start), 2*time.Second)
}

// TestFrameTimeoutSparesIdleStreams leaves the stream idle for longer than
// the timeout between frames, and sends frames in pieces that each come
// in time: every frame decodes.
func TestFrameTimeoutSparesIdleStreams(t *testing.T) {
	peer, nc := tcpPair(t)
	d := baidustd.NewDecoder(nc, 0)
	d.SetFrameTimeout(100 * time.Millisecond)
	frame := baidustd.AppendFrame(nil, echoRequest(7), []byte("payload"), nil)
	go func() {
		time.Sleep(250 * time.Millisecond) // idle
		peer.Write(frame[:5])
		time.Sleep(30 * time.Millisecond)
		peer.Write(append(frame[5:], frame[:20]...)) // the end of one, the start of the next
		time.Sleep(30 * time.Millisecond)
		peer.Write(frame[20:])
		time.Sleep(250 * time.Millisecond) // idle again
		peer.Write(frame)
	}()
	for range 3 {
		var f baidustd.Frame
		require.NoError(t, d.Decode(&f))
		assert.Equal(t, int64(7), f.Meta.CorrelationID)
	}
	baidustd.NewDecoder(nil, 0).SetFrameTimeout(time.Second) // no deadlines: nothing happens
}
