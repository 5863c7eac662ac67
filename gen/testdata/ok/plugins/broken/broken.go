// Package broken does not compile: gen must report the compiler's message
// at the manifest entry that names it.
package broken

import "github.com/plugink/plugink/gen/testdata/ok/kind"

// NewClient refers to a name that does not exist.
func NewClient(...kind.Option) kind.Client { return undefinedClient }
