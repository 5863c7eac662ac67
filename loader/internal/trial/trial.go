// Package trial opens a plugin file in a child process of this program
// (the program's own executable, which exits as soon as the plugin is
// open), so that a file that would crash the dynamic linker, or make the
// Go runtime throw, kills the child, not this process. A program that
// links this package becomes that child only when Run started it: see
// child.go.
package trial

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/plugink/plugink/internal/self"
)

// trialEnv marks a process started by Run. Alone, it makes nothing
// happen: the child also needs, on descriptor 4, a pipe that holds the
// spec Run wrote, with the nonce the variable names (see child.go).
const trialEnv = "PLUGINK_TRIAL_OPEN_V2"

// trialTimeout bounds a trial: a plugin whose init functions never return
// is refused, not waited for.
const trialTimeout = time.Minute

// reportGrace bounds the read of the report once the child has exited:
// the report is then in the pipe already, or it will never come (a
// process the plugin started may hold the pipe open).
const reportGrace = time.Second

// maxSpec bounds the spec a child reads: a path and a nonce.
const maxSpec = 64 << 10

// trialSpec is what Run tells the child, on descriptor 4.
type trialSpec struct {
	// Nonce is the value of trialEnv: the spec and the variable come from
	// the same parent.
	Nonce string `json:"nonce"`
	// Path is the file to open.
	Path string `json:"path"`
}

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

// Run opens path in a new process of this program, and reports whether
// it opened there: a file that would crash the dynamic linker, or make the
// Go runtime throw, then kills the child, not this process.
//
// The child learns what to open from a pipe of its own (descriptor 4),
// whose spec must carry the nonce of its environment, and reports on
// another (descriptor 3), so that neither an environment variable alone
// nor what the program and the plugin print is part of the verdict. It
// runs in a process group of its own, killed whole if it outlives
// trialTimeout; on Linux it dies with this process, and before it exits it
// kills and reaps every process the plugin's init functions started
// (session leaders included). Run returns within trialTimeout plus
// reportGrace, whatever those processes do with the pipes they inherit.
func Run(path string) error {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)                                                          // never fails
	spec, _ := json.Marshal(trialSpec{Nonce: hex.EncodeToString(nonce), Path: path}) // strings: cannot fail
	if len(spec) > maxSpec {
		return fmt.Errorf("%w: the path is too long", ErrTrial)
	}
	specR, err := specPipe(spec)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTrial, err)
	}
	reportR, reportW, err := os.Pipe()
	if err != nil {
		specR.Close()
		return fmt.Errorf("%w: %w", ErrTrial, err)
	}
	defer reportR.Close()
	ctx, cancel := context.WithTimeout(context.Background(), trialTimeout)
	defer cancel()
	exe, args := self.Command()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), trialEnv+"="+hex.EncodeToString(nonce))
	var stderr boundedBuffer
	cmd.Stderr, cmd.ExtraFiles = &stderr, []*os.File{reportW, specR}
	isolate(cmd)
	// The parent-death signal fires when the thread that started the child
	// exits: this goroutine keeps that thread until the child is done, so
	// that a host whose goroutines lock and end threads does not kill a
	// good trial.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	err = cmd.Start()
	reportW.Close() // the child holds its ends
	specR.Close()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTrial, err)
	}
	reports := make(chan decodedReport, 1)
	go func() {
		var d decodedReport
		d.err = json.NewDecoder(io.LimitReader(reportR, 64<<10)).Decode(&d.r)
		reports <- d
	}()
	err = cmd.Wait()
	_ = reportR.SetReadDeadline(time.Now().Add(reportGrace))
	d := <-reports
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w: it did not finish within %s", ErrTrial, trialTimeout)
	case d.err == nil && d.r.Opened:
		return nil
	case d.err == nil:
		return fmt.Errorf("%w: %s", ErrTrial, printable(d.r.Error))
	}
	msg := fmt.Sprintf("the process died opening it (%v)", err)
	if last := printable(lastLine(stderr.String())); last != "" {
		msg += ": " + last
	}
	return fmt.Errorf("%w: %s", ErrTrial, msg)
}

// specPipe returns the read end of a pipe that holds spec, its write end
// closed: the child reads it whole without waiting.
func specPipe(spec []byte) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	_, err = w.Write(spec) // fits the pipe's buffer
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// decodedReport is the outcome of reading the child's report.
type decodedReport struct {
	r   trialReport
	err error
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
