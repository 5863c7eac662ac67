// Package client clashes by name with nothing in the host, but with the
// other package called client below.
package client

import "github.com/plugink/plugink/gen/testdata/ok/kind"

type greeter struct{}

func (greeter) Greet(who string) string { return "hi " + who }

// NewGreeter returns a greeter.
func NewGreeter() kind.Greeter { return greeter{} }
