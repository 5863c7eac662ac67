// Package alphaclient lives in a directory called alpha: its name differs
// from its path's last element.
package alphaclient

import "github.com/plugink/plugink/gen/testdata/ok/kind"

type client struct{}

func (client) Name() string { return "alpha" }

// NewClient returns the alpha client.
func NewClient(...kind.Option) kind.Client { return client{} }

// NewWrong has the wrong type for the client kind.
func NewWrong() *int { return nil }

// Version is not a function.
const Version = "1"
