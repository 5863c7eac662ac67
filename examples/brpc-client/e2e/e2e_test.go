// Package e2e runs the greeter service end to end in each of plugink's
// modes, over real loopback sockets: the static build with the brpc plugin
// compiled in, the dynamic build loading it from a .so, and the process
// build running it as a child process.
package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/examples/brpc-client/internal/echotest"
	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/execbuild"
	"github.com/plugink/plugink/internal/testmod"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/runtime"
)

// fixtures are built once for the package: the three greeter binaries,
// the brpc plugin as a .so and as an executable. The .so takes the longest
// (gRPC and protobuf are compiled for dynamic linking), so it starts as
// soon as the dynamic host exists, while the others build.
var fixtures struct {
	dir, static, dynamic, plugin string
	// process is the greeter built with -tags plugink_process, and
	// processPlugin the brpc plugin's executable (CGO_ENABLED=0), alone in
	// its directory, without a plugink.sum.
	process, processPlugin string
	err                    error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plugink-e2e-")
	if err != nil {
		panic(err)
	}
	fixtures.dir = dir
	flag.Parse()
	if !testing.Short() {
		fixtures.err = buildFixtures(dir)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildFixtures(dir string) error {
	fixtures.static = filepath.Join(dir, "greeter")
	fixtures.dynamic = filepath.Join(dir, "greeter-dynamic")
	fixtures.plugin = filepath.Join(dir, "plugins", "client_brpc.so")
	fixtures.process = filepath.Join(dir, "greeter-process")
	fixtures.processPlugin = filepath.Join(dir, "process-plugins", "client_brpc")
	var wg sync.WaitGroup
	var staticErr, pluginErr, processErr, execErr error
	wg.Go(func() { staticErr = goBuild("-o", fixtures.static, "../cmd/greeter") })
	wg.Go(func() { processErr = goBuild("-tags", "plugink_process", "-o", fixtures.process, "../cmd/greeter") })
	wg.Go(func() { execErr = buildExecutable(fixtures.processPlugin) })
	if err := goBuild("-tags", "plugink_dynamic", "-o", fixtures.dynamic, "../cmd/greeter"); err != nil {
		wg.Wait()
		return err
	}
	wg.Go(func() {
		host, err := loader.ReadHost(fixtures.dynamic)
		if err != nil {
			pluginErr = err
			return
		}
		b := loader.NewPlugin(loader.WithBuildOptions(loader.BuildOptions{Dir: "..", Host: host.BuildInfo, SumFile: filepath.Join(dir, "plugins", "plugink.sum")}))
		pluginErr = b.Build(fixtures.plugin, &runtime.Config{Name: "brpc", Type: "client",
			Path: "github.com/plugink/plugink/examples/brpc-client/plugins/brpc", NewFunc: "NewClient"})
	})
	wg.Wait()
	return errors.Join(staticErr, pluginErr, processErr, execErr)
}

// buildExecutable builds the greeter's brpc plugin as a process plugin's
// executable at out, as plugink build -process does, without cgo, and
// records nothing (no plugink.sum).
func buildExecutable(out string) error {
	ctx := context.Background()
	const greeter = "../cmd/greeter"
	m, err := gen.ReadManifest(filepath.Join(greeter, "plugink.yaml"))
	if err != nil {
		return err
	}
	ch, err := gen.Check(ctx, m, gen.Options{Dir: greeter})
	if err != nil {
		return err
	}
	var kind *gen.CheckedKind
	for _, k := range ch.Kinds {
		if k.Name == "client" && k.Glue != nil {
			kind = k
		}
	}
	if kind == nil {
		return fmt.Errorf("%s: kind client cannot cross a process", m.File)
	}
	var src []byte
	for _, p := range m.Enabled() {
		if p.Type == "client" && p.Name == "brpc" {
			if src, err = kind.Glue.Plugin(p.Name, p.Path, p.Func()); err != nil {
				return err
			}
		}
	}
	if src == nil {
		return fmt.Errorf("%s: no plugin client/brpc", m.File)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	// The build keeps the main package it writes beside the manifest:
	// the test leaves the source tree as it found it.
	generated := filepath.Join(greeter, "_plugink")
	if _, err := os.Stat(generated); os.IsNotExist(err) {
		defer os.RemoveAll(generated)
	}
	_, err = execbuild.Build(ctx, "client", "brpc", src, out, execbuild.Options{Dir: greeter, Env: []string{"CGO_ENABLED=0"}})
	return err
}

func goBuild(args ...string) error {
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return &buildError{args: args, out: string(out), err: err}
	}
	return nil
}

type buildError struct {
	args []string
	out  string
	err  error
}

func (e *buildError) Error() string {
	return "go build " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + e.out
}

// server is the echo service on loopback, over gRPC and baidu_std.
type server struct{ grpcAddr, brpcAddr string }

func startServer(t testing.TB) server {
	t.Helper()
	return server{grpcAddr: echotest.StartGRPC(t), brpcAddr: echotest.StartBRPC(t, echotest.Config{}).Addr}
}

// greet runs a greeter binary against s with extra args and environment.
func greet(t testing.TB, s server, bin, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	testmod.SkipIfShort(t)
	require.NoError(t, fixtures.err, "building the fixtures")
	// A long call timeout: the call must succeed however loaded the machine.
	cmd := exec.CommandContext(context.Background(), bin, append([]string{"-grpc_addr", s.grpcAddr, "-brpc_addr", s.brpcAddr, "-msg", "ping", "-timeout", "1m"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cleanEnv is the environment without the variables the greeter reads.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MICRO_") && !strings.HasPrefix(kv, "PLUGINK_") {
			env = append(env, kv)
		}
	}
	return env
}

func TestStatic(t *testing.T) {
	s := startServer(t)
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"default is grpc", nil, nil, `client=grpc (grpc) addr=` + s.grpcAddr + ` reply="ping"`},
		{"flag", nil, []string{"--client=brpc"}, `client=brpc (brpc) addr=` + s.brpcAddr + ` reply="ping"`},
		{"env", []string{"MICRO_CLIENT=brpc"}, nil, `client=brpc (brpc) addr=` + s.brpcAddr + ` reply="ping"`},
		{"flag wins over env", []string{"MICRO_CLIENT=brpc"}, []string{"--client=grpc"}, `client=grpc (grpc)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := greet(t, s, fixtures.static, t.TempDir(), tt.env, tt.args...)
			require.NoError(t, err, out)
			assert.Contains(t, out, tt.want)
		})
	}
}

func TestDynamic(t *testing.T) {
	s := startServer(t)
	pluginDir := filepath.Dir(fixtures.plugin)

	t.Run("MICRO_PLUGIN", func(t *testing.T) {
		out, err := greet(t, s, fixtures.dynamic, t.TempDir(), []string{"MICRO_PLUGIN=," + fixtures.plugin + ","}, "--client=brpc")
		require.NoError(t, err, out)
		assert.Contains(t, out, `client=brpc (brpc) addr=`+s.brpcAddr+` reply="ping"`)
	})
	t.Run("manifest directory with checksums", func(t *testing.T) {
		out, err := greet(t, s, fixtures.dynamic, t.TempDir(), []string{"PLUGINK_DIR=" + pluginDir, "MICRO_CLIENT=brpc"})
		require.NoError(t, err, out)
		assert.Contains(t, out, `client=brpc (brpc)`)
	})
	t.Run("grpc still the default", func(t *testing.T) {
		out, err := greet(t, s, fixtures.dynamic, t.TempDir(), nil, "-plugin_dir", pluginDir)
		require.NoError(t, err, out)
		assert.Contains(t, out, `client=grpc (grpc)`)
	})
	t.Run("plugin missing", func(t *testing.T) {
		out, err := greet(t, s, fixtures.dynamic, t.TempDir(), nil, "--client=brpc")
		require.Error(t, err)
		assert.Contains(t, out, "client_brpc.so")
	})
	t.Run("static build does not load .so files", func(t *testing.T) {
		out, err := greet(t, s, fixtures.static, t.TempDir(), []string{"MICRO_PLUGIN=/nonexistent.so"}, "--client=brpc")
		require.NoError(t, err, out)
		assert.Contains(t, out, `client=brpc (brpc)`)
	})
}

func TestUnknownClientListsClients(t *testing.T) {
	s := startServer(t)
	for _, bin := range []string{fixtures.static, fixtures.dynamic, fixtures.process} {
		out, err := greet(t, s, bin, t.TempDir(), []string{"MICRO_PLUGIN=" + fixtures.plugin}, "--client=thrift")
		require.Error(t, err)
		assert.Contains(t, out, `unknown name "thrift" (available: brpc, grpc)`)
	}
}

// TestGeneratedFilesCurrent is the CI drift check: the checked-in files
// are what plugink gen makes from the checked-in manifest.
func TestGeneratedFilesCurrent(t *testing.T) {
	files, _, err := gen.Generate(context.Background(), gen.Options{Dir: "../cmd/greeter"})
	require.NoError(t, err)
	stale, err := gen.Stale(files)
	require.NoError(t, err)
	for _, d := range stale {
		t.Errorf("%s is out of date; run go generate ./cmd/greeter:\n%s", d.Path, d.Diff)
	}
}
