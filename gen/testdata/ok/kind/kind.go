// Package kind declares two kinds for gen's tests: "client", bound to a
// plain default map, and "greeter", declared as a runtime.Kind.
package kind

import "github.com/plugink/plugink/runtime"

// Option configures a client.
type Option func(*Options)

// Options are a client's options.
type Options struct{ Addr string }

// Client is the client kind's interface.
type Client interface{ Name() string }

// DefaultClients is the client kind's default map.
var DefaultClients = map[string]func(...Option) Client{}

// Greeter is the greeter kind's interface.
type Greeter interface{ Greet(string) string }

// Greeters is the greeter kind.
var Greeters = runtime.MustDeclare("greeter", map[string]func() Greeter{})

// NotAKind is a variable of the wrong type for a kind.
var NotAKind = 42

// Name is a string type of its own.
type Name string

// NamedKeys is keyed by a type other than string, which runtime.Declare
// (map[string]F) does not take.
var NamedKeys = map[Name]func() Client{}
