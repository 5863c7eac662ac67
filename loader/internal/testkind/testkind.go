// Package testkind is the kind of plugin the loader's tests declare and
// their plugins implement: a client, shaped like go-micro's, with options.
// The test binary and every test plugin import it, so its types are shared.
package testkind

import "fmt"

// Options configure a Client.
type Options struct {
	// Prefix is prepended to replies.
	Prefix string
}

// Option sets one of the Options.
type Option func(*Options)

// WithPrefix sets Options.Prefix.
func WithPrefix(p string) Option { return func(o *Options) { o.Prefix = p } }

// Apply returns the Options opts set.
func Apply(opts ...Option) Options {
	var o Options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Client is the kind's interface.
type Client interface {
	// Call answers a request.
	Call(req string) (string, error)
}

// NewFunc is the kind's constructor type.
type NewFunc = func(...Option) Client

// Static is a Client compiled into the test binary, for benchmarks that
// compare a lookup through a kind with a direct call.
type Static struct{ Options }

// Call implements Client.
func (s *Static) Call(req string) (string, error) { return fmt.Sprint(s.Prefix, req), nil }

// NewStatic is a NewFunc that returns a *Static.
func NewStatic(opts ...Option) Client { return &Static{Apply(opts...)} }
