package gen

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"

	"github.com/rogpeppe/go-internal/diff"

	"github.com/plugink/plugink/internal/fsx"
)

// FileDiff is a generated file whose content on disk differs from what
// Generate produced.
type FileDiff struct {
	// Path is the file's path.
	Path string
	// Missing is true when the file does not exist.
	Missing bool
	// Diff is a unified diff from the file on disk (a/<path>) to the
	// generated content (b/<path>), with @@ hunks and three lines of
	// context: patch -p1 applies it.
	Diff string
}

// maxGenerated bounds the size of a generated file Stale reads back.
const maxGenerated = 16 << 20

// Stale compares each generated file with the file on disk and returns
// those that differ, in the order given. It reads and writes nothing else.
func Stale(files []File) ([]FileDiff, error) {
	var out []FileDiff
	for _, f := range files {
		old, err := fsx.ReadFile(f.Path, maxGenerated)
		missing := errors.Is(err, fs.ErrNotExist)
		switch {
		case err != nil && !missing:
			return nil, fmt.Errorf("check %s: %w", f.Path, err)
		case !missing && string(old) == string(f.Data):
			continue
		}
		name := filepath.ToSlash(f.Path)
		d := diff.Diff(path.Join("a", name), old, path.Join("b", name), f.Data)
		out = append(out, FileDiff{Path: f.Path, Missing: missing, Diff: string(d)})
	}
	return out, nil
}
