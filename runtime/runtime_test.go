package runtime_test

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/runtime"
)

// A small client kind, shaped like go-micro's.
type Option func(*Options)

type Options struct{ Addr string }

type Client interface{ Addr() string }

type client struct{ o Options }

func (c client) Addr() string { return c.o.Addr }

func newClient(opts ...Option) Client {
	var o Options
	for _, f := range opts {
		f(&o)
	}
	return client{o}
}

func newOther(opts ...Option) Client { return client{Options{Addr: "other"}} }

// NewClientFunc is a named constructor type; values of it are assignable to
// the kind's unnamed func type.
type NewClientFunc func(...Option) Client

func declare(t *testing.T) (*runtime.Registry, *runtime.Kind[func(...Option) Client], map[string]func(...Option) Client) {
	t.Helper()
	r := runtime.NewRegistry()
	defaults := map[string]func(...Option) Client{"grpc": newClient}
	k, err := runtime.DeclareIn(r, "client", defaults)
	require.NoError(t, err)
	return r, k, defaults
}

func TestInitRegistersIntoTheBoundMap(t *testing.T) {
	r, k, defaults := declare(t)
	c := &runtime.Config{Name: "brpc", Type: "client", Path: "example.com/plugins/brpc", NewFunc: newClient}
	require.NoError(t, r.Init(c))

	require.Contains(t, defaults, "brpc", "the host's own map holds the plugin")
	f, err := k.Get("brpc")
	require.NoError(t, err)
	assert.Equal(t, "x", f(func(o *Options) { o.Addr = "x" }).Addr())
	assert.Equal(t, []string{"brpc", "grpc"}, k.Names())
	names, err := r.Names("client")
	require.NoError(t, err)
	assert.Equal(t, []string{"brpc", "grpc"}, names)
}

func TestInitAcceptsNamedConstructorType(t *testing.T) {
	r, k, _ := declare(t)
	require.NoError(t, r.Init(&runtime.Config{Name: "named", Type: "client", NewFunc: NewClientFunc(newOther)}))
	f, err := k.Get("named")
	require.NoError(t, err)
	assert.Equal(t, "other", f().Addr())
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name     string
		config   *runtime.Config
		sentinel error
		message  string
	}{
		{"nil config", nil, runtime.ErrInvalid, "invalid config: nil *Config"},
		{"empty type", &runtime.Config{Name: "brpc", NewFunc: newClient}, runtime.ErrInvalid,
			`plugin "brpc": invalid config: Type "" is empty: ` + runtime.KindNameRule},
		{"empty name", &runtime.Config{Type: "client", NewFunc: newClient}, runtime.ErrInvalid,
			`kind client: invalid config: Name "" is empty: ` + runtime.PluginNameRule},
		{"nil newfunc", &runtime.Config{Name: "brpc", Type: "client"}, runtime.ErrInvalid,
			`plugin "brpc" (client): invalid config: nil NewFunc`},
		{"typed nil newfunc", &runtime.Config{Name: "brpc", Type: "client", NewFunc: (func(...Option) Client)(nil)}, runtime.ErrInvalid,
			`plugin "brpc" (client): invalid config: nil NewFunc`},
		{"unknown kind", &runtime.Config{Name: "brpc", Type: "clinet", NewFunc: newClient}, runtime.ErrUnknownKind,
			`plugin "brpc": unknown kind "clinet" (declared kinds: broker, client)`},
		{"wrong signature", &runtime.Config{Name: "brpc", Type: "client", NewFunc: func() *client { return nil }}, runtime.ErrType,
			`plugin "brpc" (client): NewFunc has type func() *runtime_test.client; kind client wants func(...runtime_test.Option) runtime_test.Client`},
		{"not a func", &runtime.Config{Name: "brpc", Type: "client", NewFunc: "NewClient"}, runtime.ErrType,
			`plugin "brpc" (client): NewFunc has type string; kind client wants func(...runtime_test.Option) runtime_test.Client`},
		{"duplicate", &runtime.Config{Name: "grpc", Type: "client", NewFunc: newOther}, runtime.ErrDuplicate,
			`plugin "grpc" (client): name already registered`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, k, defaults := declare(t)
			_, err := runtime.DeclareIn(r, "broker", map[string]func() error{})
			require.NoError(t, err)

			err = r.Init(tt.config)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.sentinel)
			var perr *runtime.Error
			require.True(t, errors.As(err, &perr), "error is a *runtime.Error")
			assert.Equal(t, tt.message, err.Error())

			assert.Equal(t, []string{"grpc"}, k.Names(), "a failed Init registers nothing")
			assert.Len(t, defaults, 1)
			f, _ := k.Get("grpc")
			assert.Equal(t, "", f().Addr(), "the existing entry is untouched")
			if tt.sentinel != runtime.ErrDuplicate {
				assert.ErrorIs(t, r.Check(tt.config), tt.sentinel, "Check finds what Init would refuse")
			}
		})
	}
}

func TestReplace(t *testing.T) {
	r, k, _ := declare(t)
	require.NoError(t, r.Init(&runtime.Config{Name: "grpc", Type: "client", NewFunc: newOther}, runtime.ReplaceAll()))
	f, err := k.Get("grpc")
	require.NoError(t, err)
	assert.Equal(t, "other", f().Addr())
}

func TestRegisterIsTyped(t *testing.T) {
	_, k, _ := declare(t)
	require.NoError(t, k.Register("brpc", newOther))
	err := k.Register("brpc", newOther)
	assert.ErrorIs(t, err, runtime.ErrDuplicate)
	_, isError := err.(*runtime.Error)
	assert.True(t, isError, "one problem is an *Error itself, not joined: %T", err)
	assert.ErrorIs(t, k.Register("", newOther), runtime.ErrInvalid)
	assert.ErrorIs(t, k.Register("nil", nil), runtime.ErrInvalid)
}

func TestWithHintOfNil(t *testing.T) {
	assert.NoError(t, runtime.WithHint(nil, "a hint for nothing"))
	err := runtime.WithHint(runtime.ErrInvalid, "h")
	assert.ErrorIs(t, err, runtime.ErrInvalid)
	assert.Equal(t, []string{"h"}, runtime.Hints(err))
}

func TestInitAllIsAllOrNothing(t *testing.T) {
	r, k, _ := declare(t)
	err := r.InitAll([]*runtime.Config{
		{Name: "a", Type: "client", NewFunc: newClient},
		{Name: "b", Type: "nope", NewFunc: newClient},
		{Name: "c", Type: "client", NewFunc: 42},
		{Name: "d", Type: "client", NewFunc: newOther},
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, runtime.ErrUnknownKind)
	assert.ErrorIs(t, err, runtime.ErrType)
	assert.Contains(t, err.Error(), `plugin "b"`)
	assert.Contains(t, err.Error(), `plugin "c"`)
	assert.Equal(t, []string{"grpc"}, k.Names(), "one bad config: none registers")

	err = r.InitAll([]*runtime.Config{
		{Name: "a", Type: "client", NewFunc: newClient},
		{Name: "grpc", Type: "client", NewFunc: newOther},
		{Name: "b", Type: "client", NewFunc: newOther},
		{Name: "b", Type: "client", NewFunc: newClient},
	})
	assert.ErrorIs(t, err, runtime.ErrDuplicate)
	assert.Contains(t, err.Error(), `plugin "grpc" (client): name already registered`)
	assert.Contains(t, err.Error(), `plugin "b" (client): name already registered: given twice in one batch`)
	assert.Equal(t, []string{"grpc"}, k.Names(), "a clash: none registers")

	require.NoError(t, r.InitAll([]*runtime.Config{
		{Name: "a", Type: "client", NewFunc: newClient},
		{Name: "grpc", Type: "client", NewFunc: newOther},
	}, runtime.ReplaceAll()))
	assert.Equal(t, []string{"a", "grpc"}, k.Names())
	f, err := k.Get("grpc")
	require.NoError(t, err)
	assert.Equal(t, "other", f().Addr(), "replaced")
}

func TestReplaceNamedPlugins(t *testing.T) {
	r, k, _ := declare(t)
	require.NoError(t, k.Register("brpc", newClient))
	only := runtime.ReplaceOnly("client/grpc")
	err := r.InitAll([]*runtime.Config{
		{Name: "grpc", Type: "client", NewFunc: newOther},
		{Name: "brpc", Type: "client", NewFunc: newOther},
	}, only)
	require.ErrorIs(t, err, runtime.ErrDuplicate)
	assert.Contains(t, err.Error(), `plugin "brpc" (client)`)
	assert.NotContains(t, err.Error(), `plugin "grpc" (client)`, "grpc may replace")

	require.NoError(t, r.Init(&runtime.Config{Name: "grpc", Type: "client", NewFunc: newOther}, only))
	assert.ErrorIs(t, r.Init(&runtime.Config{Name: "brpc", Type: "client", NewFunc: newOther}, only), runtime.ErrDuplicate)
	f, err := k.Get("grpc")
	require.NoError(t, err)
	assert.Equal(t, "other", f().Addr())
}

// TestInitAllRacesInit runs batches against single registrations of the
// same names: each name ends up registered once, each batch whole or not
// at all.
func TestInitAllRacesInit(t *testing.T) {
	r, k, _ := declare(t)
	const rounds = 200
	var wg sync.WaitGroup
	var batchOK, singleOK atomic.Int64
	wg.Go(func() {
		for i := range rounds {
			err := r.InitAll([]*runtime.Config{
				{Name: fmt.Sprintf("x%d", i), Type: "client", NewFunc: newOther},
				{Name: fmt.Sprintf("y%d", i), Type: "client", NewFunc: newOther},
			})
			if err == nil {
				batchOK.Add(1)
			}
		}
	})
	wg.Go(func() {
		for i := range rounds {
			if r.Init(&runtime.Config{Name: fmt.Sprintf("y%d", i), Type: "client", NewFunc: newClient}) == nil {
				singleOK.Add(1)
			}
		}
	})
	wg.Wait()
	assert.Equal(t, int64(rounds), batchOK.Load()+singleOK.Load(), "each y<i> registered exactly once")
	names := k.Names()
	assert.Len(t, names, 1+rounds+int(batchOK.Load()), "grpc, every y<i>, and x<i> only with its batch")
	for i := range rounds {
		_, errX := k.Get(fmt.Sprintf("x%d", i))
		_, errY := k.Get(fmt.Sprintf("y%d", i))
		require.NoError(t, errY)
		f, _ := k.Get(fmt.Sprintf("y%d", i))
		if errX == nil {
			assert.Equal(t, "other", f().Addr(), "y%d came with its batch", i)
		} else {
			assert.Empty(t, f().Addr(), "y%d came alone, its batch registered nothing", i)
		}
	}
}

func TestDeclare(t *testing.T) {
	r := runtime.NewRegistry()
	m := map[string]func() int{}
	k1, err := runtime.DeclareIn(r, "counter", m)
	require.NoError(t, err)
	k2, err := runtime.DeclareIn(r, "counter", m)
	require.NoError(t, err)
	assert.Same(t, k1, k2, "declaring the same map twice is idempotent")
	assert.Equal(t, "counter", k1.Name())
	assert.Equal(t, "func() int", k1.ConstructorType().String())

	_, err = runtime.DeclareIn(r, "counter", map[string]func() int{})
	assert.ErrorIs(t, err, runtime.ErrKindConflict)
	_, err = runtime.DeclareIn(r, "counter", map[string]func() string{})
	assert.ErrorIs(t, err, runtime.ErrKindConflict)
	assert.EqualError(t, err, "kind counter: already declared over another map (func() int); cannot bind func() string")

	_, err = runtime.DeclareIn(r, "notfunc", map[string]int{})
	assert.ErrorIs(t, err, runtime.ErrInvalid)
	_, err = runtime.DeclareIn(r, "bad name", map[string]func(){})
	assert.ErrorIs(t, err, runtime.ErrInvalid)
	_, err = runtime.DeclareIn(r, "", map[string]func(){})
	assert.ErrorIs(t, err, runtime.ErrInvalid)

	k, err := runtime.DeclareIn[func()](r, "nilmap", nil)
	require.NoError(t, err)
	require.NoError(t, k.Register("x", func() {}))
	assert.Equal(t, []string{"counter", "nilmap"}, r.Kinds())
	ct, err := r.ConstructorType("counter")
	require.NoError(t, err)
	assert.Equal(t, "func() int", ct.String())
	_, err = r.ConstructorType("missing")
	assert.ErrorIs(t, err, runtime.ErrUnknownKind)
	_, err = r.Names("missing")
	assert.ErrorIs(t, err, runtime.ErrUnknownKind)

	var zero runtime.Registry
	assert.Empty(t, zero.Kinds())
	assert.ErrorIs(t, zero.Init(&runtime.Config{Name: "x", Type: "counter", NewFunc: func() int { return 1 }}), runtime.ErrUnknownKind)
	_, err = runtime.DeclareIn(&zero, "counter", map[string]func() int{})
	require.NoError(t, err, "the zero Registry is usable")
	require.NoError(t, zero.Init(&runtime.Config{Name: "x", Type: "counter", NewFunc: func() int { return 1 }}))
}

func TestSelectFlagWinsOverEnv(t *testing.T) {
	tests := []struct {
		name, env string
		args      []string
		want      string
	}{
		{"default", "", nil, "grpc"},
		{"env", "brpc", nil, "brpc"},
		{"flag", "", []string{"--client=brpc"}, "brpc"},
		{"flag wins", "grpc", []string{"-client", "brpc"}, "brpc"},
		{"empty env is unset", "", nil, "grpc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MICRO_CLIENT", tt.env)
			r, k, _ := declare(t)
			require.NoError(t, r.Init(&runtime.Config{Name: "brpc", Type: "client", NewFunc: newOther}))
			fs := flag.NewFlagSet("svc", flag.ContinueOnError)
			k.RegisterFlag(fs)
			require.NoError(t, fs.Parse(tt.args))
			name, f, err := k.Select("grpc")
			require.NoError(t, err)
			assert.Equal(t, tt.want, name)
			assert.NotNil(t, f)
		})
	}
}

func TestSelectUnknownNameListsAvailable(t *testing.T) {
	t.Setenv("MICRO_CLIENT", "")
	_, k, _ := declare(t)
	require.NoError(t, k.Register("brpc", newOther))
	fs := flag.NewFlagSet("svc", flag.ContinueOnError)
	k.RegisterFlag(fs)
	require.NoError(t, fs.Parse([]string{"--client=thrift"}))
	_, _, err := k.Select("grpc")
	assert.ErrorIs(t, err, runtime.ErrUnknownName)
	assert.EqualError(t, err, `kind client: unknown name "thrift" (available: brpc, grpc)`)
}

func TestRegisterFlagUsageNamesEnvVar(t *testing.T) {
	_, k, _ := declare(t)
	fs := flag.NewFlagSet("svc", flag.ContinueOnError)
	k.RegisterFlag(fs)
	f := fs.Lookup("client")
	require.NotNil(t, f)
	assert.Contains(t, f.Usage, "MICRO_CLIENT")
	assert.Equal(t, "MICRO_SERVER_TRANSPORT", runtime.EnvVar("server-transport"))
}

func TestDefaultRegistry(t *testing.T) {
	m := map[string]func() string{}
	k := runtime.MustDeclare("runtime-test-kind", m)
	require.NoError(t, runtime.Init(&runtime.Config{Name: "a", Type: "runtime-test-kind", NewFunc: func() string { return "a" }}))
	require.NoError(t, runtime.InitAll([]*runtime.Config{{Name: "b", Type: "runtime-test-kind", NewFunc: func() string { return "b" }}}))
	assert.Equal(t, []string{"a", "b"}, k.Names())
	assert.Panics(t, func() { runtime.MustDeclare("runtime-test-kind", map[string]func() string{}) })
	assert.Equal(t, "client/brpc", (&runtime.Config{Name: "brpc", Type: "client"}).String())
}

func TestFuncIsIdentity(t *testing.T) {
	m := map[string]func(...Option) Client{}
	f := runtime.TypeCheck(m, newOther)
	assert.Equal(t, "other", f().Addr())
	_, k, _ := declare(t)
	assert.Equal(t, "other", k.TypeCheck(newOther)().Addr())
}

// TestConcurrentInitAndLookup runs registrations while other goroutines look
// names up and select; `go test -race` checks the locking.
func TestConcurrentInitAndLookup(t *testing.T) {
	r, k, _ := declare(t)
	const writers, readers, per = 4, 4, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				c := &runtime.Config{Name: fmt.Sprintf("p%d-%d", w, i), Type: "client", NewFunc: newOther}
				if err := r.Init(c); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range per {
				if f, err := k.Get("grpc"); err != nil || f == nil {
					t.Error("grpc vanished")
				}
				_ = k.Names()
				_, _, _ = k.Select("grpc")
				_ = r.Kinds()
			}
		})
	}
	wg.Wait()
	assert.Len(t, k.Names(), writers*per+1)
	for _, n := range k.Names() {
		assert.True(t, n == "grpc" || strings.HasPrefix(n, "p"))
	}
}

// TestSelectWhileParsing: flag.Parse may set the flag while another
// goroutine already selects (a server starting its handlers early); under
// go test -race this failed before the flag value was locked.
func TestSelectWhileParsing(t *testing.T) {
	t.Setenv("MICRO_CLIENT", "")
	_, k, _ := declare(t)
	fs := flag.NewFlagSet("svc", flag.ContinueOnError)
	k.RegisterFlag(fs)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 100 {
			_ = k.Choice("grpc")
		}
	})
	for range 100 {
		require.NoError(t, fs.Parse([]string{"--client=grpc"}))
	}
	wg.Wait()
	assert.Equal(t, "grpc", k.Choice("x"))
}

func TestNotify(t *testing.T) {
	r, k, _ := declare(t)
	changed := make(chan string, 4)
	k.Notify(changed)
	require.NoError(t, k.Register("a", newClient))
	require.NoError(t, r.InitAll([]*runtime.Config{{Name: "b", Type: "client", NewFunc: newClient}}))
	require.Error(t, k.Register("a", newClient), "a failed registration changes nothing")
	require.NoError(t, k.Register("a", newOther, runtime.ReplaceOnly("client/a")))
	assert.Equal(t, []string{"a", "b", "a"}, drain(changed))

	full := make(chan string) // unbuffered, nobody reading: sends are dropped, never block
	k.Notify(full)
	require.NoError(t, k.Register("c", newClient))
	assert.Equal(t, []string{"c"}, drain(changed))

	k.StopNotify(changed)
	require.NoError(t, k.Register("d", newClient))
	assert.Empty(t, drain(changed))
}

// drain returns what c holds.
func drain(c chan string) []string {
	var got []string
	for {
		select {
		case s := <-c:
			got = append(got, s)
		default:
			return got
		}
	}
}

func TestExecutableName(t *testing.T) {
	c := &runtime.Config{Type: "client", Name: "brpc"}
	for _, tc := range []struct{ goos, want string }{{"linux", "client_brpc"}, {"", "client_brpc"}, {"windows", "client_brpc.exe"}} {
		if got := c.ExecutableName(tc.goos); got != tc.want {
			t.Errorf("ExecutableName(%q) = %q, want %q", tc.goos, got, tc.want)
		}
	}
}
