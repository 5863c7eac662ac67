// Package echo is a test plugin: a client that echoes requests.
package echo

import "github.com/plugink/plugink/loader/internal/testkind"

type client struct{ testkind.Options }

func (c *client) Call(req string) (string, error) { return c.Prefix + "echo: " + req, nil }

// NewClient is the constructor: a testkind.NewFunc.
func NewClient(opts ...testkind.Option) testkind.Client {
	return &client{testkind.Apply(opts...)}
}

// NewWrong has another signature than the kind's constructor type.
func NewWrong(prefix string) string { return prefix }
