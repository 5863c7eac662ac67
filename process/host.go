package process

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/plugink/plugink/internal/signature"
	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/runtime"
)

// Spec is what a host knows of one process plugin: the generated code
// writes it from the manifest.
type Spec struct {
	// Kind and Name are the plugin's kind and name ("client", "brpc").
	Kind, Name string
	// Manifest is the manifest's file name, for messages.
	Manifest string
	// Dir is the default plugin directory (the manifest's dynamic.dir); the
	// -plugin_dir flag, if the program defines it, and $PLUGINK_DIR come
	// first.
	Dir string
	// Shape is the kind interface's shape, which gives the handshake's
	// protocol version.
	Shape string
	// RequireSums refuses an executable that no plugink.sum in its
	// directory lists; a listed one is verified in any case.
	RequireSums bool
	// TrustedKeys, if any, are the keys (text form) one of which must have
	// signed the executable (a .sig beside it).
	TrustedKeys []string
	// UpgradeSignal, if set ("SIGHUP"), is the signal on which the host
	// starts again each plugin whose executable changed.
	UpgradeSignal string
	// Sentinels are the kind's sentinel errors, which errors.Is finds in a
	// constructor's error that crossed (the methods' errors are decoded by
	// the generated client).
	Sentinels []Sentinel
}

// String returns "kind/name", the plugin's name in messages.
func (s Spec) String() string { return s.Kind + "/" + s.Name }

// NoContextTimeout bounds a call of a method that takes no context.
const NoContextTimeout = 30 * time.Second

// maxBackoff bounds the wait before a start after consecutive failures.
const maxBackoff = 5 * time.Second

// ErrClosed is the error of a call on a closed instance.
var ErrClosed = errors.New("the plugin client is closed")

// CallError is an error of the process plumbing of a call (not the
// plugin's own): the plugin, the method, and what went wrong.
type CallError struct {
	// Plugin is "kind/name".
	Plugin string
	// Method is the interface method, or "" for starting the plugin.
	Method string
	// Err is what went wrong: an [*ExitError], a context's error, a start
	// failure.
	Err error
}

// Error says which plugin and method failed, and how.
func (e *CallError) Error() string {
	if e.Method == "" {
		return fmt.Sprintf("plugin %s: %v", e.Plugin, e.Err)
	}
	return fmt.Sprintf("plugin %s: %s: %v", e.Plugin, e.Method, e.Err)
}

// Unwrap returns e.Err.
func (e *CallError) Unwrap() error { return e.Err }

// ExitError reports a plugin process that ended during a call.
type ExitError struct {
	// How says how it ended ("signal: killed", "exit status 2").
	How string
}

// Error says that the process ended, and how.
func (e *ExitError) Error() string {
	return "the plugin process ended during the call (" + e.How + "); the next call starts it again"
}

// registry holds the process plugins of this program, one per kind/name.
var registry = struct {
	sync.Mutex
	plugins  map[string]*Plugin
	watching map[string]bool // signals watched
}{plugins: map[string]*Plugin{}, watching: map[string]bool{}}

// Open returns the process plugin spec describes: one per kind and name in
// a program, made by the first Open. It starts nothing.
func Open(spec Spec) *Plugin {
	registry.Lock()
	defer registry.Unlock()
	key := spec.String()
	if p := registry.plugins[key]; p != nil {
		return p
	}
	p := &Plugin{spec: spec, instances: map[*Instance]bool{}, hungAfter: hungAfter}
	registry.plugins[key] = p
	if sig := spec.UpgradeSignal; sig != "" && !registry.watching[sig] {
		if s, ok := upgradeSignal(sig); ok {
			registry.watching[sig] = true
			watch(sig, s)
		}
	}
	return p
}

// Plugin is one process plugin of a host: its executable, the process
// serving new calls (at most one), and the instances constructed on it.
type Plugin struct {
	spec      Spec
	next      atomic.Uint64 // call numbers
	hungAfter time.Duration // hungAfter, but for tests

	upgrading sync.Mutex // one Upgrade at a time

	mu        sync.Mutex
	cur       *generation   // the process serving new calls, or nil
	starting  chan struct{} // closed when the start in progress ends
	startErr  error         // the last start's error
	failures  int           // consecutive failures, for the back-off
	failing   atomic.Bool   // failures > 0, read without mu by succeeded
	lastFail  error         // the last of them
	retryAt   time.Time     // no start before
	gens      int           // processes started
	instances map[*Instance]bool
}

// generation is one process of a plugin.
type generation struct {
	n      int
	client *plugin.Client
	cmd    *exec.Cmd
	rpc    *rpc.Client
	sum    string      // the executable's SHA-256 if it was checked, else ""
	info   os.FileInfo // the executable's, as it started
	stderr *lineLog    // the process's standard error, as go-plugin copies it

	dead atomic.Bool // out of service: no new calls

	// The calls in flight are counted under mu, not with a sync.WaitGroup,
	// so that a call's beginning and the retirement are decided together
	// (acquire refuses a retiring generation) whatever their order: with a
	// WaitGroup, an Add from zero concurrent with the retirement's Wait is
	// a misuse, which only the order of the updates of p.cur prevented.
	mu       sync.Mutex
	calls    int           // calls in flight
	retiring bool          // no more calls: the process ends once calls is 0
	drained  chan struct{} // closed when calls reaches 0 while retiring

	exited     chan struct{} // closed when the process ended
	exitOnce   sync.Once
	how        string // how it ended ("exit status 3"), set before exited closes
	killOnce   sync.Once
	hostKilled atomic.Bool // the host ended the process, which had not ended by itself
	watching   atomic.Bool // a cancellation's answer is awaited (watchHung)
}

// ended records how g's process ended: the first report counts.
func (g *generation) ended(how string) {
	g.exitOnce.Do(func() {
		g.how = how
		close(g.exited)
	})
}

// hasExited reports whether g's process is known to have ended.
func (g *generation) hasExited() bool {
	select {
	case <-g.exited:
		return true
	default:
		return false
	}
}

// acquire counts a call on g, unless g is retiring.
func (g *generation) acquire() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.retiring {
		return false
	}
	g.calls++
	return true
}

// release ends a call that acquire counted.
func (g *generation) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls--
	if g.calls == 0 && g.drained != nil {
		close(g.drained)
		g.drained = nil
	}
}

// retire takes g out of service and ends its process once the calls in
// flight have ended.
func (g *generation) retire() {
	g.dead.Store(true)
	g.mu.Lock()
	g.retiring = true
	var wait chan struct{}
	if g.calls > 0 {
		if g.drained == nil {
			g.drained = make(chan struct{})
		}
		wait = g.drained
	}
	g.mu.Unlock()
	if wait != nil {
		<-wait
	}
	g.kill()
}

// exitGrace bounds the wait, after the connection to a process failed, for
// go-plugin to report that the process ended, before the host ends it.
const exitGrace = time.Second

// endLost ends the process of g, whose connection failed: it has likely
// ended, or is ending; if go-plugin does not say so within exitGrace, the
// host ends it.
func (g *generation) endLost() {
	t := time.NewTimer(exitGrace)
	defer t.Stop()
	select {
	case <-g.exited:
	case <-t.C:
	}
	g.kill()
}

// kill ends g's process now, and returns once go-plugin has seen it end,
// having recorded how it ended.
//
// It kills the process itself before go-plugin's Kill: that one asks the
// plugin to quit over the connection, with no time limit (a stopped or
// wedged process blocks it for ever), then waits up to 2s for the process
// to end. The plugin side has nothing to do before it ends (Serve exits as
// soon as go-plugin's Serve returns), so nothing is lost.
//
// How the process ended comes from go-plugin's log of the end (exitLog);
// should go-plugin not log it as this package expects, the process state
// that go-plugin's Kill waited for says it instead.
func (g *generation) kill() {
	g.killOnce.Do(func() {
		// A process already waited for (it ended by itself) is done: Kill
		// fails, and the host did not end it.
		if !g.hasExited() && g.cmd.Process != nil && g.cmd.Process.Kill() == nil {
			g.hostKilled.Store(true)
			// go-plugin's Kill sends its request to quit over the
			// connection: once go-plugin has seen the end, the connection is
			// known to be closed and nothing is written to it (yamux would
			// log a failed write on stderr).
			t := time.NewTimer(exitGrace)
			select {
			case <-g.exited:
			case <-t.C:
			}
			t.Stop()
		}
		g.client.Kill()
		g.stderr.flush()
		how := "unknown"
		if ps := g.cmd.ProcessState; ps != nil {
			how = ps.String()
		}
		g.ended(how)
	})
}

// path returns the plugin's executable, an absolute path: exec.Command
// would look a bare name up in $PATH, and run a file other than the one
// verified.
func (p *Plugin) path() string {
	c := runtime.Config{Type: p.spec.Kind, Name: p.spec.Name}
	path := filepath.Join(runtime.PluginDir(nil, p.spec.Dir), c.ExecutableName(goruntime.GOOS))
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return path
}

// RegisterFlag defines the flag -plugin_dir (runtime.PluginDirFlag) on fs,
// or on flag.CommandLine if fs is nil, unless it is defined already (by
// the loader, in a dynamic host): the directory of the plugins'
// executables, def by default. The generated glue calls it from an init
// function.
func RegisterFlag(fs *flag.FlagSet, def string) {
	if fs == nil {
		fs = flag.CommandLine
	}
	if fs.Lookup(runtime.PluginDirFlag) == nil {
		fs.String(runtime.PluginDirFlag, "", fmt.Sprintf("directory of plugin executables (default %q, or $%s)", def, runtime.PluginDirEnv))
	}
}

// current returns the process serving new calls, with the call counted
// (release it), starting one if there is none (after the back-off of
// consecutive failures), bounded by ctx.
func (p *Plugin) current(ctx context.Context) (*generation, error) {
	for {
		p.mu.Lock()
		if g := p.cur; g != nil {
			if g.hasExited() {
				p.dropLocked(g, fmt.Errorf("the plugin process ended (%s)", g.how))
			} else if !g.dead.Load() && g.acquire() {
				p.mu.Unlock()
				return g, nil
			}
		}
		if p.starting == nil {
			if wait := time.Until(p.retryAt); wait > 0 {
				n, last, at := p.failures, p.lastFail, p.retryAt
				p.mu.Unlock()
				wait = wait.Round(time.Millisecond)
				// A call that cannot outlive the back-off fails now, with
				// the last failure, rather than when its context ends.
				if d, ok := ctx.Deadline(); ok && d.Before(at) {
					return nil, p.errorf("", fmt.Errorf("not starting the plugin again for %v, after %d failures in a row; the last: %w", wait, n, last))
				}
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return nil, p.errorf("", fmt.Errorf("waiting %v to start the plugin again, after %d failures in a row: %w; the last failure: %w", wait, n, context.Cause(ctx), last))
				}
				continue
			}
			p.starting = make(chan struct{})
			go p.start(p.starting)
		}
		done := p.starting
		p.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, p.errorf("", fmt.Errorf("starting the plugin: %w", context.Cause(ctx)))
		}
		p.mu.Lock()
		err := p.startErr
		p.mu.Unlock()
		if err != nil {
			return nil, p.errorf("", err)
		}
	}
}

func (p *Plugin) errorf(method string, err error) error {
	return &CallError{Plugin: p.spec.String(), Method: method, Err: err}
}

// start starts a process and makes it current, then closes done.
func (p *Plugin) start(done chan struct{}) {
	g, err := p.launch()
	p.mu.Lock()
	defer p.mu.Unlock()
	defer close(done)
	p.starting = nil
	switch {
	case err != nil:
		p.startErr = err
		p.failed(err)
	case len(p.instances) == 0:
		// Every instance closed while the process started (a New waiting
		// for it holds an instance not closed): it has nothing to serve,
		// and the calls waiting for it are on closed instances.
		p.startErr = ErrClosed
		go g.retire()
	default:
		p.startErr = nil
		p.cur = g
	}
}

// failed counts a failure, why, and sets the back-off before the next
// start: none after the first, then 100ms doubling up to maxBackoff. Call
// with p.mu held.
func (p *Plugin) failed(why error) {
	p.failing.Store(true)
	p.failures++
	p.lastFail = why
	if p.failures > 1 {
		d := 100 * time.Millisecond << min(p.failures-2, 6)
		p.retryAt = time.Now().Add(min(d, maxBackoff))
	}
}

// succeeded ends a run of failures: a call was answered. Every answered
// call comes here: without a run to end, it takes no lock.
func (p *Plugin) succeeded() {
	if !p.failing.Load() {
		return
	}
	p.mu.Lock()
	p.failures, p.lastFail, p.retryAt = 0, nil, time.Time{}
	p.failing.Store(false)
	p.mu.Unlock()
}

// dropLocked takes g out of service, once, after its process ended or its
// connection failed (why): the next call starts a process again, after the
// back-off. Call with p.mu held.
func (p *Plugin) dropLocked(g *generation, why error) {
	if !g.dead.CompareAndSwap(false, true) {
		return // dropped already, or retiring
	}
	if p.cur == g {
		p.cur = nil
		p.failed(why)
	}
	go g.endLost()
}

// monitor takes g out of service as soon as its process ends, with or
// without a call in flight: the next call starts another process rather
// than fail on the connection to one that is gone.
func (p *Plugin) monitor(g *generation) {
	<-g.exited
	p.mu.Lock()
	serving := p.cur == g && !g.dead.Load()
	p.dropLocked(g, fmt.Errorf("the plugin process ended (%s)", g.how))
	p.mu.Unlock()
	if serving && !g.hostKilled.Load() {
		// Said once here: a call in flight, if any, says it too, but the
		// end of an idle process would go unnoticed, and with it the
		// state of the instances it held.
		log.Printf("plugin %s: its process ended (%s); the next call starts it again, and constructs its instances there anew", p.spec, g.how)
	}
}

// launch starts the plugin's executable: verified against plugink.sum and
// the pinned keys first, then handed to go-plugin, whose SecureConfig
// checks the same checksum before the start.
func (p *Plugin) launch() (*generation, error) {
	path := p.path()
	sum, err := p.verify(path)
	if err != nil {
		return nil, err
	}
	var secure *plugin.SecureConfig
	if sum != "" {
		raw, err := hex.DecodeString(sum)
		if err != nil {
			return nil, err
		}
		secure = &plugin.SecureConfig{Checksum: raw, Hash: sha256.New()}
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.gens++
	n := p.gens
	p.mu.Unlock()
	name := p.spec.String()
	prefix := "plugin " + name + ": "
	g := &generation{n: n, sum: sum, info: info, exited: make(chan struct{}), stderr: &lineLog{prefix: prefix}}
	g.cmd = exec.Command(path)
	setParentDeath(g.cmd)
	g.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake(p.spec.Kind, p.spec.Name, p.spec.Shape),
		Plugins:          plugin.PluginSet{pluginName: &rpcPlugin{}},
		Cmd:              g.cmd,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolNetRPC},
		Stderr:           g.stderr,
		// Once it serves, go-plugin's Serve points the plugin's os.Stderr
		// and os.Stdout at streams over the connection, which go-plugin's
		// host side discards unless told where to copy them: what the
		// plugin prints would be lost.
		SyncStderr:   &lineLog{prefix: prefix},
		SyncStdout:   &lineLog{prefix: prefix},
		Logger:       newExitLogger(name, g),
		StartTimeout: time.Minute,
	})
	rc, err := g.client.Client()
	if err != nil {
		g.kill()
		err = p.startError(path, sum, err)
		if !g.hostKilled.Load() && g.how != "" && g.how != "unknown" {
			err = fmt.Errorf("%w (the process ended: %s)", err, g.how)
		}
		return nil, err
	}
	d, err := rc.Dispense(pluginName)
	if err != nil {
		g.kill()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	g.rpc = d.(*rpc.Client)
	go p.monitor(g)
	return g, nil
}

// buildCommand is how a process plugin's executable is built, for hints.
const buildCommand = "plugink build -process (plugink build alone, for a plugin with mode: process)"

// pluginVersion finds the plugin's protocol version in go-plugin's error
// about a version this host does not speak.
var pluginVersion = regexp.MustCompile(`Plugin version: (\d+)`)

// startError explains a start of path, whose checksum should be want,
// that failed.
func (p *Plugin) startError(path, want string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "ncompatible API version"):
		theirs := "another"
		if m := pluginVersion.FindStringSubmatch(msg); m != nil {
			theirs = m[1]
		}
		return runtime.WithHint(fmt.Errorf("%s was built for another shape of kind %s's interface than this host: its protocol version is %s, this host's %d (%w)", path, p.spec.Kind, theirs, Version(p.spec.Shape), err),
			"build the plugin again from this host's manifest: "+buildCommand)
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		got, herr := sums.File(path)
		if herr != nil {
			got = "unreadable: " + herr.Error()
		}
		return &sums.ChecksumError{Path: path, Want: want, Got: got}
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		// go-plugin's explanation is fifteen lines for a log of one.
		first, _, _ := strings.Cut(msg, "\n")
		got := strings.TrimSpace(strings.TrimPrefix(first, "Unrecognized remote plugin message:"))
		return runtime.WithHint(fmt.Errorf("%s is not a plugin executable for this host, or failed as it started: it wrote %s where the handshake was due", path, runtime.Quote(got)),
			"its standard error is in the log, prefixed with the plugin's name; build it with "+buildCommand)
	}
	if errors.Is(err, syscall.ENOEXEC) || strings.Contains(msg, "exec format error") {
		return runtime.WithHint(fmt.Errorf("start %s: %w", path, err),
			"it is not an executable for this system (damaged, empty, or built for another GOOS/GOARCH): build it again with "+buildCommand)
	}
	return fmt.Errorf("start %s: %w", path, err)
}

// verify checks the executable against the plugink.sum of its directory
// (required with RequireSums) and the pinned keys, and returns its SHA-256:
// the one plugink.sum records, else the file's if a key must have signed
// it, else "" (nothing says what the file should be).
func (p *Plugin) verify(path string) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", runtime.WithHint(fmt.Errorf("its executable: %w", err),
			fmt.Sprintf("build it where %s is: %s; or point -%s or $%s at the directory that holds it", p.spec.Manifest, buildCommand, runtime.PluginDirFlag, runtime.PluginDirEnv))
	}
	s, err := sums.InDir(filepath.Dir(path))
	if err != nil {
		return "", err
	}
	// A checksum plugink.sum records is the one go-plugin's SecureConfig
	// checks the file against before it starts it: hashing the file here
	// too would read it twice (some 17 ms each for a 19 MB executable).
	sum, ok := s.Lookup(path)
	if !ok && p.spec.RequireSums {
		return "", runtime.WithHint(fmt.Errorf("%w for %s, and %s requires one (dynamic.require_sums)", sums.ErrNoChecksum, path, p.spec.Manifest), "build the plugin with "+buildCommand+", which records its checksum")
	}
	var keys signature.Pinned
	keys.Add(p.spec.TrustedKeys...)
	if !ok && !keys.Active() {
		return "", nil // nothing to check the file against
	}
	if !ok {
		if sum, err = sums.File(path); err != nil {
			return "", err
		}
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	if real, err = filepath.Abs(real); err != nil {
		return "", err
	}
	sig, err := keys.ReadFor(path, real)
	if err != nil {
		return "", err
	}
	if err := keys.Check(sig, sum); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return sum, nil
}

// New constructs an instance on the plugin's process, starting it if none
// serves, bounded by ctx (by NoContextTimeout if ctx has no deadline). It
// always returns an instance: if the process cannot start or the
// constructor fails, the error is returned and the
// instance's next call tries again.
func (p *Plugin) New(ctx context.Context, args Args) (*Instance, error) {
	if _, ok := ctx.Deadline(); !ok {
		// A constructor the host calls without a context (the kind's
		// constructor type has none) must not hang it on a hung plugin.
		c, cancel := context.WithTimeout(ctx, NoContextTimeout)
		defer cancel()
		ctx = c
	}
	i := &Instance{p: p, args: args}
	p.mu.Lock()
	p.instances[i] = true
	p.mu.Unlock()
	for {
		g, err := p.current(ctx)
		if err != nil {
			return i, err
		}
		_, err = i.bind(ctx, g)
		g.release()
		if err != errStale {
			return i, err
		}
	}
}

// Instance is an instance of the plugin's implementation, constructed in
// its process, again in each new process.
type Instance struct {
	p    *Plugin
	args Args

	// mu is never held during a call to the process, nor with p.mu: a
	// construction in progress is the binding channel, which the instance's
	// other callers wait for bounded by their contexts (a hung constructor
	// held mu, and with it Close and every call whatever its context).
	mu      sync.Mutex
	gen     *generation   // the process id is valid in
	id      uint64        // the instance's number in gen
	binding chan struct{} // closed when the construction in progress ends
	closed  bool
}

// errStale is bind's answer for a process that went out of service before
// the instance was constructed there, or older than the one the instance
// is constructed in: nothing was sent, and the caller starts over with the
// current process.
var errStale = errors.New("the plugin process went out of service")

// testHookBindWait, if set (by tests), is called when a caller waits for
// the construction of the instance in progress.
var testHookBindWait func()

// bind returns the instance's number in g, constructing it there if it is
// not yet.
func (i *Instance) bind(ctx context.Context, g *generation) (uint64, error) {
	for {
		i.mu.Lock()
		switch {
		case i.closed:
			i.mu.Unlock()
			return 0, i.p.errorf("", ErrClosed)
		case i.gen == g:
			id := i.id
			i.mu.Unlock()
			return id, nil
		case g.dead.Load() || g.hasExited() || i.gen != nil && i.gen.n > g.n:
			i.mu.Unlock()
			return 0, errStale
		case i.binding != nil:
			wait := i.binding
			i.mu.Unlock()
			if testHookBindWait != nil {
				testHookBindWait()
			}
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return 0, i.p.errorf("", fmt.Errorf("waiting for the instance's construction: %w", context.Cause(ctx)))
			}
		}
		done := make(chan struct{})
		i.binding = done
		i.mu.Unlock()

		var r NewReply
		err := i.p.call(ctx, g, "", "PluginkNew", i.args, &r)

		i.mu.Lock()
		i.binding = nil
		close(done)
		closed := i.closed
		if err == nil && r.Err == nil && !closed {
			i.gen, i.id = g, r.Instance
		}
		i.mu.Unlock()
		switch {
		case err != nil:
			return 0, err
		case r.Err != nil:
			return 0, i.p.errorf("", fmt.Errorf("the constructor failed: %w", DecodeError(r.Err, i.p.spec.Sentinels)))
		case closed:
			// Closed during its construction: the process forgets it.
			g.rpc.Go("Plugin.PluginkRelease", &ReleaseArgs{Instance: r.Instance}, new(struct{}), make(chan *rpc.Call, 1))
			return 0, i.p.errorf("", ErrClosed)
		}
		return r.Instance, nil
	}
}

func (i *Instance) isClosed() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.closed
}

// Call calls method with args and waits for reply (a non-nil pointer),
// bounded by ctx (by NoContextTimeout if ctx is nil). A process that ends
// during the call fails it with a [*CallError] wrapping an [*ExitError].
// The reply is written only if the call succeeds.
func (i *Instance) Call(ctx context.Context, method string, args Args, reply any) error {
	if ctx == nil {
		c, cancel := context.WithTimeoutCause(context.Background(), NoContextTimeout,
			fmt.Errorf("%w: no answer within %v (%s takes no context: process.NoContextTimeout bounds it)", context.DeadlineExceeded, NoContextTimeout, method))
		defer cancel()
		ctx = c
	}
	for {
		// A closed instance starts no process to fail in.
		if i.isClosed() {
			return i.p.errorf(method, ErrClosed)
		}
		g, err := i.p.current(ctx)
		if err != nil {
			return err
		}
		id, err := i.bind(ctx, g)
		if err == errStale {
			g.release()
			continue
		}
		if err != nil {
			g.release()
			return err
		}
		args.header().Instance = id
		err = i.p.call(ctx, g, method, method, args, reply)
		g.release()
		return err
	}
}

// call makes one call on g, as method (the interface's, "" while
// constructing).
func (p *Plugin) call(ctx context.Context, g *generation, method, rpcMethod string, args Args, reply any) error {
	return p.callOnce(ctx, g, method, rpcMethod, args, reply, 0)
}

// maxDescribed bounds the descriptors one call may ask for (one per
// message it carries).
const maxDescribed = 8

// callOnce is call, after described descriptors were given for it.
func (p *Plugin) callOnce(ctx context.Context, g *generation, method, rpcMethod string, args Args, reply any, described int) error {
	rv := reflect.ValueOf(reply)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return p.errorf(method, fmt.Errorf("the reply is a %T, not a pointer to a value to fill", reply))
	}
	if err := ctx.Err(); err != nil {
		return p.errorf(method, context.Cause(ctx)) // nothing sent
	}
	h := args.header()
	n := p.next.Add(1)
	h.Call = n
	h.Deadline, _ = ctx.Deadline()
	// net/rpc decodes the answer into the value it was given whenever the
	// answer comes: that is a value of this call's own, copied into reply
	// on success, so that the answer to a call given up on never writes
	// into reply after Call returned, and no field of what reply held
	// before survives (gob sends no zero field, and leaves it as it was).
	fresh := reflect.New(rv.Type().Elem())
	c := g.rpc.Go("Plugin."+rpcMethod, args, fresh.Interface(), make(chan *rpc.Call, 1))
	select {
	case <-c.Done:
	case <-ctx.Done():
		// Tell the plugin, without waiting: its answer, if any, is dropped.
		cancel := g.rpc.Go("Plugin.PluginkCancel", &CancelArgs{Call: n}, new(struct{}), make(chan *rpc.Call, 1))
		p.watchHung(g, cancel)
		return p.errorf(method, context.Cause(ctx))
	}
	var se rpc.ServerError
	switch err := c.Error; {
	case err == nil:
		rv.Elem().Set(fresh.Elem())
		p.succeeded()
		return nil
	case errors.As(err, &se):
		if name, desc, ok := wantedDescriptor(string(se)); ok && described < maxDescribed {
			// The plugin does not link a message's type: give it the
			// descriptor and call again (it failed before calling the
			// implementation, decoding the arguments).
			d := g.rpc.Go("Plugin.PluginkDescribe", &DescribeArgs{Name: name, Desc: desc}, new(struct{}), make(chan *rpc.Call, 1))
			select {
			case <-d.Done:
				if d.Error == nil {
					return p.callOnce(ctx, g, method, rpcMethod, args, reply, described+1)
				}
				return p.errorf(method, fmt.Errorf("describe message %s to the plugin: %w", name, d.Error))
			case <-ctx.Done():
				return p.errorf(method, context.Cause(ctx))
			}
		}
		return p.errorf(method, errors.New(string(se)))
	default:
		return p.errorf(method, p.lost(ctx, g, err))
	}
}

// hungAfter is how long a plugin process may leave a cancellation
// unanswered before the host takes it for hung (stopped, or its net/rpc
// loop wedged; a slow implementation still answers one) and ends it: its
// calls in flight fail, and the next call starts the plugin again.
const hungAfter = 10 * time.Second

// watchHung ends g if it does not answer cancel, a cancellation it was
// sent, within hungAfter; one watch per process at a time.
func (p *Plugin) watchHung(g *generation, cancel *rpc.Call) {
	if !g.watching.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer g.watching.Store(false)
		t := time.NewTimer(p.hungAfter)
		defer t.Stop()
		select {
		case <-cancel.Done:
		case <-g.exited:
		case <-t.C:
			log.Printf("plugin %s: the plugin process (pid %d) answered no cancellation for %v: the host ends it; the next call starts the plugin again", p.spec, g.cmd.Process.Pid, p.hungAfter)
			p.mu.Lock()
			p.dropLocked(g, fmt.Errorf("the plugin process answered nothing for %v", p.hungAfter))
			p.mu.Unlock()
			g.kill()
		}
	}()
}

// lost takes g out of service after its connection failed with err, and
// returns how the process ended, if it did (waiting, bounded by ctx, for
// go-plugin to see the end).
func (p *Plugin) lost(ctx context.Context, g *generation, err error) error {
	p.mu.Lock()
	p.dropLocked(g, fmt.Errorf("the connection to the plugin process failed: %w", err))
	p.mu.Unlock()
	select {
	case <-g.exited:
		if !g.hostKilled.Load() {
			return &ExitError{How: g.how}
		}
		return fmt.Errorf("the connection to the plugin process failed (%w), and the host ended the process", err)
	case <-ctx.Done():
		return fmt.Errorf("the connection to the plugin process failed: %w", err)
	}
}

// Report logs err, the error of a call of method, which has no error
// result to return it in.
func (i *Instance) Report(method string, err error) {
	log.Printf("%v (%s has no error result to return it in)", err, method)
}

// Close releases the instance in its process; when it was the plugin's
// last instance, the process ends once the calls in flight have (Close
// does not wait for them). Calls after Close fail with [ErrClosed].
func (i *Instance) Close() error {
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return nil
	}
	i.closed = true
	g, id := i.gen, i.id
	i.mu.Unlock()
	p := i.p
	p.mu.Lock()
	delete(p.instances, i)
	var last *generation
	if len(p.instances) == 0 {
		last, p.cur = p.cur, nil
	}
	p.mu.Unlock()
	if last != nil {
		go last.retire()
		return nil
	}
	if g != nil && !g.dead.Load() && !g.hasExited() {
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		c := g.rpc.Go("Plugin.PluginkRelease", &ReleaseArgs{Instance: id}, new(struct{}), make(chan *rpc.Call, 1))
		select {
		case <-c.Done:
		case <-t.C:
		}
	}
	return nil
}
