package process

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugink/plugink/internal/signature"
	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/runtime"
)

// isCallError returns err as a *CallError, failing the test if it is not one.
func isCallError(t testing.TB, err error, what string) *CallError {
	t.Helper()
	var ce *CallError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: got %T %v, want a *CallError", what, err, err)
	}
	return ce
}

func TestRoundTrip(t *testing.T) {
	p, _ := openTest(t, "roundtrip", false, nil)
	a := newInstance(t, p, &NewArgs{Prefix: "a:"})
	mustEcho(t, a, "a:", "hello")
	pid := p.Pid()
	if pid == 0 || pid == os.Getpid() {
		t.Fatalf("Pid() = %d, want the plugin process's", pid)
	}

	// A second instance lives in the same process, with its own state.
	b := newInstance(t, p, &NewArgs{Prefix: "b:"})
	mustEcho(t, b, "b:", "x")
	mustEcho(t, a, "a:", "y")
	if got := p.Pid(); got != pid {
		t.Fatalf("a second instance started process %d; want the one process %d", got, pid)
	}

	// A sentinel error crosses: errors.Is holds on the host.
	var r ErrReply
	if err := a.Call(ctxFor(t, bound), "Fail", &FailArgs{}, &r); err != nil {
		t.Fatalf("Fail: %v", err)
	}
	err := DecodeError(r.R0, testSentinels)
	if !errors.Is(err, errNotFound) {
		t.Fatalf("Fail's error %v does not match the sentinel", err)
	}
	var re *RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, `lookup "key"`) {
		t.Fatalf("Fail's error = %#v, want a *RemoteError with the plugin's message", err)
	}

	// A method the plugin lacks is a call's error; the process serves on.
	err = a.Call(ctxFor(t, bound), "NoSuchMethod", &FailArgs{}, &r)
	ce := isCallError(t, err, "NoSuchMethod")
	var ee *ExitError
	if ce.Method != "NoSuchMethod" || errors.As(err, &ee) {
		t.Fatalf("NoSuchMethod: %v, want the method's error, not a process's end", err)
	}
	mustEcho(t, a, "a:", "z")
	if got := p.Pid(); got != pid {
		t.Fatalf("after a failed call the process is %d, want %d", got, pid)
	}

	// A reply is the plugin's, whole: fields a reused reply held before
	// do not survive (gob leaves the fields it does not send).
	reply := EchoReply{R0: "stale", R1: &Error{Msg: "stale"}}
	if err := a.Call(ctxFor(t, bound), "Echo", &EchoArgs{Msg: "fresh"}, &reply); err != nil {
		t.Fatal(err)
	}
	if reply.R0 != "a:fresh" || reply.R1 != nil {
		t.Fatalf("reused reply = %+v, want {R0:a:fresh R1:<nil>}", reply)
	}
}

func TestConstructorError(t *testing.T) {
	p, _ := openTest(t, "ctorerror", false, func(s *Spec) { s.Sentinels = testSentinels })
	inst, err := p.New(ctxFor(t, bound), &NewArgs{Prefix: "bad", Fail: true})
	if inst == nil {
		t.Fatal("New returned no instance")
	}
	t.Cleanup(func() { inst.Close() })
	isCallError(t, err, "New")
	if err == nil || !strings.Contains(err.Error(), "the constructor failed") || !strings.Contains(err.Error(), `constructor refused "bad"`) {
		t.Fatalf("New: %v, want the constructor's error", err)
	}
	if !errors.Is(err, errNotFound) {
		t.Fatalf("New: %v does not match the constructor's sentinel", err)
	}
	// A later call constructs again, and fails the same way.
	_, err = echo(ctxFor(t, bound), inst, "x")
	isCallError(t, err, "Echo")
	if !strings.Contains(err.Error(), `constructor refused "bad"`) {
		t.Fatalf("Echo on an instance whose constructor fails: %v", err)
	}
	// The process serves other instances.
	good := newInstance(t, p, &NewArgs{Prefix: "ok:"})
	mustEcho(t, good, "ok:", "x")
}

func TestDeadlineBoundsHungPlugin(t *testing.T) {
	p, _ := openTest(t, "deadline", false, nil)
	inst := newInstance(t, p, &NewArgs{})

	// A plugin that does not honour its context: the call's deadline
	// bounds the call anyway.
	ln := listen(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	var s StringReply
	err := inst.Call(ctx, "Hold", &HoldArgs{Addr: ln.Addr().String(), IgnoreContext: true}, &s)
	d := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a hung call with a 100ms deadline: %v, want context.DeadlineExceeded", err)
	}
	isCallError(t, err, "Hold")
	if d > 5*time.Second {
		t.Fatalf("a hung call with a 100ms deadline returned after %v", d)
	}

	// A plugin that does: the call's context in the plugin ends with the
	// deadline. The call fails with it, or has the answer the plugin gave
	// at that moment.
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var r BoolReply
	if err := inst.Call(ctx, "Sleep", &SleepArgs{}, &r); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sleep with a 100ms deadline: %v, want context.DeadlineExceeded or no error", err)
	}
	var w BoolReply
	if err := inst.Call(ctxFor(t, bound), "WaitCancelled", &SleepArgs{}, &w); err != nil || !w.R0 {
		t.Fatalf("WaitCancelled = %v, %v: the plugin's context did not end", w.R0, err)
	}
}

func TestCancelReachesPlugin(t *testing.T) {
	p, _ := openTest(t, "cancel", false, nil)
	inst := newInstance(t, p, &NewArgs{})
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := async(func() (string, error) {
		var r BoolReply
		return "", inst.Call(ctx, "Sleep", &SleepArgs{Addr: ln.Addr().String()}, &r)
	})
	accept(t, ln, "Sleep's start") // the call is in the plugin, without a deadline
	go cancel()
	r := await(t, res, "Sleep cancelled")
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled Sleep: %v, want context.Canceled", r.err)
	}
	var w BoolReply
	if err := inst.Call(ctxFor(t, bound), "WaitCancelled", &SleepArgs{}, &w); err != nil || !w.R0 {
		t.Fatalf("WaitCancelled = %v, %v: the cancellation did not reach the plugin", w.R0, err)
	}
}

func TestCrash(t *testing.T) {
	p, _ := openTest(t, "crash", false, nil)
	inst := newInstance(t, p, &NewArgs{Prefix: "c:"})
	mustEcho(t, inst, "c:", "before")
	pid := p.Pid()
	w := watchLog(t, "plugin "+p.spec.String()+": last words")
	var r BoolReply
	err := inst.Call(ctxFor(t, bound), "Exit", &SleepArgs{}, &r)
	// What the plugin wrote to os.Stderr just before it exited is in the
	// log by the time the call fails: the host reads the process's stderr
	// to its end before it reports the exit.
	select {
	case <-w.seen[0]:
	default:
		t.Errorf("the line the plugin wrote to os.Stderr before it exited is not in the log; it holds:\n%s", w)
	}
	ce := isCallError(t, err, "Exit")
	if ce.Method != "Exit" || ce.Plugin != p.spec.String() {
		t.Fatalf("CallError = %+v, want plugin %s, method Exit", ce, p.spec)
	}
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Exit: %v, want an *ExitError (go-plugin's log of the end not understood?)", err)
	}
	if ee.How != "exit status 3" {
		t.Fatalf("ExitError.How = %q, want %q", ee.How, "exit status 3")
	}
	// The next call starts the process again, and constructs the instance
	// there.
	mustEcho(t, inst, "c:", "after")
	if got := p.Pid(); got == pid || got == 0 {
		t.Fatalf("after the crash Pid() = %d, want a new process (the old was %d)", got, pid)
	}
}

func TestKillUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("8 callers and a killed process")
	}
	p, _ := openTest(t, "kill", false, nil)
	inst := newInstance(t, p, &NewArgs{Prefix: "k:"})
	mustEcho(t, inst, "k:", "warm")
	pid := p.Pid()
	proc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}

	const callers = 8
	killed := make(chan struct{})
	var warm, done sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	deadline := time.Now().Add(bound)
	warm.Add(callers)
	done.Add(callers)
	for range callers {
		go func() {
			defer done.Done()
			first := true
			for time.Now().Before(deadline) {
				after := false
				select {
				case <-killed:
					after = true
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				got, err := echo(ctx, inst, "x")
				cancel()
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
					continue
				}
				if got != "k:x" {
					mu.Lock()
					failures = append(failures, errors.New("wrong answer "+got))
					mu.Unlock()
				}
				if first {
					first = false
					warm.Done()
				}
				if after {
					return // a call begun after the kill succeeded
				}
			}
			mu.Lock()
			failures = append(failures, errors.New("no call succeeded after the kill"))
			mu.Unlock()
		}()
	}
	warm.Wait()
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	close(killed)
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	waitClosed(t, finished, "the callers' end")

	exits, conns := 0, 0
	for _, err := range failures {
		var ce *CallError
		var ee *ExitError
		switch {
		case !errors.As(err, &ce):
			t.Errorf("a call failed with %T %v, want a *CallError", err, err)
		case errors.As(err, &ee):
			exits++
			if ee.How != "signal: killed" && !goosWindows {
				t.Errorf("ExitError.How = %q, want %q", ee.How, "signal: killed")
			}
		case strings.Contains(err.Error(), "connection"):
			conns++
		default:
			t.Errorf("a call failed with %v, want the process's end or the connection's", err)
		}
	}
	t.Logf("%d calls failed: %d with the process's end, %d with the connection's", len(failures), exits, conns)
	if got := p.Pid(); got == pid || got == 0 {
		t.Fatalf("after the kill Pid() = %d, want a new process (the killed was %d)", got, pid)
	}
}

func TestShapeRefused(t *testing.T) {
	const other = "testkind: interface { Echo(string) string } // v0"
	p, _ := openTest(t, "othershape", false, func(s *Spec) { s.Shape = other })
	inst, err := p.New(ctxFor(t, bound), &NewArgs{})
	t.Cleanup(func() { inst.Close() })
	isCallError(t, err, "New")
	msg := err.Error()
	for _, want := range []string{"another shape", strconv.Itoa(int(Version(testShape))), strconv.Itoa(int(Version(other)))} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal %q does not say %q", msg, want)
		}
	}
	if p.Pid() != 0 {
		t.Fatalf("a refused plugin serves: Pid() = %d", p.Pid())
	}
}

func TestTrust(t *testing.T) {
	record := func(t *testing.T, path, sum string) {
		if err := sums.Record(filepath.Join(filepath.Dir(path), sums.FileName), path, sum); err != nil {
			t.Fatal(err)
		}
	}
	start := func(t *testing.T, p *Plugin) error {
		inst, err := p.New(ctxFor(t, bound), &NewArgs{Prefix: "t:"})
		t.Cleanup(func() { inst.Close() })
		if err == nil {
			mustEcho(t, inst, "t:", "x")
		}
		return err
	}
	key, err := signature.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public().String()

	t.Run("wrong sum", func(t *testing.T) {
		p, path := openTest(t, "trustwrongsum", false, nil)
		record(t, path, strings.Repeat("0", 64))
		err := start(t, p)
		var ce *sums.ChecksumError
		if !errors.As(err, &ce) {
			t.Fatalf("start with a wrong plugink.sum: %v, want a *sums.ChecksumError", err)
		}
		isCallError(t, err, "start")
	})
	t.Run("sums required", func(t *testing.T) {
		p, _ := openTest(t, "trustnosum", false, func(s *Spec) { s.RequireSums = true })
		if err := start(t, p); !errors.Is(err, sums.ErrNoChecksum) {
			t.Fatalf("start without plugink.sum, sums required: %v, want sums.ErrNoChecksum", err)
		}
	})
	t.Run("right sum", func(t *testing.T) {
		p, path := openTest(t, "trustrightsum", false, func(s *Spec) { s.RequireSums = true })
		sum, err := sums.File(path)
		if err != nil {
			t.Fatal(err)
		}
		record(t, path, sum)
		if err := start(t, p); err != nil {
			t.Fatalf("start with the right plugink.sum: %v", err)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		p, _ := openTest(t, "trustunsigned", false, func(s *Spec) { s.TrustedKeys = []string{pub} })
		if err := start(t, p); !errors.Is(err, signature.ErrSignature) {
			t.Fatalf("start of an unsigned file, keys pinned: %v, want signature.ErrSignature", err)
		}
	})
	t.Run("signed", func(t *testing.T) {
		p, path := openTest(t, "trustsigned", false, func(s *Spec) { s.TrustedKeys = []string{pub} })
		sum, err := sums.File(path)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := hex.DecodeString(sum)
		sig := signature.Sign(key, [sha256.Size]byte(raw))
		if err := os.WriteFile(signature.FileFor(path), sig.Marshal(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := start(t, p); err != nil {
			t.Fatalf("start of a signed file: %v", err)
		}
	})
}

func TestBackoffMissingExecutable(t *testing.T) {
	p, path := openTest(t, "backoff", true, nil)
	check := func(err error, what string) {
		t.Helper()
		isCallError(t, err, what)
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v does not name %s", what, err, path)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want an error wrapping fs.ErrNotExist", what, err)
		}
		if h := strings.Join(runtime.Hints(err), "\n"); !strings.Contains(h, "plugink build") {
			t.Errorf("%s: hints %q do not say to run plugink build", what, h)
		}
	}
	inst, err := p.New(ctxFor(t, bound), &NewArgs{Prefix: "b:"})
	if inst == nil {
		t.Fatal("New returned no instance")
	}
	t.Cleanup(func() { inst.Close() })
	check(err, "New")
	_, err = echo(ctxFor(t, bound), inst, "x")
	check(err, "the second call")
	// Two failures in a row: the next start waits a back-off. A call whose
	// context ends before it fails at once, with the last failure.
	start := time.Now()
	_, err = echo(ctxFor(t, 20*time.Millisecond), inst, "x")
	check(err, "a call during the back-off")
	if d := time.Since(start); d > time.Second {
		t.Errorf("a call with a 20ms context during the back-off took %v", d)
	}

	install(t, path)
	got, err := echo(ctxFor(t, maxBackoff+time.Second), inst, "x")
	if err != nil || got != "b:x" {
		t.Fatalf("Echo once the executable is there: %q, %v", got, err)
	}
}

func TestUpgrade(t *testing.T) {
	p, path := openTest(t, "upgrade", false, nil)
	inst := newInstance(t, p, &NewArgs{Prefix: "u:"})
	mustEcho(t, inst, "u:", "v1")
	if changed, err := p.Upgrade(); changed || err != nil {
		t.Fatalf("Upgrade of an unchanged executable = %v, %v; want false, nil", changed, err)
	}
	old, oldPid := p.currentForTest(), p.Pid()

	// A call in flight on the old process.
	ln := listen(t)
	held := async(func() (string, error) {
		var r StringReply
		err := inst.Call(ctxFor(t, bound), "Hold", &HoldArgs{Addr: ln.Addr().String()}, &r)
		return r.R0, err
	})
	conn := accept(t, ln, "Hold's start")

	writeExe(t, path, []byte("\nplugink test: a changed executable\n"))
	if changed, err := p.Upgrade(); !changed || err != nil {
		t.Fatalf("Upgrade of a changed executable = %v, %v; want true, nil", changed, err)
	}
	mustEcho(t, inst, "u:", "v2")
	if pid := p.Pid(); pid == oldPid || pid == 0 {
		t.Fatalf("after the upgrade Pid() = %d, want a new process (the old is %d)", pid, oldPid)
	}
	select {
	case <-old.exited:
		t.Fatal("the old process ended with a call in flight")
	default:
	}
	if _, err := conn.Write([]byte{'k'}); err != nil {
		t.Fatal(err)
	}
	if r := await(t, held, "the old call"); r.err != nil || r.s != "released" {
		t.Fatalf("the call in flight during the upgrade = %q, %v; want released", r.s, r.err)
	}
	waitClosed(t, old.exited, "the old process's end once its call ended")

	if changed, err := p.Upgrade(); changed || err != nil {
		t.Fatalf("a second Upgrade = %v, %v; want false, nil", changed, err)
	}
	mustEcho(t, inst, "u:", "v2 again")
}

func TestClose(t *testing.T) {
	p, _ := openTest(t, "close", false, nil)
	a := newInstance(t, p, &NewArgs{Prefix: "a:"})
	b := newInstance(t, p, &NewArgs{Prefix: "b:"})
	g, pid := p.currentForTest(), p.Pid()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := echo(ctxFor(t, bound), a, "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("a call after Close: %v, want ErrClosed", err)
	}
	mustEcho(t, b, "b:", "x")
	if got := p.Pid(); got != pid {
		t.Fatalf("closing one of two instances changed the process: %d, was %d", got, pid)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, g.exited, "the process's end after its last instance closed")
	_, err := echo(ctxFor(t, bound), b, "x")
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("a call after Close: %v, want ErrClosed", err)
	}
	isCallError(t, err, "a call after Close")
	if got := p.Pid(); got != 0 {
		t.Fatalf("a call on a closed instance started process %d", got)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

func TestStderrReachesLog(t *testing.T) {
	p, _ := openTest(t, "stderr", false, nil)
	prefix := "plugin " + p.spec.String() + ": "
	w := watchLog(t, prefix+"hello", prefix+"hello (fd 2)")
	inst := newInstance(t, p, &NewArgs{})
	var r BoolReply
	if err := inst.Call(ctxFor(t, bound), "Say", &SayArgs{Line: "hello"}, &r); err != nil {
		t.Fatal(err)
	}
	for i, what := range []string{"os.Stderr's line", "fd 2's line"} {
		select {
		case <-w.seen[i]:
		case <-time.After(bound):
			t.Fatalf("%s did not reach the log; it holds:\n%s", what, w)
		}
	}
	// go-plugin's own chatter in the plugin (its debug log on fd 2, which
	// came before the line just seen) stays out of the host's log.
	if strings.Contains(w.String(), `"@level":"debug"`) {
		t.Errorf("the host's log has the plugin's go-plugin debug lines:\n%s", w)
	}
}

// rebindSetup constructs an instance whose constructor holds, in a new
// process, once holdFile exists: it takes the instance's process out of
// service (as an upgrade or a lost connection does) and returns the
// instance, the hold file and the listener the constructor connects to.
func rebindSetup(t *testing.T, name string) (*Plugin, *Instance, string, net.Listener) {
	t.Helper()
	p, path := openTest(t, name, false, nil)
	ln := listen(t)
	hold := filepath.Join(filepath.Dir(path), "hold")
	inst := newInstance(t, p, &NewArgs{Prefix: "r:", HoldFile: hold, HoldAddr: ln.Addr().String()})
	mustEcho(t, inst, "r:", "x")
	p.mu.Lock()
	g := p.cur
	p.cur = nil
	p.mu.Unlock()
	g.retire()
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, inst, hold, ln
}

// bindWaits sets testHookBindWait for the test, and returns the channel
// of its calls.
func bindWaits(t *testing.T) <-chan struct{} {
	c := make(chan struct{}, 100)
	testHookBindWait = func() { c <- struct{}{} }
	t.Cleanup(func() { testHookBindWait = nil })
	return c
}

// A caller waiting for another's construction of the instance is bounded
// by its own context, and Close does not wait for the construction.
func TestHungConstructorBlocksNobody(t *testing.T) {
	_, inst, _, ln := rebindSetup(t, "hungctor")
	waits := bindWaits(t)
	first := async(func() (string, error) { return echo(ctxFor(t, bound), inst, "a") })
	conn := accept(t, ln, "the construction in the new process")

	// Another caller, 100ms to live, while the constructor holds.
	second := async(func() (string, error) { return echo(ctxFor(t, 100*time.Millisecond), inst, "b") })
	r := await(t, second, "a call with a 100ms context during a hung construction")
	if !errors.Is(r.err, context.DeadlineExceeded) || r.d > 5*time.Second {
		t.Fatalf("a call with a 100ms context during a hung construction: %v after %v, want context.DeadlineExceeded at once", r.err, r.d)
	}
	select {
	case <-waits:
	default:
		t.Fatal("the second call did not wait for the construction")
	}

	closed := async(func() (string, error) { return "", inst.Close() })
	if r := await(t, closed, "Close during a hung construction"); r.err != nil {
		t.Fatal(r.err)
	}
	conn.Write([]byte{'k'}) // the construction goes on, for a closed instance
	if r := await(t, first, "the constructing call"); !errors.Is(r.err, ErrClosed) {
		t.Fatalf("the call whose construction outlived Close: %q, %v; want ErrClosed", r.s, r.err)
	}
}

// A caller waiting for another's construction, in a process that dies
// during it, starts over in a new process: nothing was sent for it.
func TestConstructionDiesWaiterRetries(t *testing.T) {
	p, inst, hold, ln := rebindSetup(t, "ctordies")
	waits := bindWaits(t)
	first := async(func() (string, error) { return echo(ctxFor(t, bound), inst, "a") })
	conn := accept(t, ln, "the construction in the new process")
	dying := p.currentForTest()
	second := async(func() (string, error) { return echo(ctxFor(t, bound), inst, "b") })
	select {
	case <-waits:
	case <-time.After(bound):
		t.Fatal("the second call did not wait for the construction")
	}
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte{'x'}) // the process ends, exit status 4

	r := await(t, first, "the constructing call")
	if r.err == nil {
		t.Fatalf("the call whose construction's process died = %q, want an error", r.s)
	}
	isCallError(t, r.err, "the constructing call")
	r = await(t, second, "the waiting call")
	if r.err != nil || r.s != "r:b" {
		t.Fatalf("the call that waited for a construction whose process died = %q, %v; want r:b from a new process", r.s, r.err)
	}
	if g := p.currentForTest(); g == dying {
		t.Fatal("the dead process still serves")
	}
}

// A process that ends while no call is in flight is not blamed on the next
// call: that one starts a new process.
func TestIdleDeath(t *testing.T) {
	p, _ := openTest(t, "idledeath", false, nil)
	inst := newInstance(t, p, &NewArgs{Prefix: "i:"})
	g, pid := p.currentForTest(), p.Pid()
	proc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, g.exited, "go-plugin's report of the end")
	if g.hostKilled.Load() || (g.how != "signal: killed" && !goosWindows) {
		t.Fatalf("the end was learnt as %q (host killed: %v), want go-plugin's report of signal: killed", g.how, g.hostKilled.Load())
	}
	mustEcho(t, inst, "i:", "x")
	if got := p.Pid(); got == pid {
		t.Fatalf("Pid() = %d, the dead process", got)
	}
}

// The answer to a call given up on is never written into its reply.
func TestAbandonedReplyUntouched(t *testing.T) {
	p, _ := openTest(t, "abandoned", false, nil)
	inst := newInstance(t, p, &NewArgs{Prefix: "a:"})
	ln := listen(t)
	var reply StringReply
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res := async(func() (string, error) {
		return "", inst.Call(ctx, "Hold", &HoldArgs{Addr: ln.Addr().String(), IgnoreContext: true}, &reply)
	})
	conn := accept(t, ln, "Hold's start")
	if r := await(t, res, "Hold with 100ms"); !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("Hold with 100ms: %v, want context.DeadlineExceeded", r.err)
	}
	conn.Write([]byte{'k'}) // the plugin answers now, to nobody
	// Calls after it on the one connection: the answer came by the last.
	for i := range 20 {
		mustEcho(t, inst, "a:", strconv.Itoa(i))
	}
	if reply.R0 != "" {
		t.Fatalf("the reply of a call given up on was written: %q", reply.R0)
	}
}

// An empty (or foreign) executable is refused with what it is and how to
// build it, not only go-plugin's "exec format error".
func TestNotAnExecutable(t *testing.T) {
	p, path := openTest(t, "empty", false, nil)
	if err := os.Remove(path); err != nil { // a link to the test binary
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := p.New(ctxFor(t, bound), &NewArgs{})
	if err == nil {
		t.Fatal("an empty executable started")
	}
	hints := runtime.Hints(err)
	if len(hints) == 0 || !strings.Contains(hints[0], "not an executable for this system") || !strings.Contains(hints[0], "plugink build -process") {
		t.Fatalf("an empty executable: %v, hints %q", err, hints)
	}
}
