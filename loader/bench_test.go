package loader_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"plugin"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/loader/internal/testkind"
	"github.com/plugink/plugink/runtime"
)

// Loading a plugin cannot be repeated in one process: package plugin
// caches it by path, and the runtime refuses a second file with the same
// pluginpath. So BenchmarkLoad measures each sample in a fresh process: it
// re-runs this test binary with benchChildEnv set, and the child (see
// TestMain) times one load of the same file and prints the nanoseconds.
// The benchmark reports that time as ns/load; its ns/op is the whole of
// the child processes, start-up included.
const benchChildEnv = "PLUGINK_LOADER_BENCH_CHILD"

// The ways BenchmarkLoad loads the plugin, in the child process.
const (
	modeRaw       = "plugin.Open+Lookup"
	modeLoader    = "Load+Init"
	modePreflight = "Load+Init+preflight"
	modeChecksum  = "Load+Init+preflight+checksum"
)

// benchChild loads the plugin as spec ("<mode>:<path>") says, prints how
// long it took, and returns the process's exit code.
func benchChild(spec string) int {
	mode, path, _ := strings.Cut(spec, ":")
	reg := runtime.NewRegistry()
	if _, err := runtime.DeclareIn(reg, "client", map[string]testkind.NewFunc{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	start := time.Now()
	if err := benchLoad(mode, path, reg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(time.Since(start).Nanoseconds())
	return 0
}

func benchLoad(mode, path string, reg *runtime.Registry) error {
	if mode == modeRaw {
		p, err := plugin.Open(path)
		if err != nil {
			return err
		}
		sym, err := p.Lookup("Plugin")
		if err != nil {
			return err
		}
		if _, ok := sym.(*runtime.Config); !ok {
			return fmt.Errorf("Plugin is a %T", sym)
		}
		return nil
	}
	opts := []loader.Option{loader.WithRegistry(reg)}
	switch mode {
	case modeLoader:
		opts = append(opts, loader.WithoutPreflight())
	case modeChecksum:
		sums, err := loader.ReadSums(filepath.Join(filepath.Dir(path), loader.SumFile))
		if err != nil {
			return err
		}
		opts = append(opts, loader.WithSums(sums), loader.WithSumsRequired())
	}
	l := loader.NewPlugin(opts...)
	cfg, err := l.Load(path)
	if err != nil {
		return err
	}
	return l.Init(cfg)
}

// benchPlugin is the plugin the benchmarks load, with its checksum in a
// plugink.sum next to it.
var benchPlugin = sync.OnceValues(func() (string, error) {
	dir := filepath.Join(fixtureDir, "bench")
	out := filepath.Join(dir, "bench.so")
	l := loader.NewPlugin(loader.WithBuildOptions(loader.BuildOptions{SumFile: filepath.Join(dir, loader.SumFile)}))
	return out, l.Build(out, &runtime.Config{Name: "bench", Type: "client", Path: echoPkg, NewFunc: "NewClient"})
})

func benchPluginPath(b *testing.B) string {
	path, err := benchPlugin()
	if err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkLoad compares loading one plugin through the loader with a bare
// plugin.Open and Lookup of the same file. Each op starts four processes,
// one per way of loading (in an order that rotates, so that a change in
// the machine's load affects all four alike), and reports for each the
// mean time of the load itself (<way>-ns/load) and its ratio to the bare
// open (<way>/raw).
func BenchmarkLoad(b *testing.B) {
	path := benchPluginPath(b)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	modes := []string{modeRaw, modeLoader, modePreflight, modeChecksum}
	names := []string{"raw", "loader", "preflight", "checksum"}
	total := make([]time.Duration, len(modes))
	i := 0
	for b.Loop() {
		for k := range modes {
			m := (i + k) % len(modes)
			total[m] += loadInChild(b, exe, modes[m], path)
		}
		i++
	}
	for m, name := range names {
		b.ReportMetric(float64(total[m].Nanoseconds())/float64(b.N), name+"-ns/load")
		if m > 0 {
			b.ReportMetric(float64(total[m])/float64(total[0]), name+"/raw")
		}
	}
}

// loadInChild loads the plugin at path in a new process and returns how
// long the load took there.
func loadInChild(b *testing.B, exe, mode, path string) time.Duration {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), benchChildEnv+"="+mode+":"+path)
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("child %s: %v: %s", mode, err, out)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		b.Fatalf("child %s printed %q", mode, out)
	}
	return time.Duration(ns)
}

// BenchmarkPreflight measures the check Load makes before opening a file
// (reading its headers and build information, comparing with the host's).
func BenchmarkPreflight(b *testing.B) {
	path := benchPluginPath(b)
	for b.Loop() {
		if err := loader.Preflight(path, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileSum measures the SHA-256 of the plugin file.
func BenchmarkFileSum(b *testing.B) {
	path := benchPluginPath(b)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	for b.Loop() {
		if _, err := loader.FileSum(path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInspect measures reading a plugin's metadata without opening it.
func BenchmarkInspect(b *testing.B) {
	path := benchPluginPath(b)
	for b.Loop() {
		if _, err := loader.Inspect(path); err != nil {
			b.Fatal(err)
		}
	}
}

var sink testkind.Client

// BenchmarkConstruct compares constructing an implementation looked up in a
// kind by name (Kind.Get, then the call) with calling the constructor
// directly.
func BenchmarkConstruct(b *testing.B) {
	reg := runtime.NewRegistry()
	kind, err := runtime.DeclareIn(reg, "client", map[string]testkind.NewFunc{})
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"grpc", "http", "static", "brpc", "mucp"} {
		if err := kind.Register(name, testkind.NewStatic); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Kind.Get+call", func(b *testing.B) {
		for b.Loop() {
			f, err := kind.Get("static")
			if err != nil {
				b.Fatal(err)
			}
			sink = f()
		}
	})
	b.Run("direct call", func(b *testing.B) {
		for b.Loop() {
			sink = testkind.NewStatic()
		}
	})
}
