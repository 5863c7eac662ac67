// Package client is a second package named client.
package client

import "github.com/plugink/plugink/gen/testdata/ok/kind"

type greeter struct{}

func (greeter) Greet(who string) string { return "hello " + who }

// NewGreeter returns a greeter.
func NewGreeter() kind.Greeter { return greeter{} }
