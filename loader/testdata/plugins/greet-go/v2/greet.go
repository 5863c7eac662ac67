// Package greet is a test plugin whose package name differs from its
// directory (greet-go) and whose import path ends in a major version (/v2).
package greet

import "github.com/plugink/plugink/loader/internal/testkind"

type client struct{ testkind.Options }

func (c *client) Call(req string) (string, error) { return c.Prefix + "hello, " + req, nil }

// NewClient is the constructor: a testkind.NewFunc.
func NewClient(opts ...testkind.Option) testkind.Client {
	return &client{testkind.Apply(opts...)}
}
