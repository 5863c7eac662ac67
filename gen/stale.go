package gen

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// FileDiff is a generated file whose content on disk differs from what
// Generate produced.
type FileDiff struct {
	// Path is the file's path.
	Path string
	// Missing is true when the file does not exist.
	Missing bool
	// Diff is a line diff from the file on disk to the generated content:
	// lines starting with "-" are on disk only, "+" generated only.
	Diff string
}

// Stale compares each generated file with the file on disk and returns
// those that differ, in the order given. It reads and writes nothing else.
func Stale(files []File) ([]FileDiff, error) {
	var out []FileDiff
	for _, f := range files {
		old, err := os.ReadFile(f.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			out = append(out, FileDiff{Path: f.Path, Missing: true, Diff: lineDiff(f.Path, nil, f.Data)})
		case err != nil:
			return nil, fmt.Errorf("check %s: %w", f.Path, err)
		case string(old) != string(f.Data):
			out = append(out, FileDiff{Path: f.Path, Diff: lineDiff(f.Path, old, f.Data)})
		}
	}
	return out, nil
}

// lineDiff returns a diff of a and b, line by line, from a longest common
// subsequence; unchanged lines are elided except for a line of context
// around each change. Generated files are small, so O(len(a)·len(b)) is fine.
func lineDiff(name string, a, b []byte) string {
	x, y := splitLines(a), splitLines(b)
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			lines = append(lines, line{' ', x[i]})
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, line{'+', y[j]})
			j++
		default:
			lines = append(lines, line{'-', x[i]})
			i++
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s (on disk)\n+++ %s (generated)\n", name, name)
	near := func(k int) bool {
		for d := -1; d <= 1; d++ {
			if k+d >= 0 && k+d < len(lines) && lines[k+d].op != ' ' {
				return true
			}
		}
		return false
	}
	skipped := false
	for k, l := range lines {
		if l.op == ' ' && !near(k) {
			if !skipped {
				sb.WriteString("...\n")
			}
			skipped = true
			continue
		}
		skipped = false
		sb.WriteByte(l.op)
		sb.WriteString(l.text)
		sb.WriteByte('\n')
	}
	return sb.String()
}

func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}
