// Package execbuild builds a process plugin's executable: the main package
// the glue generator wrote for it, compiled by the go command in the host's
// module, for the GOOS and GOARCH the go environment names (cgo or not, as
// CGO_ENABLED says). It pins nothing to a host: the handshake is the
// contract between the two.
package execbuild

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/gocmd"
	"github.com/plugink/plugink/internal/layout"
	"github.com/plugink/plugink/internal/sums"
)

// Options says how to build.
type Options struct {
	// Dir is a directory of the module the plugins are built in (the
	// manifest's): the main package is written under Dir/_plugink.
	Dir string
	// Flags are more go build flags (-race, -trimpath, -tags=...).
	Flags []string
	// Verbose, if set, gets the go build command line as it starts.
	Verbose io.Writer
	// Env are more environment variables for go build (CGO_ENABLED=0),
	// after this process's: the last of a name wins. Plugins names the
	// executables for the GOOS of this process's environment, not Env's.
	Env []string
}

// GOOS returns the target operating system of a build in dir, as the go
// environment says.
func GOOS(ctx context.Context, dir string) (string, error) {
	out, err := gocmd.Cmd{Dir: dir}.Output(ctx, "env", "GOOS")
	if err != nil {
		return "", fmt.Errorf("go env GOOS: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Build compiles the main package src of the process plugin kind/name into
// the executable out, written whole or not at all, and returns its SHA-256
// in hex. The package goes in o.Dir/[layout.ProcessMainDir], where it
// stays (go build records
// its path in the executable: a fixed one makes the same sources give the
// same bytes, so a rebuild of an unchanged plugin changes no checksum or
// signature, and an upgrade signal after it changes nothing).
func Build(ctx context.Context, kind, name string, src []byte, out string, o Options) (string, error) {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return "", fmt.Errorf("build %s/%s: %w", kind, name, err)
	}
	pkg := filepath.Join(dir, filepath.FromSlash(layout.ProcessMainDir(kind, name)))
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		return "", fmt.Errorf("build %s/%s: %w", kind, name, err)
	}
	if err := fsx.WriteFiles(fsx.File{Path: filepath.Join(pkg, "main.go"), Data: src}); err != nil {
		return "", fmt.Errorf("build %s/%s: %w", kind, name, err)
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	tmp := filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs)+".tmp-"+hex.EncodeToString(r[:]))
	defer os.Remove(tmp)
	args := append([]string{"build", "-o", tmp}, o.Flags...)
	args = append(args, "./"+filepath.ToSlash(mustRel(dir, pkg)))
	cmd := gocmd.Cmd{Dir: dir}
	if len(o.Env) > 0 {
		cmd.Env = append(os.Environ(), o.Env...)
	}
	if o.Verbose != nil {
		fmt.Fprintf(o.Verbose, "cd %s\ngo %s\n", dir, strings.Join(args, " "))
		cmd.Echo = o.Verbose // what go build -x prints, as it prints it
	}
	if b, err := cmd.Combined(ctx, args...); err != nil {
		return "", fmt.Errorf("go build of %s/%s: %w\n%s", kind, name, err, strings.TrimSpace(string(b)))
	}
	sum, err := sums.File(tmp)
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, abs); err != nil {
		return "", fmt.Errorf("build %s/%s: %w", kind, name, err)
	}
	return sum, nil
}

// mustRel returns target relative to base; both are under base.
func mustRel(base, target string) string {
	rel, err := filepath.Rel(base, target)
	if err != nil {
		return target
	}
	return rel
}
