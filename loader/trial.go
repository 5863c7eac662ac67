package loader

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"plugin"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// trialEnv is the environment variable that makes a program linking the
// loader a trial process: instead of running, it opens the plugin files the
// variable lists (a JSON array), in order, and reports on its standard
// output, then exits. See [Loader.Load].
const trialEnv = "PLUGINK_TRIAL_OPEN_V1"

// trialTimeout bounds a trial: a plugin whose init functions never return
// is refused, not waited for.
const trialTimeout = time.Minute

// ErrTrial reports a plugin file that crashed, hung or failed when the
// loader opened it in a child process, before opening it in this one.
var ErrTrial = errors.New("opening it in a trial process failed")

func init() {
	if spec, ok := os.LookupEnv(trialEnv); ok {
		var paths []string
		if json.Unmarshal([]byte(spec), &paths) == nil {
			os.Exit(trialChild(paths))
		}
	}
}

// trialChild opens each path with plugin.Open, printing "open <i>" before
// and "ok <i>" or "error <i> <message>" after, and returns the exit code.
// The files before the last are those the parent opened before; one that
// no longer opens (its file was removed) is skipped.
func trialChild(paths []string) int {
	w := bufio.NewWriter(os.Stdout)
	for i, p := range paths {
		fmt.Fprintf(w, "open %d\n", i)
		w.Flush()
		_, err := openRecovering(p)
		if err != nil && i < len(paths)-1 {
			fmt.Fprintf(w, "skip %d\n", i)
			continue
		}
		if err != nil {
			fmt.Fprintf(w, "error %d %s\n", i, strconv.Quote(openMessage(p, err)))
			w.Flush()
			return 3
		}
		fmt.Fprintf(w, "ok %d\n", i)
	}
	w.Flush()
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

// trial opens the files before, then path, in a new process of this
// program, and reports whether path opened there: a file that would crash
// the dynamic linker, or make the Go runtime throw, then kills the child,
// not this process. before are the files this process has opened, so that
// the child resolves symbols as this process will.
func trial(path string, before []string) error {
	spec, _ := json.Marshal(append(before[:len(before):len(before)], path)) // strings: cannot fail
	ctx, cancel := context.WithTimeout(context.Background(), trialTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, hostExecutable())
	cmd.Env = append(os.Environ(), trialEnv+"="+string(spec))
	var stdout, stderr boundedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	n := len(before)
	last, msg := trialOutcome(stdout.String())
	switch {
	case err == nil && last == fmt.Sprintf("ok %d", n):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%w: it did not finish within %s", ErrTrial, trialTimeout)
	case msg != "":
		return fmt.Errorf("%w: %s", ErrTrial, printable(msg))
	case last != fmt.Sprintf("open %d", n):
		return fmt.Errorf("%w: the trial process did not get to this file (%v; %s)", ErrTrial, err, printable(lastLine(stderr.String())))
	}
	return fmt.Errorf("%w: the process died opening it (%v): %s", ErrTrial, err, printable(lastLine(stderr.String())))
}

// trialOutcome returns the last line of a trial's output and, if it
// reports an error, the error's message.
func trialOutcome(out string) (last, msg string) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last = lines[len(lines)-1]
	if rest, ok := strings.CutPrefix(last, "error "); ok {
		if _, q, ok := strings.Cut(rest, " "); ok {
			msg, _ = strconv.Unquote(q)
		}
	}
	return last, msg
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
