// Package proctest runs this module's programs as child processes, for the
// tests that attack them over loopback and measure what it cost them: it
// builds a program without the race detector (whose shadow memory would
// swamp the numbers), starts it, reads its output line by line, and reports
// its peak resident memory once it has exited.
//
// Building a binary takes seconds, so Build skips the test under -short.
//
//	bin := proctest.Build(t, ".")
//	p := proctest.Start(t, bin, []string{"-brpc", "127.0.0.1:0"}, nil)
//	addr := p.Line(t)
//	...
//	peak := p.Stop(t) // bytes
package proctest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// Build compiles the main package pkg (a directory or import path) without
// the race detector and returns the binary's path; with test set, it
// compiles pkg's test binary instead (go test -c). It skips tb under
// -short.
func Build(tb testing.TB, pkg string, test bool) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds a binary; skipped under -short")
	}
	out := filepath.Join(tb.TempDir(), filepath.Base(pkg)+".bin")
	args := []string{"build", "-o", out, pkg}
	if test {
		args = []string{"test", "-c", "-o", out, pkg}
	}
	cmd := exec.Command("go", args...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go %v: %v\n%s", args, err, msg)
	}
	return out
}

// Proc is a running child process.
type Proc struct {
	cmd   *exec.Cmd
	lines chan string
	mu    sync.Mutex
	errb  bytes.Buffer
	wrote chan struct{} // receives after stderr grew, if nobody took the last
	done  chan struct{}
	state *os.ProcessState
}

// Start runs bin with args and, added to this process's environment, env.
// The process is killed when the test ends, if it still runs.
func Start(tb testing.TB, bin string, args, env []string) *Proc {
	tb.Helper()
	p := &Proc{cmd: exec.Command(bin, args...), lines: make(chan string, 1024), wrote: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		select {
		case p.wrote <- struct{}{}:
		default:
		}
		return p.errb.Write(b)
	})
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.cmd.Wait()
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Line returns the next line the process writes on stdout, failing tb if
// none comes within two minutes (a bound for a process that hangs, not a
// measure: a loaded machine may be slow).
func (p *Proc) Line(tb testing.TB) string {
	tb.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			<-p.done
			tb.Fatalf("the process ended (%v) without the line; stderr:\n%s", p.state, p.Stderr())
		}
		return l
	case <-time.After(2 * time.Minute):
		tb.Fatalf("no line from the process in 2m; stderr:\n%s", p.Stderr())
	}
	return ""
}

// Stderr returns what the process has written on stderr so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errb.String()
}

// WaitStderr waits until the process has written s on stderr, failing tb
// if it ends first or has not within a minute.
func (p *Proc) WaitStderr(tb testing.TB, s string) {
	tb.Helper()
	timeout := time.After(time.Minute)
	for !strings.Contains(p.Stderr(), s) {
		select {
		case <-p.wrote:
		case <-p.done:
			if !strings.Contains(p.Stderr(), s) {
				tb.Fatalf("the process ended (%v) without writing %q; stderr:\n%s", p.state, s, p.Stderr())
			}
		case <-timeout:
			tb.Fatalf("the process did not write %q in a minute; stderr:\n%s", s, p.Stderr())
		}
	}
}

// Alive reports whether the process still runs.
func (p *Proc) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Stop sends the process SIGTERM, waits for it to end and returns its
// peak resident memory in bytes (getrusage's ru_maxrss).
func (p *Proc) Stop(tb testing.TB) int64 {
	tb.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	return p.Wait(tb)
}

// Wait waits up to two minutes (a bound for a process that hangs) for the
// process to end and returns its peak resident memory in bytes.
func (p *Proc) Wait(tb testing.TB) int64 {
	tb.Helper()
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		tb.Fatalf("the process did not end in 2m; stderr:\n%s", p.Stderr())
	}
	ru, ok := p.state.SysUsage().(*syscall.Rusage)
	if !ok {
		tb.Fatalf("no rusage for the process")
	}
	return ru.Maxrss << 10
}

// SetNoFile sets the process's limit on open files (soft and hard) to n.
func (p *Proc) SetNoFile(n uint64) error {
	lim := syscall.Rlimit{Cur: n, Max: n}
	_, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(p.Pid()), syscall.RLIMIT_NOFILE,
		uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// writerFunc is a function that is an io.Writer.
type writerFunc func([]byte) (int, error)

// Write calls f.
func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
