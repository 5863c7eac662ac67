// Package sums reads and writes plugink.sum, the file of SHA-256
// checksums that plugink build keeps beside the plugin files it makes, in
// the format of sha256sum, and verifies files against it.
package sums

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/safetext"
)

// FileName is the name of the checksum file kept beside plugin files.
const FileName = "plugink.sum"

// Sentinel errors of verification.
var (
	// ErrChecksum is wrapped by [ChecksumError].
	ErrChecksum = errors.New("checksum mismatch")
	// ErrNoChecksum reports a file that has no recorded checksum where
	// one is required.
	ErrNoChecksum = errors.New("no checksum recorded")
)

// Sums maps plugin files to their expected SHA-256 checksums. Keys are
// absolute, cleaned paths; values are lower-case hex. The loader verifies a
// file before opening it against the Sums it is given, or the plugink.sum
// in the file's directory.
//
// On disk, Sums is kept in the format of sha256sum: one "<hex>  <name>" line
// per file, names relative to the sum file's directory, so that
// `sha256sum -c plugink.sum` run in that directory checks the files too.
type Sums map[string]string

// ChecksumError reports a file whose SHA-256 is not the one recorded.
type ChecksumError struct {
	// Path is the file.
	Path string
	// Want is the recorded checksum, Got the file's.
	Want, Got string
}

// Error implements error.
func (e *ChecksumError) Error() string {
	return fmt.Sprintf("checksum %s: the file's SHA-256 is %s but %s is recorded", safetext.Name(e.Path), e.Got, e.Want)
}

// Unwrap returns [ErrChecksum].
func (e *ChecksumError) Unwrap() error { return ErrChecksum }

// ErrorHint says what to do about a changed file.
func (e *ChecksumError) ErrorHint() string {
	return "the file changed since its checksum was recorded: rebuild it (plugink build), or restore the file that was built"
}

// MaxFile bounds the files File hashes: Go plugins are tens of megabytes.
const MaxFile = 1 << 30

// File returns the SHA-256 of the regular file at path (see fsx.Open), in
// lower-case hex, reading it once; a file over MaxFile is an error
// wrapping fsx.ErrTooLarge. Every checksum of a plugin file plugink takes
// (plugink.sum, signatures, the files opened) is this one.
func File(path string) (string, error) {
	f, fi, err := fsx.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if fi.Size() > MaxFile {
		return "", fmt.Errorf("checksum %s: %w: %d bytes, over %d", path, fsx.ErrTooLarge, fi.Size(), MaxFile)
	}
	sum, err := Hash(io.LimitReader(f, MaxFile))
	if err != nil {
		return "", fmt.Errorf("checksum %s: %w", path, err)
	}
	return sum, nil
}

// Hash returns the SHA-256 of what r holds, in lower-case hex.
func Hash(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func absKey(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.Clean(abs), nil
}

// Lookup returns the checksum recorded for path.
func (s Sums) Lookup(path string) (string, bool) {
	key, err := absKey(path)
	if err != nil {
		return "", false
	}
	sum, ok := s[key]
	return sum, ok
}

// Add computes the checksum of the file at path, records it and returns it.
func (s Sums) Add(path string) (string, error) {
	key, err := absKey(path)
	if err != nil {
		return "", err
	}
	sum, err := File(key)
	if err != nil {
		return "", err
	}
	s[key] = sum
	return sum, nil
}

// Verify checks the file at path against its recorded checksum. It returns
// an error wrapping [ErrNoChecksum] when none is recorded, and a
// *[ChecksumError] when the file differs.
func (s Sums) Verify(path string) error {
	want, ok := s.Lookup(path)
	if !ok {
		return fmt.Errorf("%w for %s", ErrNoChecksum, path)
	}
	got, err := File(path)
	if err != nil {
		return err
	}
	if got != want {
		return &ChecksumError{Path: path, Want: want, Got: got}
	}
	return nil
}

// maxSumFile bounds the size of a sum file: 16 MiB is some 100,000 entries.
const maxSumFile = 16 << 20

// Status says in a word how the file at path stands against s: "ok" (its
// checksum is the one recorded), "modified" (it is not), "unrecorded" (s
// has none for it), or "unreadable".
func (s Sums) Status(path string) string {
	switch err := s.Verify(path); {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrChecksum):
		return "modified"
	case errors.Is(err, ErrNoChecksum):
		return "unrecorded"
	}
	return "unreadable"
}

// Read reads a sha256sum-format file of at most 16 MiB. Relative names in it are taken
// relative to the file's directory. Blank lines are skipped; any other
// line that is not "<64 hex digits>  <name>" (or " *<name>", sha256sum's
// binary mode) is an error naming the line.
func Read(file string) (Sums, error) {
	data, err := fsx.ReadFile(file, maxSumFile)
	if err != nil {
		return nil, err
	}
	dir, err := absKey(filepath.Dir(file))
	if err != nil {
		return nil, err
	}
	s := Sums{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		sum, name, err := parseSumLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, n, err)
		}
		key := filepath.FromSlash(name)
		if !filepath.IsAbs(key) {
			key = filepath.Join(dir, key)
		}
		key = filepath.Clean(key)
		if old, ok := s[key]; ok && old != sum {
			return nil, fmt.Errorf("%s:%d: %s is listed twice with different checksums", file, n, name)
		}
		s[key] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return s, nil
}

// parseSumLine parses "<hex>  <name>", "<hex> *<name>", and sha256sum's
// escaped form "\<hex>  <name with \\ and \n>".
func parseSumLine(line string) (sum, name string, err error) {
	escaped := strings.HasPrefix(line, `\`)
	if escaped {
		line = line[1:]
	}
	if len(line) < 67 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*') {
		return "", "", errors.New(`malformed line: want "<sha256 in hex>  <file name>"`)
	}
	sum = strings.ToLower(line[:64])
	if _, err := hex.DecodeString(sum); err != nil {
		return "", "", fmt.Errorf("malformed checksum %q", line[:64])
	}
	name = line[66:]
	if escaped {
		name = strings.NewReplacer(`\\`, `\`, `\n`, "\n").Replace(name)
	}
	return sum, name, nil
}

// Write writes s to file in sha256sum's format, names relative to the
// file's directory, sorted, replacing the file atomically.
func Write(file string, s Sums) error {
	dir, err := absKey(filepath.Dir(file))
	if err != nil {
		return err
	}
	type sumLine struct{ name, sum string }
	entries := make([]sumLine, 0, len(s))
	for path, sum := range s {
		name := path
		if rel, err := filepath.Rel(dir, path); err == nil {
			name = rel
		}
		entries = append(entries, sumLine{filepath.ToSlash(name), sum})
	}
	slices.SortFunc(entries, func(a, b sumLine) int { return strings.Compare(a.name, b.name) })
	var b strings.Builder
	for _, e := range entries {
		name := e.name
		if strings.ContainsAny(name, "\\\n") {
			b.WriteString(`\`)
			name = strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(name)
		}
		b.WriteString(e.sum + "  " + name + "\n")
	}
	return fsx.WriteFiles(fsx.File{Path: file, Data: []byte(b.String())})
}

// sumFileLocks serializes read-modify-write updates of one sum file within
// this process (parallel Builds recording into the same file).
var sumFileLocks sync.Map // absolute path -> *sync.Mutex

// Record sets the checksum of path in the sum file, creating the file if
// needed.
func Record(file, path, sum string) error {
	key, err := absKey(file)
	if err != nil {
		return err
	}
	mu, _ := sumFileLocks.LoadOrStore(key, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	s, err := Read(key)
	if errors.Is(err, fs.ErrNotExist) {
		s, err = Sums{}, nil
	}
	if err != nil {
		return err
	}
	pathKey, err := absKey(path)
	if err != nil {
		return err
	}
	s[pathKey] = sum
	return Write(key, s)
}
