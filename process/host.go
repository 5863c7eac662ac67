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
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
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
}

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
	p := &Plugin{spec: spec, instances: map[*Instance]bool{}}
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
	spec Spec
	next atomic.Uint64 // call numbers

	mu        sync.Mutex
	cur       *generation   // the process serving new calls, or nil
	starting  chan struct{} // closed when the start in progress ends
	startErr  error         // the last start's error
	failures  int           // consecutive failures, for the back-off
	retryAt   time.Time     // no start before
	gens      int           // processes started
	instances map[*Instance]bool
}

// generation is one process of a plugin.
type generation struct {
	n      int
	client *plugin.Client
	rpc    *rpc.Client
	sum    string        // the executable's SHA-256
	exited chan struct{} // closed when the process ended
	how    atomic.Value  // string: how it ended
	calls  sync.WaitGroup
	dead   atomic.Bool // lost: no new calls
}

// path returns the plugin's executable.
func (p *Plugin) path() string {
	name := p.spec.Kind + "_" + p.spec.Name
	if goruntime.GOOS == "windows" {
		name += ".exe"
	}
	return filepath.Join(pluginDir(p.spec.Dir), name)
}

// pluginDir returns the plugin directory: the -plugin_dir flag if the
// program defines it and it is set, else $PLUGINK_DIR, else def.
func pluginDir(def string) string {
	if f := flag.CommandLine.Lookup(runtime.PluginDirFlag); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	if d := os.Getenv(runtime.PluginDirEnv); d != "" {
		return d
	}
	return def
}

// current returns the process serving new calls, starting one if there
// is none (after the back-off of consecutive failures), bounded by ctx.
func (p *Plugin) current(ctx context.Context) (*generation, error) {
	for {
		p.mu.Lock()
		if g := p.cur; g != nil && !g.dead.Load() {
			g.calls.Add(1)
			p.mu.Unlock()
			return g, nil
		}
		if p.starting == nil {
			wait := time.Until(p.retryAt)
			if wait > 0 {
				p.mu.Unlock()
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return nil, p.errorf("", fmt.Errorf("waiting %v to start the plugin again after %d failures (last: %v): %w", wait.Round(time.Millisecond), p.failuresNow(), p.lastErr(), ctx.Err()))
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
			return nil, p.errorf("", fmt.Errorf("starting the plugin: %w", ctx.Err()))
		}
		p.mu.Lock()
		err := p.startErr
		if g := p.cur; g != nil && !g.dead.Load() || err == nil {
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		return nil, p.errorf("", err)
	}
}

func (p *Plugin) failuresNow() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failures
}

func (p *Plugin) lastErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startErr
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
	p.starting, p.startErr = nil, err
	if err != nil {
		p.failed()
		return
	}
	p.cur = g
}

// failed counts a failure and sets the back-off before the next start:
// none after the first, then 100ms doubling up to maxBackoff. Call with
// p.mu held.
func (p *Plugin) failed() {
	p.failures++
	if p.failures > 1 {
		d := 100 * time.Millisecond << min(p.failures-2, 6)
		p.retryAt = time.Now().Add(min(d, maxBackoff))
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
	raw, err := hex.DecodeString(sum)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.gens++
	g := &generation{n: p.gens, sum: sum, exited: make(chan struct{})}
	p.mu.Unlock()
	cmd := exec.Command(path)
	setParentDeath(cmd)
	name := p.spec.String()
	g.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake(p.spec.Kind, p.spec.Name, p.spec.Shape),
		Plugins:          plugin.PluginSet{pluginName: &rpcPlugin{}},
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: raw, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolNetRPC},
		Stderr:           &lineLog{prefix: "plugin " + name + ": "},
		Logger:           newExitLogger(name, g),
		StartTimeout:     time.Minute,
	})
	rc, err := g.client.Client()
	if err != nil {
		g.client.Kill()
		return nil, p.startError(path, err)
	}
	d, err := rc.Dispense(pluginName)
	if err != nil {
		g.client.Kill()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	g.rpc = d.(*rpc.Client)
	return g, nil
}

// startError explains a start that failed.
func (p *Plugin) startError(path string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "ncompatible API version"):
		return runtime.WithHint(fmt.Errorf("%s was built for another shape of kind %s's interface than this host (%s; this host's protocol version is %d)", path, p.spec.Kind, msg, Version(p.spec.Shape)),
			"build the plugin again from this host's manifest: plugink build")
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		return fmt.Errorf("%s changed between its check and its start: %w", path, err)
	}
	return fmt.Errorf("start %s: %w", path, err)
}

// verify checks the executable against the plugink.sum of its directory
// (required with RequireSums) and the pinned keys, and returns its SHA-256.
func (p *Plugin) verify(path string) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", runtime.WithHint(fmt.Errorf("plugin %s of %s: %w", p.spec.String(), p.spec.Manifest, err), "build the plugin's executable: plugink build")
	}
	s, err := sums.InDir(filepath.Dir(path))
	if err != nil {
		return "", err
	}
	sum, err := sums.File(path)
	if err != nil {
		return "", err
	}
	if want, ok := s.Lookup(path); ok && want != sum {
		return "", &sums.ChecksumError{Path: path, Want: want, Got: sum}
	} else if !ok && p.spec.RequireSums {
		return "", runtime.WithHint(fmt.Errorf("%w for %s, and %s requires one (dynamic.require_sums)", sums.ErrNoChecksum, path, p.spec.Manifest), "build the plugin with plugink build, which records its checksum")
	}
	var keys signature.Pinned
	keys.Add(p.spec.TrustedKeys...)
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
// serves, bounded by ctx. It always returns an instance: if the process
// cannot start or the constructor fails, the error is returned and the
// instance's next call tries again.
func (p *Plugin) New(ctx context.Context, args Args) (*Instance, error) {
	i := &Instance{p: p, args: args}
	p.mu.Lock()
	p.instances[i] = true
	p.mu.Unlock()
	g, err := p.current(ctx)
	if err != nil {
		return i, err
	}
	defer g.calls.Done()
	_, err = i.bind(ctx, g)
	return i, err
}

// Instance is an instance of the plugin's implementation, constructed in
// its process, again in each new process.
type Instance struct {
	p    *Plugin
	args Args

	mu     sync.Mutex
	gen    *generation // the process id is valid in
	id     uint64
	closed bool
}

// bind returns the instance's number on g, constructing it there if it is
// not yet.
func (i *Instance) bind(ctx context.Context, g *generation) (uint64, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return 0, i.p.errorf("", ErrClosed)
	}
	if i.gen == g {
		return i.id, nil
	}
	var r NewReply
	if err := i.p.call(ctx, g, "", "PluginkNew", i.args, &r); err != nil {
		return 0, err
	}
	if r.Err != nil {
		return 0, i.p.errorf("", fmt.Errorf("the constructor failed: %w", DecodeError(r.Err, nil)))
	}
	i.gen, i.id = g, r.Instance
	return i.id, nil
}

// Call calls method with args and waits for reply, bounded by ctx (by
// NoContextTimeout if ctx is nil). A process that ends during the call
// fails it with a [*CallError] wrapping an [*ExitError].
func (i *Instance) Call(ctx context.Context, method string, args Args, reply any) error {
	if ctx == nil {
		c, cancel := context.WithTimeout(context.Background(), NoContextTimeout)
		defer cancel()
		ctx = c
	}
	g, err := i.p.current(ctx)
	if err != nil {
		return err
	}
	defer g.calls.Done()
	id, err := i.bind(ctx, g)
	if err != nil {
		return err
	}
	args.header().Instance = id
	return i.p.call(ctx, g, method, method, args, reply)
}

// call makes one call on g, as method (the interface's, "" while
// constructing).
func (p *Plugin) call(ctx context.Context, g *generation, method, rpcMethod string, args Args, reply any) error {
	h := args.header()
	h.Call = p.next.Add(1)
	h.Deadline, _ = ctx.Deadline()
	c := g.rpc.Go("Plugin."+rpcMethod, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-c.Done:
	case <-ctx.Done():
		// Tell the plugin, without waiting: its answer, if any, is dropped.
		g.rpc.Go("Plugin.PluginkCancel", &CancelArgs{Call: h.Call}, new(struct{}), make(chan *rpc.Call, 1))
		return p.errorf(method, ctx.Err())
	}
	var se rpc.ServerError
	switch err := c.Error; {
	case err == nil:
		p.mu.Lock()
		p.failures = 0
		p.mu.Unlock()
		return nil
	case errors.As(err, &se):
		return p.errorf(method, errors.New(string(se)))
	default:
		return p.errorf(method, p.lost(ctx, g, err))
	}
}

// lost takes g out of service after its connection failed with err, and
// returns how the process ended, if it did (waiting, bounded by ctx, for
// go-plugin to see the end).
func (p *Plugin) lost(ctx context.Context, g *generation, err error) error {
	if g.dead.CompareAndSwap(false, true) {
		p.mu.Lock()
		if p.cur == g {
			p.cur = nil
			p.failed()
		}
		p.mu.Unlock()
		go g.client.Kill()
	}
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-g.exited:
		how, _ := g.how.Load().(string)
		return &ExitError{How: how}
	case <-ctx.Done():
	case <-t.C:
	}
	return fmt.Errorf("the connection to the plugin process failed: %w", err)
}

// Report logs err, the error of a call of method, which has no error
// result to return it in.
func (i *Instance) Report(method string, err error) {
	log.Printf("%v (%s has no error result to return it in)", err, method)
}

// Close releases the instance in its process; when it was the plugin's
// last instance, the process ends.
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
	last := len(p.instances) == 0
	cur := p.cur
	if last {
		p.cur = nil
	}
	p.mu.Unlock()
	if g != nil && !g.dead.Load() && !last {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c := g.rpc.Go("Plugin.PluginkRelease", &ReleaseArgs{Instance: id}, new(struct{}), make(chan *rpc.Call, 1))
		select {
		case <-c.Done:
		case <-ctx.Done():
		}
	}
	if last && cur != nil {
		cur.retire()
	}
	return nil
}

// retire takes g out of service and ends its process once the calls in
// flight have ended.
func (g *generation) retire() {
	g.dead.Store(true)
	g.calls.Wait()
	g.client.Kill()
}
