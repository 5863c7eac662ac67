// Package echo is the kind that BenchmarkGlue carries through plugink's
// generated process glue: the same interface as transportbench's
// hand-written go-plugin pairs, with a constructor of the usual shape (a
// functional option), so that the generated code is what plugink gen
// writes for a real kind.
package echo

import "context"

// Echoer returns the message it is given.
type Echoer interface {
	Echo(ctx context.Context, msg []byte) ([]byte, error)
}

// Options configure an Echoer.
type Options struct {
	// Max is the longest message echoed; 0 for no limit.
	Max int
}

// Option sets an Option.
type Option func(*Options)

// WithMax sets Options.Max.
func WithMax(n int) Option { return func(o *Options) { o.Max = n } }

// Echoers binds the kind's plugins: its element type is the constructor
// type glue.Analyze reads.
var Echoers = map[string]func(opts ...Option) Echoer{}
