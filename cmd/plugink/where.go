package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/plugink/plugink/runtime"
)

// where is where the user stands: the directory plugink started in, before
// -C, and the command line they typed. Messages name paths from there, and
// hints are command lines they can paste there.
type where struct {
	// args are plugink's arguments, the command's name first.
	args []string
	// wds is the directory plugink started in, as os.Getwd says it, then
	// with its symbolic links resolved (os.Getwd may say either after -C).
	wds []string
	// terminal says whether standard error is a terminal.
	terminal bool
}

type whereKey struct{}

// newWhere returns where the user stands, now, with the arguments args.
func newWhere(args []string, stderr io.Writer) *where {
	w := &where{args: args, terminal: isTerminal(stderr)}
	if wd, err := os.Getwd(); err == nil {
		w.wds = append(w.wds, wd)
		if real, err := filepath.EvalSymlinks(wd); err == nil && real != wd {
			w.wds = append(w.wds, real)
		}
	}
	return w
}

// here returns where the user stands, as run put it into ctx; a where
// that leaves paths as they are if run did not.
func here(ctx context.Context) *where {
	if w, ok := ctx.Value(whereKey{}).(*where); ok {
		return w
	}
	return &where{}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// show returns path (relative to the current directory, -C's, or absolute)
// as the user can use it from where they stand: relative to it if it is
// under it, else absolute.
func (w *where) show(path string) string {
	if rel, ok := w.rel(path); ok && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return rel
	}
	if len(w.wds) == 0 {
		return path
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	return abs
}

// rel returns path (relative to the current directory, or absolute)
// relative to where the user stands, preferring a path that stays under
// it.
func (w *where) rel(path string) (string, bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false
	}
	found, ok := "", false
	for _, wd := range w.wds {
		if r, err := filepath.Rel(wd, abs); err == nil {
			if !ok || !strings.HasPrefix(r, "..") {
				found, ok = r, true
			}
		}
	}
	return found, ok
}

// explainPath rewrites err, from reading value, a path given relative to
// -C, so that it says where that is from where the user stands:
// "-host bin/svc: open svc/bin/svc (relative to -C svc): no such file or
// directory". label is the flag of set that gave value ("-host"), or what
// to call a command's argument ("inspect"). If value names a file from
// where the user stands instead, the hint is their command line with the
// path from -C. Without -C, and for other errors, err is returned as it
// is.
func (w *where) explainPath(set *flag.FlagSet, label, value string, err error) error {
	var pe *fs.PathError
	dir, ok := w.rel(".")
	if err == nil || !errors.As(err, &pe) || pe.Path != value || filepath.IsAbs(value) || !ok || dir == "." {
		return err
	}
	shown, _ := w.rel(value)
	msg := fmt.Errorf("%s %s: %s %s (relative to -C %s): %w", label, value, pe.Op, shown, dir, pe.Err)
	if !errors.Is(pe.Err, fs.ErrNotExist) {
		return msg
	}
	what := label
	if !strings.HasPrefix(label, "-") {
		what = "the file"
	}
	fromC, ok := w.fromC(value)
	if !ok {
		return runtime.WithHint(msg, fmt.Sprintf("%s is read relative to -C: give its path from %s, or an absolute one", what, dir))
	}
	return runtime.WithHint(msg, fmt.Sprintf("%s is read relative to -C: %s", what, w.command(set, "", func(name string, v *string) bool {
		if *v == value && (name == "" && !strings.HasPrefix(label, "-") || "-"+name == label) {
			*v = fromC
		}
		return true
	})))
}

// fromC returns, if value names a file relative to where the user stands,
// its path relative to the current directory (-C's).
func (w *where) fromC(value string) (string, bool) {
	cwd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	if real, err := filepath.EvalSymlinks(cwd); err == nil {
		cwd = real
	}
	for _, wd := range w.wds {
		target := filepath.Join(wd, value)
		if _, err := os.Stat(target); err != nil {
			continue
		}
		if real, err := filepath.EvalSymlinks(target); err == nil {
			target = real
		}
		if rel, err := filepath.Rel(cwd, target); err == nil {
			return rel, true
		}
	}
	return "", false
}

// command returns the command line the user typed, as they can paste it:
// "plugink", then the command (cmd if set, else theirs), then their flags
// and arguments. edit is called with each flag of fs given (its name
// without dashes, and its value, which it may change), and with each
// argument (name "", value the argument), and says whether to keep it;
// nil keeps all.
func (w *where) command(fs *flag.FlagSet, cmd string, edit func(name string, value *string) bool) string {
	if len(w.args) == 0 {
		return ""
	}
	if cmd == "" {
		cmd = w.args[0]
	}
	words := []string{"plugink", cmd}
	args := w.args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			words = append(words, quoteArgs(args[i:])...)
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if !strings.HasPrefix(a, "-") || a == "-" {
			if edit == nil || edit("", &a) {
				words = append(words, shellQuote(a))
			}
			continue
		}
		if f == nil {
			words = append(words, shellQuote(a))
			continue
		}
		isBool := false
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok {
			isBool = b.IsBoolFlag()
		}
		if !isBool && !hasValue && i+1 < len(args) {
			i++
			value = args[i]
		}
		if edit != nil && !edit(name, &value) {
			continue
		}
		switch {
		case isBool && hasValue:
			words = append(words, "-"+name+"="+value)
		case isBool:
			words = append(words, "-"+name)
		default:
			words = append(words, "-"+name, shellQuote(value))
		}
	}
	return strings.Join(words, " ")
}

// dropFlags returns an edit function for command that leaves out the
// flags named.
func dropFlags(names ...string) func(string, *string) bool {
	return func(name string, _ *string) bool {
		for _, n := range names {
			if n == name {
				return false
			}
		}
		return true
	}
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shellQuote(a)
	}
	return out
}

// shellQuote quotes s for a POSIX shell, unless it needs no quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./,:=@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// syncWriter serializes writes to w: builds run in parallel.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// replacedHint is an error whose hints, as report prints them, leave out
// old, one of the hints of the error it wraps, for its own.
type replacedHint struct {
	error
	old, hint string
}

func (r *replacedHint) Unwrap() error     { return r.error }
func (r *replacedHint) ErrorHint() string { return r.hint }

// replaceHint returns err with hint in place of old, a hint of err that
// the CLI can say better (it knows the values the library does not).
func replaceHint(err error, old, hint string) error {
	return &replacedHint{err, old, hint}
}

// hints returns err's hints (runtime.Hints), less those a replacedHint
// replaced.
func hints(err error) []string {
	all := runtime.Hints(err)
	var r *replacedHint
	if !errors.As(err, &r) {
		return all
	}
	out := all[:0]
	for _, h := range all {
		if h != r.old {
			out = append(out, h)
		}
	}
	return out
}
