// Package signature signs plugin files and verifies their signatures with
// Ed25519 keys: what proves that a file's bytes come from the holder of a
// key that a host pins, where a plugink.sum (which whoever writes the
// plugin directory can rewrite) proves only that they were not damaged by
// accident. It imports only the standard library and internal/fsx, so
// that a dynamic host links nothing else.
//
// Three formats, each one line of text (the private key, two) that a
// parser reads strictly, one spelling per value:
//
//   - a public key: "plugink-ed25519 <base64 of the 32-byte key>", what
//     a .pub file holds and a manifest's dynamic.trusted_keys lists;
//   - a private key file (.key, mode 0600): the line
//     "plugink-ed25519-private-key-v1", then the base64 of the key's
//     32-byte seed;
//   - a signature file, <plugin file>.sig:
//     "plugink-signature-v1 <key ID> <base64 of the 64-byte signature>".
//
// Base64 is the standard alphabet, padded (RFC 4648, section 4). A key ID
// is the first 16 hex digits of the SHA-256 of the public key's 32 bytes.
// What a key signs is not the file's SHA-256 alone but
// "plugink plugin signature v1\x00" followed by it: a signature made for
// something else never passes for a plugin's.
//
// A build signs the file it wrote:
//
//	key, err := signature.ReadPrivateKey("release.key")
//	sum, err := ... // the file's SHA-256
//	err = fsx.WriteFiles(fsx.File{Path: signature.FileFor(file), Data: signature.Sign(key, sum).Marshal()})
//
// and a host verifies it against the keys it pins:
//
//	sig, err := signature.ReadSignature(signature.FileFor(file))
//	key, err := signature.Verify(pinned, sum, sig)
package signature

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/plugink/plugink/internal/fsx"
)

// The text forms' fixed parts.
const (
	// PublicKeyPrefix starts a public key's text form; the key's base64
	// follows.
	PublicKeyPrefix = "plugink-ed25519 "
	// PrivateKeyHeader is the first line of a private key file.
	PrivateKeyHeader = "plugink-ed25519-private-key-v1"
	// SignaturePrefix starts a signature file's line; the key ID and the
	// signature's base64 follow, each after a space.
	SignaturePrefix = "plugink-signature-v1 "
	// Ext is what a plugin file's name gets to name its signature file.
	Ext = ".sig"
	// MaxFile bounds the size of a key or signature file a reader reads.
	MaxFile = 4 << 10
)

// message starts what a key signs: then comes the file's SHA-256.
const message = "plugink plugin signature v1\x00"

// The forms the parsers want, for their errors.
const (
	publicForm    = `"plugink-ed25519 <base64 of a 32-byte Ed25519 key>" (the line of a .pub file)`
	signatureForm = `"plugink-signature-v1 <key ID> <base64 of a 64-byte Ed25519 signature>"`
)

// ErrSignature is wrapped by every error of [Verify]: a file signed by a
// key that is not pinned, or whose signature does not verify.
var ErrSignature = errors.New("signature check failed")

// PublicKey is an Ed25519 public key.
type PublicKey struct {
	key ed25519.PublicKey
}

// ParsePublicKey parses a public key's text form, exactly:
// "plugink-ed25519 " and the standard, padded base64 of 32 bytes, nothing
// before or after (no newline). Its errors never repeat the text, which
// may be a secret pasted by mistake.
func ParsePublicKey(text string) (PublicKey, error) {
	fail := func(format string, args ...any) (PublicKey, error) {
		return PublicKey{}, fmt.Errorf("public key: "+format, args...)
	}
	if strings.HasPrefix(text, PrivateKeyHeader) {
		return fail("this is a private key (a .key file), to keep secret; want the public key, %s", publicForm)
	}
	rest, ok := strings.CutPrefix(text, PublicKeyPrefix)
	if !ok {
		return fail("want %s", publicForm)
	}
	key, err := decode(rest, ed25519.PublicKeySize, "an Ed25519 public key")
	if err != nil {
		return fail("%w", err)
	}
	return PublicKey{key: key}, nil
}

// decode decodes s, the standard padded base64 of size bytes (what says
// what they are), in its one canonical spelling.
func decode(s string, size int, what string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("not standard base64: %w", err)
	case len(b) != size:
		return nil, fmt.Errorf("decodes to %d bytes; %s has %d", len(b), what, size)
	case base64.StdEncoding.EncodeToString(b) != s:
		// The decoder skips line breaks: one spelling per value.
		return nil, errors.New("not standard base64: not in its canonical form (line breaks or spaces inside)")
	}
	return b, nil
}

// String returns k's text form: "plugink-ed25519 <base64>".
func (k PublicKey) String() string {
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(k.key)
}

// ID returns k's key ID: the first 16 hex digits of the SHA-256 of its 32
// bytes, what messages and signature files name it by.
func (k PublicKey) ID() string {
	sum := sha256.Sum256(k.key)
	return hex.EncodeToString(sum[:8])
}

// PrivateKey is an Ed25519 private key.
type PrivateKey struct {
	key ed25519.PrivateKey
}

// GenerateKey returns a new key, its seed read from rand (crypto/rand's
// Reader if nil).
func GenerateKey(rand io.Reader) (PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("generate a key: %w", err)
	}
	return PrivateKey{key: key}, nil
}

// Public returns k's public key.
func (k PrivateKey) Public() PublicKey {
	return PublicKey{key: k.key.Public().(ed25519.PublicKey)}
}

// Marshal returns k's private key file: the header line, then the base64
// of its seed, each ending in a newline.
func (k PrivateKey) Marshal() []byte {
	return []byte(PrivateKeyHeader + "\n" + base64.StdEncoding.EncodeToString(k.key.Seed()) + "\n")
}

// ParsePrivateKey parses a private key file: the header line
// "plugink-ed25519-private-key-v1", then the standard, padded base64 of
// the 32-byte seed; the final newline may be missing, nothing else may
// be there. Its errors never repeat the file's content.
func ParsePrivateKey(data []byte) (PrivateKey, error) {
	fail := func(format string, args ...any) (PrivateKey, error) {
		return PrivateKey{}, fmt.Errorf("private key: "+format, args...)
	}
	s := strings.TrimSuffix(string(data), "\n")
	lines := strings.Split(s, "\n")
	if lines[0] != PrivateKeyHeader {
		if strings.HasPrefix(s, PublicKeyPrefix) {
			return fail("this is a public key (a .pub file); want the private key (a .key file that plugink keygen wrote)")
		}
		return fail("want the header line %q (a .key file that plugink keygen wrote)", PrivateKeyHeader)
	}
	if len(lines) != 2 {
		return fail("want 2 lines, %q and the base64 of the key's 32-byte seed; found %d", PrivateKeyHeader, len(lines))
	}
	seed, err := decode(lines[1], ed25519.SeedSize, "an Ed25519 seed")
	if err != nil {
		return fail("line 2: %w", err)
	}
	return PrivateKey{key: ed25519.NewKeyFromSeed(seed)}, nil
}

// ReadPrivateKey reads the private key file at path (at most [MaxFile]
// bytes, a regular file). Its errors name path.
func ReadPrivateKey(path string) (PrivateKey, error) {
	data, err := fsx.ReadFile(path, MaxFile)
	if err != nil {
		return PrivateKey{}, err
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// Signature is a plugin file's signature: the key that made it, by ID,
// and the Ed25519 signature.
type Signature struct {
	// KeyID is the signing key's ID ([PublicKey.ID]).
	KeyID string
	// Sig is the 64-byte Ed25519 signature.
	Sig []byte
}

// signed returns what a key signs for a file whose SHA-256 is sum.
func signed(sum [sha256.Size]byte) []byte {
	return append([]byte(message), sum[:]...)
}

// Sign signs a file whose SHA-256 is sum with k.
func Sign(k PrivateKey, sum [sha256.Size]byte) Signature {
	return Signature{KeyID: k.Public().ID(), Sig: ed25519.Sign(k.key, signed(sum))}
}

// Verify checks that sig is a signature, by one of the pinned keys, of a
// file whose SHA-256 is sum, and returns that key. Its errors wrap
// [ErrSignature] and name the key by ID.
func Verify(pinned []PublicKey, sum [sha256.Size]byte, sig Signature) (PublicKey, error) {
	found := false
	for _, k := range pinned {
		if k.ID() != sig.KeyID {
			continue
		}
		found = true
		if ed25519.Verify(k.key, signed(sum), sig.Sig) {
			return k, nil
		}
	}
	if found {
		return PublicKey{}, fmt.Errorf("%w: the signature by key %s does not verify: the file is not the one the key signed", ErrSignature, sig.KeyID)
	}
	return PublicKey{}, fmt.Errorf("%w: signed by key %s, which is not pinned (%s)", ErrSignature, sig.KeyID, IDs(pinned))
}

// IDs lists the keys' IDs for a message: "pinned: a, b", or "no key is".
func IDs(keys []PublicKey) string {
	if len(keys) == 0 {
		return "no key is"
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID()
	}
	return "pinned: " + strings.Join(ids, ", ")
}

// Marshal returns s's signature file: one line,
// "plugink-signature-v1 <key ID> <base64 of the signature>\n".
func (s Signature) Marshal() []byte {
	return []byte(SignaturePrefix + s.KeyID + " " + base64.StdEncoding.EncodeToString(s.Sig) + "\n")
}

// ParseSignature parses a signature file: one line,
// "plugink-signature-v1 <key ID> <base64 of the 64-byte signature>", one
// space between fields, the final newline optional, nothing else.
func ParseSignature(data []byte) (Signature, error) {
	s := strings.TrimSuffix(string(data), "\n")
	fields := strings.Split(s, " ")
	if len(fields) != 3 || fields[0]+" " != SignaturePrefix || strings.Contains(s, "\n") {
		return Signature{}, fmt.Errorf("malformed signature: want one line %s", signatureForm)
	}
	if !isKeyID(fields[1]) {
		return Signature{}, errors.New("malformed signature: the key ID is not 16 lower-case hex digits")
	}
	sig, err := decode(fields[2], ed25519.SignatureSize, "an Ed25519 signature")
	if err != nil {
		return Signature{}, fmt.Errorf("malformed signature: %w", err)
	}
	return Signature{KeyID: fields[1], Sig: sig}, nil
}

// isKeyID reports whether s is a key ID: 16 lower-case hex digits.
func isKeyID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// FileFor returns the signature file of the plugin file at path:
// path + ".sig".
func FileFor(path string) string { return path + Ext }

// ReadSignature reads and parses the signature file at path (at most
// [MaxFile] bytes, a regular file). A missing file is an error wrapping
// fs.ErrNotExist; every error names path.
func ReadSignature(path string) (Signature, error) {
	data, err := fsx.ReadFile(path, MaxFile)
	if err != nil {
		return Signature{}, err
	}
	s, err := ParseSignature(data)
	if err != nil {
		return Signature{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Pinned is the keys a program pins: it loads only plugin files one of
// them signed. The zero value pins none and requires nothing.
type Pinned struct {
	keys []PublicKey
	err  error // the first key that did not parse
}

// Add pins the keys in their text forms ([ParsePublicKey]). The first key
// that does not parse is kept as an error, which every later use returns.
func (p *Pinned) Add(texts ...string) {
	for i, text := range texts {
		k, err := ParsePublicKey(text)
		if err != nil && p.err == nil {
			p.err = fmt.Errorf("%w: trusted key %d of %d: %w", ErrSignature, i+1, len(texts), err)
		}
		if err == nil {
			p.keys = append(p.keys, k)
		}
	}
}

// Active reports whether p requires signatures: a key was added to it,
// valid or not.
func (p *Pinned) Active() bool { return len(p.keys) > 0 || p.err != nil }

// IDs lists p's keys by ID for a message: "pinned: a, b".
func (p *Pinned) IDs() string { return IDs(p.keys) }

// Err returns the error of the keys added that did not parse, or nil.
func (p *Pinned) Err() error { return p.err }

// ReadFor reads the signature of the plugin file named path and resolved
// to real (symbolic links followed): path's signature file, else real's.
// It returns nil if p is not active; an error wrapping [ErrSignature]
// that names the signature file if none is there, or it does not parse,
// with a hint (an ErrorHint method) that says how to sign the file.
func (p *Pinned) ReadFor(path, real string) (*Signature, error) {
	if !p.Active() {
		return nil, nil
	}
	if p.err != nil {
		return nil, p.err
	}
	file := FileFor(path)
	sig, err := ReadSignature(file)
	if abs, aerr := filepath.Abs(path); errors.Is(err, fs.ErrNotExist) && aerr == nil && abs != real {
		sig, err = ReadSignature(FileFor(real)) // beside the file a link leads to
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = fmt.Errorf("%w: no signature: %s does not exist, and this program loads only files that a key it pins signed (%s)", ErrSignature, file, p.IDs())
	case err != nil:
		err = fmt.Errorf("%w: %w", ErrSignature, err)
	default:
		return &sig, nil
	}
	return nil, hinted{err, p.hint("sign the plugins")}
}

// Check verifies sig over sum, a file's SHA-256 in hex, against p's keys
// ([Verify]), with a hint if it fails; a nil sig (p is not active) is no
// error.
func (p *Pinned) Check(sig *Signature, sum string) error {
	if sig == nil {
		return nil
	}
	raw, err := hex.DecodeString(sum)
	if err != nil || len(raw) != sha256.Size {
		return fmt.Errorf("%w: %q is not a SHA-256 in hex", ErrSignature, sum)
	}
	if _, err := Verify(p.keys, [sha256.Size]byte(raw), *sig); err != nil {
		return hinted{err, p.hint("the file changed since it was signed, or its .sig is another file's or another key's; build and sign it again")}
	}
	return nil
}

// hint says what to do about a file no pinned key signed: what, then the
// command that signs plugins.
func (p *Pinned) hint(what string) string {
	return fmt.Sprintf("%s: plugink build -sign <the .key file of a key this program pins> (%s)", what, p.IDs())
}

// hinted is an error with a hint, which an ErrorHint method returns (as
// the errors of plugink's runtime package have theirs).
type hinted struct {
	error
	hint string
}

// Unwrap returns the error.
func (h hinted) Unwrap() error { return h.error }

// ErrorHint returns the hint.
func (h hinted) ErrorHint() string { return h.hint }

// KeyFiles is what [WriteKeyPair] wrote.
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

// WriteKeyPair makes a new Ed25519 key pair for signing plugins and writes
// it, both files or neither, to name+".key" (the private key, mode 0600)
// and name+".pub" (its public key, one line). It refuses to overwrite
// either file: a key whose public half a host pins cannot be made again.
func WriteKeyPair(name string) (*KeyFiles, error) {
	kf := &KeyFiles{Private: name + ".key", Public: name + ".pub"}
	for _, f := range []string{kf.Private, kf.Public} {
		if _, err := os.Lstat(f); err == nil {
			return nil, fmt.Errorf("%s exists: a key is never overwritten", f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	key, err := GenerateKey(nil)
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
