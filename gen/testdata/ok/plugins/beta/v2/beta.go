// Package beta is a major-version path (/v2).
package beta

import "github.com/plugink/plugink/gen/testdata/ok/kind"

type client struct{}

func (client) Name() string { return "beta" }

// New returns the beta client.
func New(...kind.Option) kind.Client { return client{} }
