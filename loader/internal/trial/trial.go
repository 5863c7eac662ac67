// Package trial opens a plugin file in a child process of this program
// (the program's own executable, which exits as soon as the plugin is
// open), so that a file that would crash the dynamic linker, or make the
// Go runtime throw, kills the child, not this process. Any program that
// links this package can be that child: see [Run].
package trial

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"plugin"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/plugink/plugink/internal/self"
	"github.com/plugink/plugink/loader/internal/opened"
)

// trialEnv is the environment variable that makes a program linking this
// package a trial process: instead of running, it opens the plugin file
// the variable names (as JSON), reports on file descriptor 3, and exits.
const trialEnv = "PLUGINK_TRIAL_OPEN_V1"

// trialTimeout bounds a trial: a plugin whose init functions never return
// is refused, not waited for.
const trialTimeout = time.Minute

// trialReport is what the trial process reports, as one JSON object.
type trialReport struct {
	// Opened is true if plugin.Open returned without an error.
	Opened bool `json:"opened"`
	// Error is plugin.Open's error, if it returned one.
	Error string `json:"error,omitempty"`
}

// ErrTrial reports a plugin file that crashed, hung or failed when it was
// opened in a child process.
var ErrTrial = errors.New("opening it in a trial process failed")

func init() {
	spec, ok := os.LookupEnv(trialEnv)
	if !ok {
		return
	}
	var path string
	if json.Unmarshal([]byte(spec), &path) != nil {
		return // not set by a parent loader: run as usual
	}
	os.Unsetenv(trialEnv) // not for the processes a plugin's init may start
	os.Exit(trialChild(path))
}

// trialChild opens path with plugin.Open and reports on descriptor 3.
func trialChild(path string) int {
	report := os.NewFile(3, "trial report")
	if report == nil {
		return 2
	}
	var r trialReport
	if _, err := openRecovering(path); err != nil {
		r.Error = opened.Message(path, err)
	} else {
		r.Opened = true
	}
	if err := json.NewEncoder(report).Encode(r); err != nil {
		return 2
	}
	return 0
}

// openRecovering is plugin.Open, with a panic in an init function turned
// into an error.
func openRecovering(path string) (p *plugin.Plugin, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("a package init function panicked: %v", r)
		}
	}()
	return plugin.Open(path)
}

// Run opens path in a new process of this program, and reports whether
// it opened there: a file that would crash the dynamic linker, or make the
// Go runtime throw, then kills the child, not this process. The child
// reports on a pipe of its own (descriptor 3), so that what the program
// and the plugin print is no part of the verdict; it runs in a process
// group of its own, killed whole if it outlives trialTimeout.
func Run(path string) error {
	spec, _ := json.Marshal(path) // a string: cannot fail
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTrial, err)
	}
	defer pr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), trialTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, self.Executable())
	cmd.Env = append(os.Environ(), trialEnv+"="+string(spec))
	var stderr boundedBuffer
	cmd.Stderr, cmd.ExtraFiles = &stderr, []*os.File{pw}
	isolate(cmd)
	err = cmd.Start()
	pw.Close() // the child holds its end
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTrial, err)
	}
	var r trialReport
	dec := json.NewDecoder(io.LimitReader(pr, 64<<10))
	decodeErr := dec.Decode(&r)
	err = cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w: it did not finish within %s", ErrTrial, trialTimeout)
	case decodeErr == nil && r.Opened:
		return nil
	case decodeErr == nil:
		return fmt.Errorf("%w: %s", ErrTrial, printable(r.Error))
	}
	return fmt.Errorf("%w: the process died opening it (%v): %s", ErrTrial, err, printable(lastLine(stderr.String())))
}

// lastLine returns the first line of a crash report (Go's "SIGSEGV: ...",
// or "fatal error: ...") or else the last line of s.
func lastLine(s string) string {
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, "fatal error:") || strings.HasPrefix(line, "SIG") || strings.HasPrefix(line, "unexpected fault") {
			return strings.TrimSpace(line)
		}
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// boundedBuffer keeps the first 64 KiB written to it, so that a child
// printing without end cannot fill this process's memory.
type boundedBuffer struct{ bytes.Buffer }

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// printable returns s, from another process (the dynamic linker's words
// may quote bytes of a damaged file), with what is not printable replaced
// by '?' and cut to 300 bytes.
func printable(s string) string {
	const limit = 300
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "") + "..."
	}
	return s
}
