//go:build unix

package process

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// A stopped process (SIGSTOP) answers nothing: go-plugin's Kill, which
// asks it to quit over the connection and waits for the answer without a
// time limit, would block for ever. The host ends it anyway, and a call
// on it is bounded by its context.
func TestStoppedProcess(t *testing.T) {
	p, _ := openTest(t, "stopped", false, nil)
	inst, g, _ := stopped(t, p, "s:")
	closed := async(func() (string, error) { return "", inst.Close() })
	if r := await(t, closed, "Close of a stopped process's last instance"); r.err != nil || r.d > 5*time.Second {
		t.Fatalf("Close = %v after %v", r.err, r.d)
	}
	waitClosed(t, g.exited, "the stopped process's end after its last instance closed")
	if !g.hostKilled.Load() || g.how != "signal: killed" {
		t.Fatalf("the stopped process ended %q (host killed: %v), want killed by the host", g.how, g.hostKilled.Load())
	}
}

// A stopped process answers no cancellation: after hungAfter, the host
// takes it for hung and ends it, without a Close; the next call starts the
// plugin again.
func TestHungProcessIsReplaced(t *testing.T) {
	p, _ := openTest(t, "hung", false, nil)
	p.hungAfter = 300 * time.Millisecond
	inst, g, pid := stopped(t, p, "h:")
	waitClosed(t, g.exited, "the end of the process that answered no cancellation")
	if !g.hostKilled.Load() {
		t.Fatalf("the hung process ended %q by itself, want ended by the host", g.how)
	}
	got, err := echo(ctxFor(t, bound), inst, "again")
	if err != nil || got != "h:again" {
		t.Fatalf("the call after the hung process ended: %q, %v", got, err)
	}
	if p.Pid() == pid {
		t.Fatal("the hung process still serves")
	}
}

// stopped constructs an instance of p (its echo prefix prefix), stops its
// process with SIGSTOP and returns once a call on it has timed out: the
// instance, the process's generation and its pid.
func stopped(t *testing.T, p *Plugin, prefix string) (*Instance, *generation, int) {
	t.Helper()
	inst, err := p.New(ctxFor(t, bound), &NewArgs{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	g, pid := p.currentForTest(), p.Pid()
	proc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Signal(syscall.SIGKILL) })
	// The signal is delivered in its time: a call may be answered before.
	for try := 0; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := echo(ctx, inst, "x")
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return inst, g, pid
		}
		if err != nil || try == 100 {
			t.Fatalf("a call on a stopped process: %v, want context.DeadlineExceeded", err)
		}
	}
}
