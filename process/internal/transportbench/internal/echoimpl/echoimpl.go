// Package echoimpl is the plugin of kind echo that the generated plugin
// main (package echomain) serves: it echoes like transportbench's
// hand-written echoServer, deadline probe included.
package echoimpl

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/plugink/plugink/process/internal/transportbench/internal/echo"
)

// DeadlineProbe is the one message the Echoer does not echo: it answers
// with the deadline of the context it was called with, in RFC 3339 with
// nanoseconds, or "none".
var DeadlineProbe = []byte("\x00deadline?")

type impl struct{ o echo.Options }

// New returns an Echoer: the plugin's constructor.
func New(opts ...echo.Option) echo.Echoer {
	var o echo.Options
	for _, f := range opts {
		f(&o)
	}
	return &impl{o: o}
}

func (e *impl) Echo(ctx context.Context, msg []byte) ([]byte, error) {
	if bytes.Equal(msg, DeadlineProbe) {
		d, ok := ctx.Deadline()
		if !ok {
			return []byte("none"), nil
		}
		return []byte(d.Format(time.RFC3339Nano)), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if e.o.Max > 0 && len(msg) > e.o.Max {
		return nil, fmt.Errorf("echo: a message of %d bytes, over the limit of %d", len(msg), e.o.Max)
	}
	return msg, nil
}
