package build

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/signature"
	"github.com/plugink/plugink/runtime"
)

// KeyFiles is what [GenerateKey] wrote.
type KeyFiles struct {
	// Private is the private key file (NAME.key, mode 0600): keep it
	// secret, out of version control; plugink build -sign reads it.
	Private string
	// Public is the public key file (NAME.pub): one line, PublicKey.
	Public string
	// PublicKey is the public key's text form, "plugink-ed25519
	// <base64>": what a manifest's dynamic.trusted_keys lists.
	PublicKey string
	// KeyID is the key's ID, as messages and signature files name it.
	KeyID string
}

// GenerateKey makes a new Ed25519 key pair for signing plugins and writes
// it, both files or neither, to name+".key" (the private key, mode 0600)
// and name+".pub" (its public key, one line). It refuses to overwrite
// either file: a key whose public half a host pins cannot be made again.
func GenerateKey(name string) (*KeyFiles, error) {
	kf := &KeyFiles{Private: name + ".key", Public: name + ".pub"}
	for _, f := range []string{kf.Private, kf.Public} {
		if _, err := os.Lstat(f); err == nil {
			return nil, fmt.Errorf("%s exists: a key is never overwritten", f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	key, err := signature.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	kf.PublicKey, kf.KeyID = key.Public().String(), key.Public().ID()
	err = fsx.WriteFiles(
		fsx.File{Path: kf.Private, Data: key.Marshal(), Mode: 0o600},
		fsx.File{Path: kf.Public, Data: []byte(kf.PublicKey + "\n")},
	)
	if err != nil {
		return nil, err
	}
	return kf, nil
}

// signing is what a build signs with: the private key of Options.Sign.
type signing struct {
	key signature.PrivateKey
	id  string
}

// readSigning reads the private key file, if one is named.
func readSigning(file string) (*signing, error) {
	if file == "" {
		return nil, nil
	}
	key, err := signature.ReadPrivateKey(file)
	if err != nil {
		return nil, runtime.WithHint(fmt.Errorf("sign: %w", err), "-sign names a private key file that plugink keygen wrote (plugink keygen -o <name> writes <name>.key)")
	}
	return &signing{key: key, id: key.Public().ID()}, nil
}

// signFile keeps the signature file of file, just built (rebuilt) or
// kept, right: with s, it writes s's signature of file's bytes, unless
// the .sig holds it already (Ed25519 signatures are deterministic, so
// that is the same bytes), replacing whatever else is there (missing,
// unreadable, another key's, other bytes'); without s, it removes the
// .sig of a rebuilt file, another file's signature, and leaves a kept
// file's alone. It says whether it wrote or removed the .sig.
func signFile(file string, s *signing, rebuilt bool) (changed bool, err error) {
	sigFile := signature.FileFor(file)
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
	sum, err := fileSHA256(file)
	if err != nil {
		return false, err
	}
	want := signature.Sign(s.key, sum).Marshal()
	old, err := fsx.ReadFile(sigFile, signature.MaxFile)
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

// fileSHA256 returns the SHA-256 of the file at path.
func fileSHA256(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, _, err := fsx.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, fmt.Errorf("read %s: %w", path, err)
	}
	h.Sum(sum[:0])
	return sum, nil
}
