package gen

import (
	"fmt"
	"go/token"
	"sort"
	"strings"
)

// Error is one problem found in a manifest or in the code it names, at a
// position of the manifest.
type Error struct {
	// Pos is where in the manifest the problem is.
	Pos token.Position
	// Msg says what is wrong and what was expected.
	Msg string
}

// Error implements error in the form "file:line:col: message".
func (e *Error) Error() string {
	if e.Pos.Filename == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
}

// ErrorList is every problem found by a stage, sorted by position. Use
// errors.As to reach it and report each line.
type ErrorList []*Error

// Error implements error: one problem per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Limit returns the first n errors of l, followed, if l has more, by one
// that says how many more there are.
func (l ErrorList) Limit(n int) ErrorList {
	if len(l) <= n {
		return l
	}
	return append(l[:n:n], &Error{Msg: fmt.Sprintf("and %d more errors", len(l)-n)})
}

// collector gathers errors with positions, like wire's errorCollector.
type collector struct {
	file string
	list ErrorList
}

func (c *collector) add(line, col int, format string, args ...any) {
	c.list = append(c.list, &Error{Pos: token.Position{Filename: c.file, Line: line, Column: col}, Msg: fmt.Sprintf(format, args...)})
}

// err returns the collected errors sorted by position, or nil.
func (c *collector) err() error {
	if len(c.list) == 0 {
		return nil
	}
	sort.SliceStable(c.list, func(i, j int) bool {
		a, b := c.list[i].Pos, c.list[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return c.list
}
