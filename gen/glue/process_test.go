package glue

import (
	"bufio"
	"bytes"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dave/jennifer/jen"
	"golang.org/x/tools/go/gcexportdata"
	"golang.org/x/tools/go/packages"

	"github.com/plugink/plugink/internal/testmod"
)

// echoPlugin implements the kind of testdata/client.go.txt.
const echoPlugin = `package echo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"example.com/svc/client"
)

type impl struct {
	mu        sync.Mutex
	o         client.Options
	calls     int64
	cancelled int64
	notified  string
}

func NewClient(opts ...client.Option) client.Client {
	o := client.Options{Address: "default:1", Timeout: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	return &impl{o: o}
}

func (c *impl) Call(ctx context.Context, service, method string, req, rsp proto.Message, opts ...client.CallOption) error {
	co := client.CallOptions{Retries: 1}
	for _, f := range opts {
		f(&co)
	}
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	switch method {
	case "echo":
		rsp.(*wrapperspb.StringValue).Value = fmt.Sprintf("%s@%s retries=%d", req.(*wrapperspb.StringValue).GetValue(), c.o.Address, co.Retries)
		return nil
	case "missing":
		return fmt.Errorf("lookup %s: %w", service, client.ErrNotFound)
	case "slow":
		select {
		case <-ctx.Done():
			c.mu.Lock()
			c.cancelled++
			c.mu.Unlock()
			return ctx.Err()
		case <-time.After(20 * time.Second):
			return errors.New("the call's context did not end")
		}
	}
	return fmt.Errorf("no method %s", method)
}

func (c *impl) Close() error { return nil }

func (c *impl) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("echo address=%s timeout=%v%s", c.o.Address, c.o.Timeout, c.notified)
}

func (c *impl) Stats(ctx context.Context, since time.Time, into *client.Stats) (map[string]int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	into.Calls, into.Last = c.calls, since
	return map[string]int64{"cancelled": c.cancelled}, nil
}

func (c *impl) Lookup(ctx context.Context, names ...string) (*client.Node, error) {
	if len(names) == 0 {
		return nil, nil
	}
	return &client.Node{Name: names[0], Addrs: names, Meta: map[string]string{"k": "v"}}, nil
}

func (c *impl) Echo(in *wrapperspb.StringValue) (*wrapperspb.StringValue, proto.Message, error) {
	out := wrapperspb.String(in.GetValue() + "!")
	in.Value += "?"
	return out, wrapperspb.String("any"), nil
}

func (c *impl) Mode() client.Mode { return 7 }

func (c *impl) Notify(err error) {
	if errors.Is(err, client.ErrClosed) {
		c.mu.Lock()
		c.notified = " notified=" + err.Error()
		c.mu.Unlock()
	}
}

func (c *impl) Bump(n *int) { *n -= 5 }
`

// storeKind is a second kind, whose constructor returns an error and
// takes plain values and an option without context fields.
const storeKind = `package store

import "errors"

var ErrFull = errors.New("store: full")

type Options struct {
	Size int
	Tags []string
}

type Option func(*Options)

func Size(n int) Option { return func(o *Options) { o.Size = n } }

type Store interface {
	Get(key string) (string, bool)
	Put(key, value string) error
}

var Stores = map[string]func(name string, limit *int, opts ...Option) (Store, error){}
`

const memPlugin = `package mem

import (
	"errors"
	"fmt"

	"example.com/svc/store"
)

type mem struct {
	o     store.Options
	name  string
	limit int
	m     map[string]string
}

func New(name string, limit *int, opts ...store.Option) (store.Store, error) {
	if name == "" {
		return nil, errors.New("mem: no name")
	}
	o := store.Options{Size: 10, Tags: []string{"default"}}
	for _, f := range opts {
		f(&o)
	}
	s := &mem{o: o, name: name, limit: -1, m: map[string]string{}}
	if limit != nil {
		s.limit = *limit
	}
	return s, nil
}

func (s *mem) Get(key string) (string, bool) {
	if key == "config" {
		return fmt.Sprintf("%s size=%d tags=%v limit=%d", s.name, s.o.Size, s.o.Tags, s.limit), true
	}
	v, ok := s.m[key]
	return v, ok
}

func (s *mem) Put(key, value string) error {
	if len(s.m) >= s.limit {
		return fmt.Errorf("put %s: %w", key, store.ErrFull)
	}
	s.m[key] = value
	return nil
}
`

// hostMain calls through the generated client, checks what comes back,
// and prints PASS.
const hostMain = `package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"example.com/svc/client"
	"example.com/svc/store"
	pluginkprocess "github.com/plugink/plugink/process"
)

var failed bool

func check(ok bool, format string, args ...any) {
	if !ok {
		failed = true
		fmt.Printf("FAIL: "+format+"\n", args...)
	}
}

type key struct{}

func main() {
	client.DefaultClients["echo"] = pluginkProcessClient(pluginkprocess.Spec{Kind: "client", Name: "echo", Manifest: "plugink.yaml", Dir: os.Args[1], Shape: pluginkShapeClient})
	c := client.DefaultClients["echo"](client.Address("host:9"))
	ctx := context.Background()

	req, rsp := wrapperspb.String("hi"), &wrapperspb.StringValue{}
	err := c.Call(ctx, "svc", "echo", req, rsp, client.WithRetries(2))
	check(err == nil && rsp.GetValue() == "hi@host:9 retries=2", "echo with an option: %v, %q", err, rsp.GetValue())
	err = c.Call(ctx, "svc", "echo", req, rsp)
	check(err == nil && rsp.GetValue() == "hi@host:9 retries=1", "echo, the plugin's default option: %v, %q", err, rsp.GetValue())
	err = c.Call(ctx, "svc", "echo", req, rsp, client.WithRetries(0))
	check(err == nil && rsp.GetValue() == "hi@host:9 retries=0", "echo with an option that sets zero: %v, %q", err, rsp.GetValue())
	check(req.GetValue() == "hi", "req changed: %q", req.GetValue())

	err = c.Call(ctx, "svc", "missing", req, rsp)
	check(errors.Is(err, client.ErrNotFound) && err.Error() == "lookup svc: client: not found", "a sentinel error: %v", err)

	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	start := time.Now()
	err = c.Call(dctx, "svc", "slow", req, rsp)
	cancel()
	check(errors.Is(err, context.DeadlineExceeded) && time.Since(start) < 5*time.Second, "a call past its deadline: %v after %v", err, time.Since(start))

	check(c.String() == "echo address=host:9 timeout=5s", "String (the host's option, the plugin's default): %q", c.String())

	n := 5
	c.Bump(&n)
	check(n == 0, "a pointer to a zero copied back: %d", n)

	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var cancelled int64
	for range 20 {
		var st client.Stats
		m, err := c.Stats(ctx, since, &st)
		check(err == nil && st.Calls == 5 && st.Last.Equal(since), "Stats: %v, %+v", err, st)
		if cancelled = m["cancelled"]; cancelled == 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	check(cancelled == 1, "the plugin's context did not end with the host's deadline")

	node, err := c.Lookup(ctx, "a", "b")
	check(err == nil && node != nil && node.Name == "a" && len(node.Addrs) == 2 && node.Meta["k"] == "v", "Lookup: %v, %+v", err, node)
	node, err = c.Lookup(ctx)
	check(err == nil && node == nil, "Lookup of nothing: %v, %+v", err, node)

	in := wrapperspb.String("x")
	out, msg, err := c.Echo(in)
	sv, _ := msg.(*wrapperspb.StringValue)
	check(err == nil && out.GetValue() == "x!" && sv.GetValue() == "any" && in.GetValue() == "x?", "Echo: %v, %v, %v, %v", err, out, msg, in)

	check(c.Mode() == client.Mode(7), "Mode: %v", c.Mode())

	c.Notify(fmt.Errorf("wrapped: %w", client.ErrClosed))
	check(strings.HasSuffix(c.String(), " notified=wrapped: client: closed"), "Notify with a sentinel: %q", c.String())

	vctx := context.WithValue(ctx, key{}, 1)
	err = c.Call(ctx, "svc", "echo", req, rsp, client.WithCallContext(vctx))
	check(err != nil && strings.Contains(err.Error(), "client.CallOptions.Context holds a context"), "a call option's context: %v", err)
	bad := client.DefaultClients["echo"](client.WithContext(vctx))
	err = bad.Close()
	check(err != nil && strings.Contains(err.Error(), "client.Options.Context holds a context"), "an option's context: %v", err)
	check(client.DefaultClients["echo"](client.WithContext(context.Background())).Close() == nil, "context.Background() crosses")

	check(c.Close() == nil, "Close")

	newStore := pluginkProcessStore(pluginkprocess.Spec{Kind: "store", Name: "mem", Manifest: "plugink.yaml", Dir: os.Args[1], Shape: pluginkShapeStore})
	limit := 1
	st, err := newStore("a", &limit, store.Size(3))
	check(err == nil && st != nil, "a constructor with an error result: %v", err)
	v, ok := st.Get("config")
	check(ok && v == "a size=3 tags=[default] limit=1", "the constructor's arguments: %q, %v", v, ok)
	err = st.Put("k", "v")
	check(err == nil, "Put: %v", err)
	v, ok = st.Get("k")
	check(ok && v == "v", "Get: %q, %v", v, ok)
	_, ok = st.Get("none")
	check(!ok, "Get of nothing: %v", ok)
	err = st.Put("k2", "v")
	check(errors.Is(err, store.ErrFull) && !errors.Is(err, client.ErrNotFound), "a sentinel of the second kind: %v", err)
	_, err = newStore("", nil)
	check(err != nil && strings.Contains(err.Error(), "mem: no name"), "the constructor's error: %v", err)
	if failed {
		os.Exit(1)
	}
	fmt.Println("PASS")
}
`

// loadKind reads the types of pkgPath in dir from export data, as gen's
// loader does.
func loadKind(t *testing.T, dir, pkgPath string) (*token.FileSet, *types.Package) {
	t.Helper()
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedExportFile, Dir: dir, Env: append(os.Environ(), "GOFLAGS=-mod=mod")}
	list, err := packages.Load(cfg, pkgPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || len(list[0].Errors) > 0 || list[0].ExportFile == "" {
		t.Fatalf("load %s: %+v %v %q", pkgPath, list, list[0].Errors, list[0].ExportFile)
	}
	f, err := os.Open(list[0].ExportFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := gcexportdata.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	p, err := gcexportdata.Read(r, fset, map[string]*types.Package{}, pkgPath)
	if err != nil {
		t.Fatal(err)
	}
	return fset, p
}

// TestProcessEndToEnd generates both sides of the kind of
// testdata/client.go.txt from its export data, in a module that uses real
// protocol buffers, builds the host and the plugin's executable, and runs
// the host, which calls through the plugin process: options crossing
// field by field, a sentinel error, a deadline, copies back, messages.
func TestProcessEndToEnd(t *testing.T) {
	testmod.SkipIfShort(t)
	kindSrc, err := os.ReadFile(filepath.Join("testdata", "client.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testmod.Write(t, dir, map[string]string{
		"go.mod":               "module example.com/svc\n\ngo 1.26\n\nrequire github.com/plugink/plugink v0.0.0\n\nreplace github.com/plugink/plugink => " + testmod.Root(t) + "\n",
		"client/client.go":     string(kindSrc),
		"plugins/echo/echo.go": echoPlugin,
		"cmd/host/main.go":     hostMain,
		"store/store.go":       storeKind,
		"plugins/mem/mem.go":   memPlugin,
		"bad/bad.go":           "package bad\n\ntype Client interface {\n\tWatch(ch chan string) error\n}\n\nvar Kinds = map[string]func() Client{}\n",
		"cmd/client_echo/x.go": "package main\n\nimport (\n\t_ \"example.com/svc/plugins/echo\"\n\t_ \"example.com/svc/plugins/mem\"\n\t_ \"github.com/plugink/plugink/process\"\n)\n\nfunc main() {}\n",
	})
	goCmd(t, dir, "mod", "tidy")

	// From export data, a problem is at its line of the Go source.
	bfset, bad := loadKind(t, dir, "example.com/svc/bad")
	_, problems := Analyze(bfset, "bad", bad.Scope().Lookup("Kinds").Type().Underlying().(*types.Map).Elem(), bad)
	if len(problems) != 1 || problems[0].Pos.Line != 4 || !strings.HasSuffix(filepath.ToSlash(problems[0].Pos.Filename), "bad/bad.go") ||
		problems[0].Msg != "bad.Client.Watch: parameter ch: chan string cannot cross a process (a channel)" {
		t.Errorf("problems of example.com/svc/bad: %v", problems)
	}

	// Both kinds' host sides in one file, each kind's plugin main in its
	// own package.
	f := jen.NewFilePathName("example.com/svc/cmd/host", "main")
	f.HeaderComment("Code generated by plugink. DO NOT EDIT.")
	files := map[string]string{}
	for _, kind := range []struct{ name, pkg, bound, plugin, pluginPkg, newFunc string }{
		{"client", "example.com/svc/client", "DefaultClients", "echo", "example.com/svc/plugins/echo", "NewClient"},
		{"store", "example.com/svc/store", "Stores", "mem", "example.com/svc/plugins/mem", "New"},
	} {
		fset, p := loadKind(t, dir, kind.pkg)
		k, problems := Analyze(fset, kind.name, p.Scope().Lookup(kind.bound).Type().Underlying().(*types.Map).Elem(), p)
		if len(problems) > 0 {
			t.Fatalf("problems: %v", problems)
		}
		k.EmitHost(f)
		f.Const().Id("pluginkShape" + k.camel).Op("=").Lit(k.Shape())
		plugin, err := k.Plugin(kind.plugin, kind.pluginPkg, kind.newFunc)
		if err != nil {
			t.Fatal(err)
		}
		files["cmd/"+kind.name+"_"+kind.plugin+"/main.go"] = string(plugin)
	}
	var host bytes.Buffer
	if err := f.Render(&host); err != nil {
		t.Fatal(err)
	}
	files["cmd/host/zz_glue.go"] = host.String()
	if err := os.RemoveAll(filepath.Join(dir, "cmd", "client_echo")); err != nil {
		t.Fatal(err)
	}
	testmod.Write(t, dir, files)

	plugins := filepath.Join(dir, "plugins.d")
	goCmd(t, dir, "vet", "./...")
	goCmd(t, dir, "build", "-o", filepath.Join(plugins, "client_echo"), "./cmd/client_echo")
	goCmd(t, dir, "build", "-o", filepath.Join(plugins, "store_mem"), "./cmd/store_mem")
	goCmd(t, dir, "build", "-o", filepath.Join(dir, "host"), "./cmd/host")
	cmd := exec.Command(filepath.Join(dir, "host"), plugins)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "PASS\n") {
		t.Fatalf("host: %v\n%s", err, out)
	}
}

// goCmd runs the go command in dir, offline-friendly (-mod=mod, the
// module cache and GOPROXY of the environment).
func goCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
