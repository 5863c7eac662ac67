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
	client.DefaultClients["echo"] = pluginkProcessClient(pluginkprocess.Spec{Kind: "client", Name: "echo", Manifest: "plugink.yaml", Dir: os.Args[1], Shape: pluginkShape})
	c := client.DefaultClients["echo"](client.Address("host:9"))
	ctx := context.Background()

	req, rsp := wrapperspb.String("hi"), &wrapperspb.StringValue{}
	err := c.Call(ctx, "svc", "echo", req, rsp, client.WithRetries(2))
	check(err == nil && rsp.GetValue() == "hi@host:9 retries=2", "echo with an option: %v, %q", err, rsp.GetValue())
	err = c.Call(ctx, "svc", "echo", req, rsp)
	check(err == nil && rsp.GetValue() == "hi@host:9 retries=1", "echo, the plugin's default option: %v, %q", err, rsp.GetValue())
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
		check(err == nil && st.Calls == 4 && st.Last.Equal(since), "Stats: %v, %+v", err, st)
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
		t.Fatalf("load %s: %+v", pkgPath, list)
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
		"cmd/client_echo/x.go": "package main\n\nimport (\n\t_ \"example.com/svc/plugins/echo\"\n\t_ \"github.com/plugink/plugink/process\"\n)\n\nfunc main() {}\n",
	})
	goCmd(t, dir, "mod", "tidy")
	fset, p := loadKind(t, dir, "example.com/svc/client")
	k, problems := Analyze(fset, "client", p.Scope().Lookup("DefaultClients").Type().Underlying().(*types.Map).Elem(), p)
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}

	f := jen.NewFilePathName("example.com/svc/cmd/host", "main")
	f.HeaderComment("Code generated by plugink. DO NOT EDIT.")
	k.EmitHost(f)
	f.Line()
	f.Const().Id("pluginkShape").Op("=").Lit(k.Shape())
	var host bytes.Buffer
	if err := f.Render(&host); err != nil {
		t.Fatal(err)
	}
	plugin, err := k.Plugin("echo", "example.com/svc/plugins/echo", "NewClient")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "cmd", "client_echo", "x.go")); err != nil {
		t.Fatal(err)
	}
	testmod.Write(t, dir, map[string]string{"cmd/host/zz_glue.go": host.String(), "cmd/client_echo/main.go": string(plugin)})

	plugins := filepath.Join(dir, "plugins.d")
	goCmd(t, dir, "vet", "./...")
	goCmd(t, dir, "build", "-o", filepath.Join(plugins, "client_echo"), "./cmd/client_echo")
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
