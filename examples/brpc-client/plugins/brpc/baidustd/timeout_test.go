package baidustd_test

import (
	"net"
	"os"
	"sync"
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

// TestFrameTimeoutIsPerFrame trickles a frame a byte every 20 ms, over
// TCP: each byte comes well within the timeout, but the frame as a whole
// (some 140 bytes, so about 3 s) does not. (A frame timeout that restarted
// with each byte would let it through.)
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
	var f baidustd.Frame
	err := d.Decode(&f)
	assert.ErrorIs(t, err, baidustd.ErrFrameTimeout)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.Regexp(t, `^baidu_std: frame timeout: frame not whole after 300ms \(\d+ of \d+ (header|body) bytes\)$`, err.Error())
}

// clockStream is a stream whose read deadlines run on a clock that the
// test moves forward (advance), so that any time may pass while the
// stream is idle and none while a frame arrives, however slow the
// machine. Read returns what the test sent, waiting for it, or fails with
// os.ErrDeadlineExceeded, as a net.Conn's Read does (before it returns any
// data), once the clock has passed the read deadline: time.Now plus what
// advance added since the deadline was set.
type clockStream struct {
	mu       sync.Mutex
	ahead    time.Duration // added by advance
	deadline time.Time
	aheadAt  time.Duration // ahead when the deadline was set
	data     []byte
	wake     chan struct{} // receives after a change, to a waiting Read
	taken    chan struct{} // receives when a Read has taken all of data
}

func newClockStream() *clockStream {
	return &clockStream{wake: make(chan struct{}, 1), taken: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (c *clockStream) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline, c.aheadAt = t, c.ahead
	return nil
}

func (c *clockStream) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if !c.deadline.IsZero() && !time.Now().Add(c.ahead-c.aheadAt).Before(c.deadline) {
			c.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		if len(c.data) > 0 {
			n := copy(p, c.data)
			c.data = c.data[n:]
			all := len(c.data) == 0
			c.mu.Unlock()
			if all {
				signal(c.taken)
			}
			return n, nil
		}
		c.mu.Unlock()
		<-c.wake
	}
}

// send makes b readable and waits until Reads have taken all of it.
func (c *clockStream) send(b []byte) {
	c.mu.Lock()
	c.data = append(c.data, b...)
	c.mu.Unlock()
	signal(c.wake)
	<-c.taken
}

// advance lets d pass for the read deadline set now, if any.
func (c *clockStream) advance(d time.Duration) {
	c.mu.Lock()
	c.ahead += d
	c.mu.Unlock()
	signal(c.wake)
}

// TestFrameTimeoutSparesIdleStreams leaves the stream idle for longer than
// the timeout before a frame and between frames, and sends frames in
// pieces, each read before the next is sent, that come in time: every
// frame decodes. The stream's clock moves only while it is idle, so that
// the frames come in time whatever the machine's load.
func TestFrameTimeoutSparesIdleStreams(t *testing.T) {
	st := newClockStream()
	d := baidustd.NewDecoder(st, 0)
	const timeout = time.Hour
	d.SetFrameTimeout(timeout)
	frame := baidustd.AppendFrame(nil, echoRequest(7), []byte("payload"), nil)
	go func() {
		st.advance(2 * timeout) // idle
		st.send(frame[:5])
		st.send(append(frame[5:], frame[:20]...)) // the end of one, the start of the next
		st.send(frame[20:])
		st.advance(2 * timeout) // idle again
		st.send(frame)
	}()
	for range 3 {
		var f baidustd.Frame
		require.NoError(t, d.Decode(&f))
		assert.Equal(t, int64(7), f.Meta.CorrelationID)
	}
	baidustd.NewDecoder(nil, 0).SetFrameTimeout(time.Second) // no deadlines: nothing happens
}

// TestClockStreamTimesOut checks the fake above: a deadline it is set
// passes when the clock is moved past it, even with data waiting.
func TestClockStreamTimesOut(t *testing.T) {
	st := newClockStream()
	require.NoError(t, st.SetReadDeadline(time.Now().Add(time.Hour)))
	st.advance(2 * time.Hour)
	st.data = []byte("x")
	_, err := st.Read(make([]byte, 1))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, st.SetReadDeadline(time.Time{}))
	n, err := st.Read(make([]byte, 1))
	assert.Equal(t, 1, n)
	assert.NoError(t, err)
}
