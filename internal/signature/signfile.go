package signature

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/plugink/plugink/internal/fsx"
)

// Signer is what a build signs plugin files with: a private key, read
// from its file.
type Signer struct {
	key PrivateKey
	// ID is the key's ID.
	ID string
}

// ReadSigner reads the private key file, if one is named (nil if not).
func ReadSigner(file string) (*Signer, error) {
	if file == "" {
		return nil, nil
	}
	key, err := ReadPrivateKey(file)
	if err != nil {
		return nil, hinted{fmt.Errorf("sign: %w", err), "-sign names a private key file that plugink keygen wrote (plugink keygen -o <name> writes <name>.key)"}
	}
	return &Signer{key: key, ID: key.Public().ID()}, nil
}

// SignFile keeps the signature file of file, just built (rebuilt) or
// kept, right: with s, it writes s's signature of file's bytes (sum is
// their SHA-256 in hex, as the build wrote or verified them), unless
// the .sig holds it already (Ed25519 signatures are deterministic, so
// that is the same bytes), replacing whatever else is there (missing,
// unreadable, another key's, other bytes'); without s, it removes the
// .sig of a rebuilt file, another file's signature, and leaves a kept
// file's alone. It says whether it wrote or removed the .sig.
func SignFile(file, sum string, s *Signer, rebuilt bool) (changed bool, err error) {
	sigFile := FileFor(file)
	if s == nil {
		if !rebuilt {
			return false, nil
		}
		err := os.Remove(sigFile)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	var raw [sha256.Size]byte
	if _, err := hex.Decode(raw[:], []byte(sum)); err != nil || len(sum) != 2*sha256.Size {
		return false, fmt.Errorf("sign %s: checksum %q is not a SHA-256 in hex", file, sum)
	}
	want := Sign(s.key, raw).Marshal()
	old, err := fsx.ReadFile(sigFile, MaxFile)
	switch {
	case err == nil && bytes.Equal(old, want):
		return false, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		// Unreadable (too large, not a regular file, no permission):
		// what WriteFiles would read first to compare goes.
		if err := os.Remove(sigFile); err != nil {
			return false, fmt.Errorf("sign %s: %w", file, err)
		}
	}
	if err := fsx.WriteFiles(fsx.File{Path: sigFile, Data: want}); err != nil {
		return false, fmt.Errorf("sign %s: %w", file, err)
	}
	return true, nil
}
