package process

import (
	"context"
	"fmt"
	"net/rpc"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// ServeConfig is what a plugin executable's generated main serves.
type ServeConfig struct {
	// Kind and Name are the plugin's kind and name, which the handshake's
	// cookie carries.
	Kind, Name string
	// Shape is the kind interface's shape, which gives the handshake's
	// protocol version.
	Shape string
	// Receiver returns the net/rpc receiver for s: a generated type that
	// embeds *Server and has one method per method of the interface.
	Receiver func(s *Server) any
}

// Serve serves c over go-plugin and does not return. Started other than by
// a plugink host (without the handshake's cookie), it says so and exits.
func Serve(c ServeConfig) {
	s := newServer()
	go exitWithParent(os.Getppid())
	stderr := os.Stderr
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake(c.Kind, c.Name, c.Shape),
		Plugins: plugin.PluginSet{pluginName: &rpcPlugin{server: func() any {
			// go-plugin has pointed os.Stderr at a pipe it copies to the
			// host over the connection: what is written just before an
			// exit is lost there. The process's own stderr, which the host
			// reads to its end before it reports the exit, loses nothing.
			// No code of the plugin has run yet: it is constructed later.
			os.Stderr = stderr
			return c.Receiver(s)
		}}},
		// go-plugin's default logs its debug messages, in JSON, on the
		// process's stderr, which the host logs line by line: its warnings
		// and errors are enough, in plain text.
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:        "go-plugin",
			Level:       hclog.Warn,
			Output:      os.Stderr,
			DisableTime: true,
		}),
	})
	os.Exit(0)
}

// exitWithParent ends the plugin process once its parent, the host, has
// ended (the process is then re-parented): a plugin outlives no host, on
// systems where the host cannot ask the kernel for that.
func exitWithParent(parent int) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != parent {
			os.Exit(1)
		}
	}
}

// pluginName is the one plugin a plugink executable serves.
const pluginName = "plugink"

// rpcPlugin is go-plugin's net/rpc plugin for one receiver.
type rpcPlugin struct {
	server func() any
}

func (p *rpcPlugin) Server(*plugin.MuxBroker) (any, error) { return p.server(), nil }

func (p *rpcPlugin) Client(_ *plugin.MuxBroker, c *rpc.Client) (any, error) { return c, nil }

// Server is the plugin side's bookkeeping: the instances the host
// constructed, and the calls in flight, by number, for their cancellation.
type Server struct {
	mu        sync.Mutex
	next      uint64
	instances map[uint64]any
	calls     map[uint64]context.CancelFunc
	// early holds the calls cancelled before they began, and when: net/rpc
	// runs each request in its own goroutine, so the host's cancellation
	// of a call can be served before the call's Begin.
	early map[uint64]time.Time
}

// earlyTTL bounds how long the cancellation of a call that has not begun
// is kept for it (a call that never begins, such as a construction, would
// leave it for ever).
const earlyTTL = time.Minute

func newServer() *Server {
	return &Server{instances: map[uint64]any{}, calls: map[uint64]context.CancelFunc{}, early: map[uint64]time.Time{}}
}

// Add registers a constructed instance and returns its number.
func (s *Server) Add(impl any) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.instances[s.next] = impl
	return s.next
}

// Begin starts a call: it returns the call's context (with the host
// context's deadline, cancelled if the host gives up on the call), the
// instance the call is for, and the function that ends the call.
func (s *Server) Begin(h Header) (context.Context, any, func(), error) {
	s.mu.Lock()
	impl, ok := s.instances[h.Instance]
	s.mu.Unlock()
	if !ok {
		return nil, nil, nil, fmt.Errorf("no instance %d in this plugin process", h.Instance)
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if !h.Deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, h.Deadline)
	} else if h.Call != 0 {
		ctx, cancel = context.WithCancel(ctx)
	}
	if h.Call != 0 {
		s.mu.Lock()
		if _, ok := s.early[h.Call]; ok {
			delete(s.early, h.Call)
			cancel()
		} else {
			s.calls[h.Call] = cancel
		}
		s.mu.Unlock()
	}
	end := func() {
		if h.Call != 0 {
			s.mu.Lock()
			delete(s.calls, h.Call)
			s.mu.Unlock()
		}
		cancel()
	}
	return ctx, impl, end, nil
}

// CancelArgs names a call the host gave up on.
type CancelArgs struct {
	// Call is the call's number.
	Call uint64
}

// PluginkCancel cancels the context of a call in flight (net/rpc method).
func (s *Server) PluginkCancel(a *CancelArgs, _ *struct{}) error {
	s.mu.Lock()
	cancel := s.calls[a.Call]
	if cancel == nil {
		// Not begun yet, or ended: Begin cancels it at once if it comes.
		now := time.Now()
		if len(s.early) >= 64 {
			for n, at := range s.early {
				if now.Sub(at) > earlyTTL {
					delete(s.early, n)
				}
			}
		}
		s.early[a.Call] = now
	}
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	return nil
}

// ReleaseArgs names an instance the host closed.
type ReleaseArgs struct {
	// Instance is the instance's number.
	Instance uint64
}

// PluginkRelease forgets an instance (net/rpc method).
func (s *Server) PluginkRelease(a *ReleaseArgs, _ *struct{}) error {
	s.mu.Lock()
	delete(s.instances, a.Instance)
	s.mu.Unlock()
	return nil
}

// DescribeArgs is the descriptor of a message the plugin does not link.
type DescribeArgs struct {
	// Name is the message's full name.
	Name string
	// Desc is a marshalled FileDescriptorSet that holds it, with its
	// imports.
	Desc []byte
}

// PluginkDescribe makes the type of a message from its descriptor, for the
// calls that carry such messages (net/rpc method).
func (s *Server) PluginkDescribe(a *DescribeArgs, _ *struct{}) error {
	return describe(a.Name, a.Desc)
}
