package loader

import (
	"github.com/plugink/plugink/internal/signature"
	"github.com/plugink/plugink/internal/sums"
)

// ErrSignature reports a file that no key pinned with [WithTrustedKeys]
// signed, or a pinned key that does not parse.
var ErrSignature = signature.ErrSignature

// WithTrustedKeys pins public keys ("plugink-ed25519 <base64>", the line
// of a .pub file from plugink keygen): the Loader loads only files one of
// them signed. Before anything else reads a file it reads <file>.sig
// (else the one beside a link's target), hashes the file once and
// verifies; else [ErrSignature], naming the file and keys. An upgrade
// verifies its copy, the bytes it opens. A signed file is verified, as a
// checksummed one is: no structure check, no trial; a plugink.sum that
// lists it must agree (none need, even [WithSumsRequired]). The file is
// read, then mapped by name, as with checksums. A key that does not parse
// fails every load.
func WithTrustedKeys(keys ...string) Option { return func(l *Loader) { l.pinned.Add(keys...) } }

// verifySignature verifies, if the Loader pins keys, the signature of the
// file named path and resolved to real, and returns the file's SHA-256
// (hex) that it covers; "" if no key is pinned.
func (l *Loader) verifySignature(path, real string) (string, error) {
	sig, err := l.pinned.ReadFor(path, real)
	if err != nil || sig == nil {
		return "", err
	}
	sum, err := sums.File(real)
	if err == nil {
		err = l.pinned.Check(sig, sum)
	}
	return sum, err
}
