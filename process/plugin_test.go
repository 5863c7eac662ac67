package process

// The tests of this file run real plugin processes: the test binary itself,
// copied into a temporary plugin directory under the plugin's file name.
// Started by a host (go-plugin sets the cookie variable), TestMain serves
// testPlugin, a receiver written by hand the way generated code writes
// one. Every wait is on an event (a channel, an accepted connection, a
// call's return), bounded so that a bug fails a test instead of hanging it.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plugink/plugink/runtime"
)

// testShape is the shape the test plugin serves: a host whose Spec has
// another one is refused at the handshake.
const testShape = "testkind: interface { Echo(string) string; Fail() error } // v1"

// testKind is the kind of every test plugin; each test names its own plugin,
// since Open keeps one *Plugin per kind/name in a process.
const testKind = "testkind"

// errNotFound is the test kind's sentinel error.
var errNotFound = errors.New("testkind: not found")

// testSentinels is what generated code would list for the test kind.
var testSentinels = []Sentinel{{Name: "testkind.ErrNotFound", Err: errNotFound}}

func TestMain(m *testing.M) {
	if v := os.Getenv(CookieKey); v != "" {
		kind, name, _ := strings.Cut(v, "/")
		Serve(ServeConfig{Kind: kind, Name: name, Shape: testShape, Receiver: func(s *Server) any {
			return &testPlugin{Server: s}
		}})
		return // not reached: Serve exits
	}
	// The plugin directory is the Spec's in these tests, whatever the
	// environment says.
	os.Unsetenv(runtime.PluginDirEnv)
	os.Exit(m.Run())
}

// The argument and reply types, as generated code declares them.
type (
	// NewArgs constructs a test instance.
	NewArgs struct {
		Header
		// Prefix is what Echo puts before its message.
		Prefix string
		// Fail makes the constructor fail.
		Fail bool
		// HoldFile and HoldAddr: if the file HoldFile exists when the
		// constructor runs, it connects to HoldAddr and waits for a byte
		// there: 'x' ends the process (exit status 4); anything else, or
		// the connection's end, lets the construction go on.
		HoldFile, HoldAddr string
	}
	// EchoArgs is Echo's.
	EchoArgs struct {
		Header
		Msg string
	}
	// EchoReply is Echo's: R1 is always nil.
	EchoReply struct {
		R0 string
		R1 *Error
	}
	// FailArgs is Fail's.
	FailArgs struct{ Header }
	// ErrReply is the reply of a method whose only result is an error.
	ErrReply struct{ R0 *Error }
	// SleepArgs is Sleep's and WaitCancelled's.
	SleepArgs struct {
		Header
		// Addr, if set, is where Sleep connects once it began.
		Addr string
	}
	// BoolReply is WaitCancelled's.
	BoolReply struct{ R0 bool }
	// SayArgs is Say's.
	SayArgs struct {
		Header
		Line string
	}
	// HoldArgs is Hold's.
	HoldArgs struct {
		Header
		// Addr is where Hold connects; it returns once a byte comes there
		// or the connection ends.
		Addr string
		// IgnoreContext makes Hold wait for that even after its context
		// ended (a plugin that does not honour cancellation).
		IgnoreContext bool
	}
	// StringReply is Hold's.
	StringReply struct{ R0 string }
)

// processStderr is the process's standard error: go-plugin's Serve points
// os.Stderr elsewhere.
var processStderr = os.Stderr

// testPlugin is the receiver: what generated code would write for the
// test kind.
type testPlugin struct {
	*Server
}

// testImpl is an instance of the test kind's implementation.
type testImpl struct {
	prefix    string
	once      sync.Once
	cancelled chan struct{} // closed when a Sleep saw its context end
}

func (t *testPlugin) PluginkNew(a *NewArgs, r *NewReply) error {
	if a.HoldFile != "" {
		if _, err := os.Stat(a.HoldFile); err == nil {
			c, err := net.Dial("tcp", a.HoldAddr)
			if err != nil {
				return err
			}
			var b [1]byte
			n, _ := c.Read(b[:])
			c.Close()
			if n == 1 && b[0] == 'x' {
				os.Exit(4)
			}
		}
	}
	if a.Fail {
		r.Err = EncodeError(fmt.Errorf("constructor refused %q: %w", a.Prefix, errNotFound), testSentinels)
		return nil
	}
	r.Instance = t.Server.Add(&testImpl{prefix: a.Prefix, cancelled: make(chan struct{})})
	return nil
}

func (t *testPlugin) begin(h Header) (context.Context, *testImpl, func(), error) {
	ctx, impl, end, err := t.Server.Begin(h)
	if err != nil {
		return nil, nil, nil, err
	}
	return ctx, impl.(*testImpl), end, nil
}

func (t *testPlugin) Echo(a *EchoArgs, r *EchoReply) error {
	_, impl, end, err := t.begin(a.Header)
	if err != nil {
		return err
	}
	defer end()
	r.R0 = impl.prefix + a.Msg
	return nil
}

func (t *testPlugin) Fail(a *FailArgs, r *ErrReply) error {
	_, _, end, err := t.begin(a.Header)
	if err != nil {
		return err
	}
	defer end()
	r.R0 = EncodeError(fmt.Errorf("lookup %q: %w", "key", errNotFound), testSentinels)
	return nil
}

func (t *testPlugin) Sleep(a *SleepArgs, r *BoolReply) error {
	ctx, impl, end, err := t.begin(a.Header)
	if err != nil {
		return err
	}
	defer end()
	if a.Addr != "" {
		c, err := net.Dial("tcp", a.Addr)
		if err != nil {
			return err
		}
		c.Close()
	}
	<-ctx.Done()
	impl.once.Do(func() { close(impl.cancelled) })
	return nil
}

func (t *testPlugin) WaitCancelled(a *SleepArgs, r *BoolReply) error {
	ctx, impl, end, err := t.begin(a.Header)
	if err != nil {
		return err
	}
	defer end()
	select {
	case <-impl.cancelled:
		r.R0 = true
	case <-ctx.Done():
	}
	return nil
}

func (t *testPlugin) Exit(a *SleepArgs, r *BoolReply) error {
	fmt.Fprintln(os.Stderr, "last words")
	os.Exit(3)
	return nil
}

func (t *testPlugin) Say(a *SayArgs, r *BoolReply) error {
	_, _, end, err := t.begin(a.Header)
	if err != nil {
		return err
	}
	defer end()
	fmt.Fprintln(os.Stderr, a.Line)
	fmt.Fprintln(processStderr, a.Line+" (fd 2)")
	return nil
}

func (t *testPlugin) Hold(a *HoldArgs, r *StringReply) error {
	ctx, _, end, err := t.begin(a.Header)
	if err != nil {
		return err
	}
	defer end()
	c, err := net.Dial("tcp", a.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	read := make(chan struct{})
	go func() {
		var b [1]byte
		c.Read(b[:])
		close(read)
	}()
	if a.IgnoreContext {
		<-read
		r.R0 = "released"
		return nil
	}
	select {
	case <-read:
		r.R0 = "released"
	case <-ctx.Done():
		r.R0 = "cancelled"
	}
	return nil
}

// --- the host side's helpers ---

// bound is how long a test waits for something that should happen at
// once: long enough for a loaded machine and the race detector, short
// enough that a hang fails the test.
const bound = 20 * time.Second

// testExe is the test binary, which serves the test plugin.
var testExe = func() string {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return exe
}()

// exeName is the file name of the plugin name's executable.
func exeName(name string) string {
	n := testKind + "_" + name
	if goosWindows {
		n += ".exe"
	}
	return n
}

// writeExe writes the test binary, then extra, to path: a new file
// renamed into place, as a build does (a running executable cannot be
// written).
func writeExe(t testing.TB, path string, extra []byte) {
	t.Helper()
	src, err := os.Open(testExe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tmp := path + ".tmp"
	dst, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(dst, src)
	if err == nil {
		_, err = dst.Write(extra)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// install puts the test plugin's executable at path (a hard link to the
// test binary where it can, else a copy).
func install(t testing.TB, path string) {
	t.Helper()
	if err := os.Link(testExe, path); err != nil {
		writeExe(t, path, nil)
	}
}

// seq numbers the plugins of the tests: Open keeps one *Plugin per
// kind/name in a process, and go test -count=n runs a test n times.
var seq atomic.Int64

// openTest opens the test plugin name (made unique in the process) in a
// new directory, and returns it and its executable's path; the executable
// is in place unless missing. edit, if not nil, changes the Spec first.
func openTest(t testing.TB, name string, missing bool, edit func(*Spec)) (*Plugin, string) {
	t.Helper()
	dir := t.TempDir()
	name = fmt.Sprintf("%s%d", name, seq.Add(1))
	path := filepath.Join(dir, exeName(name))
	if !missing {
		install(t, path)
	}
	spec := Spec{Kind: testKind, Name: name, Dir: dir, Shape: testShape, Manifest: "plugink.yaml"}
	if edit != nil {
		edit(&spec)
	}
	p := Open(spec)
	if p.spec.Dir != dir || p.path() != path {
		t.Fatalf("plugin %s: opened %s, want %s", name, p.path(), path)
	}
	return p, path
}

// ctxFor returns a context that ends after d and is cancelled at the
// test's end.
func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newInstance constructs an instance, closed at the test's end.
func newInstance(t testing.TB, p *Plugin, args *NewArgs) *Instance {
	t.Helper()
	inst, err := p.New(ctxFor(t, bound), args)
	if inst != nil {
		t.Cleanup(func() { inst.Close() })
	}
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return inst
}

// echo calls Echo.
func echo(ctx context.Context, inst *Instance, msg string) (string, error) {
	var r EchoReply
	err := inst.Call(ctx, "Echo", &EchoArgs{Msg: msg}, &r)
	if err == nil && r.R1 != nil {
		err = DecodeError(r.R1, testSentinels)
	}
	return r.R0, err
}

// mustEcho calls Echo and fails the test if it does not answer prefix+msg.
func mustEcho(t testing.TB, inst *Instance, prefix, msg string) {
	t.Helper()
	got, err := echo(ctxFor(t, bound), inst, msg)
	if err != nil {
		t.Fatalf("Echo(%q): %v", msg, err)
	}
	if got != prefix+msg {
		t.Fatalf("Echo(%q) = %q, want %q", msg, got, prefix+msg)
	}
}

// current returns the generation serving new calls, or nil.
func (p *Plugin) currentForTest() *generation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// waitClosed waits for c to be closed, failing the test after bound.
func waitClosed(t testing.TB, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(bound):
		t.Fatalf("%s: not after %v", what, bound)
	}
}

// result is the outcome of a call made in another goroutine.
type result struct {
	s   string
	err error
	d   time.Duration
}

// async runs f in a goroutine and returns the channel of its result.
func async(f func() (string, error)) <-chan result {
	c := make(chan result, 1)
	start := time.Now()
	go func() {
		s, err := f()
		c <- result{s, err, time.Since(start)}
	}()
	return c
}

// await returns the result c gives, failing the test after bound.
func await(t testing.TB, c <-chan result, what string) result {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(bound):
		t.Fatalf("%s: no answer after %v", what, bound)
		return result{}
	}
}

// listen returns a TCP listener on the loopback interface, closed at the
// test's end.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// accept waits for a connection to ln, failing the test after bound.
func accept(t testing.TB, ln net.Listener, what string) net.Conn {
	t.Helper()
	c := make(chan net.Conn, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			close(c)
			return
		}
		c <- conn
	}()
	select {
	case conn, ok := <-c:
		if !ok {
			t.Fatalf("%s: the listener closed", what)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	case <-time.After(bound):
		ln.Close()
		t.Fatalf("%s: no connection after %v", what, bound)
		return nil
	}
}

// logWatch captures the standard logger's lines while a test runs, and
// signals each wanted line (seen[i] closes when a line equal to wants[i]
// was logged).
type logWatch struct {
	wants []string
	seen  []chan struct{}
	mu    sync.Mutex
	all   strings.Builder
	part  string
}

func watchLog(t testing.TB, wants ...string) *logWatch {
	w := &logWatch{wants: wants}
	for range wants {
		w.seen = append(w.seen, make(chan struct{}))
	}
	prev, flags := logWriter(), logFlags()
	setLog(w, 0)
	t.Cleanup(func() { setLog(prev, flags) })
	return w
}

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	w.part += string(p)
	for {
		line, rest, ok := strings.Cut(w.part, "\n")
		if !ok {
			break
		}
		w.part = rest
		for i, want := range w.wants {
			if line == want {
				select {
				case <-w.seen[i]:
				default:
					close(w.seen[i])
				}
			}
		}
	}
	return len(p), nil
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

var goosWindows = goruntime.GOOS == "windows"

func logWriter() io.Writer          { return log.Writer() }
func logFlags() int                 { return log.Flags() }
func setLog(w io.Writer, flags int) { log.SetOutput(w); log.SetFlags(flags) }
