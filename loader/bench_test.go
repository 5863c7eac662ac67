package loader_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
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

	"github.com/plugink/plugink/internal/signature"
	sumfile "github.com/plugink/plugink/internal/sums"
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

// The ways BenchmarkLoad loads the plugin, in the child process. The file
// has its checksum in a plugink.sum kept elsewhere, which only the
// checksum way reads: the others see an unverified file.
const (
	modeRaw       = "plugin.Open+Lookup"
	modeLoader    = "Load+Init"           // structure only: no preflight, no trial
	modePreflight = "Load+Init+preflight" // structure and preflight, no trial
	modeChecksum  = "Load+Init+preflight+checksum"
	modeTrial     = "Load+Init+preflight+trial" // the default for an unverified file
	modeSerial    = "10 x (verify+Load)+InitAll"
	modeLoadAll   = "LoadAll(10)"
	modeUpgrade   = "LoadAll(gen1), then Upgrade(gen2)" // only the upgrade is timed
	modeRecorded  = "Load+Init, recorded"               // the default, with a load record of the file
	modeFloor     = "SHA-256+plugin.Open+Lookup"        // what any verified load costs at least
	modeSigned    = "Load+Init+preflight+signature"     // WithTrustedKeys, the file signed by the key
)

// benchChild loads the plugins as spec ("<mode>:<path>[,<path>...]")
// says, prints how long it took, and returns the process's exit code.
func benchChild(spec string) int {
	mode, list, _ := strings.Cut(spec, ":")
	reg := runtime.NewRegistry()
	if _, err := runtime.DeclareIn(reg, "client", map[string]testkind.NewFunc{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	paths := strings.Split(list, ",")
	switch mode {
	case modeUpgrade:
		return upgradeChild(paths, reg)
	case recordedCheck:
		return recordedChild(paths[0])
	}
	start := time.Now()
	if err := benchLoad(mode, paths, reg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(time.Since(start).Nanoseconds())
	return 0
}

// recordedCheck is the child mode of TestLoadRecordsAcrossProcesses.
const recordedCheck = "recorded?"

// recordedChild prints whether a load record vouches for the file at path,
// then loads it.
func recordedChild(path string) int {
	l := loader.NewPlugin(loader.WithRegistry(runtime.NewRegistry()))
	recorded, _, err := loader.Prepared(l, path)
	if err == nil {
		_, err = l.Load(path)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("recorded=%t\n", recorded)
	return 0
}

// upgradeChild loads paths[0], then times the upgrade to paths[1] and
// prints its nanoseconds and what it added to the process's resident and
// virtual memory, in KiB.
func upgradeChild(paths []string, reg *runtime.Registry) int {
	l := loader.NewPlugin(loader.WithRegistry(reg))
	if _, err := l.LoadAll(paths[:1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rss0, vm0 := memKiB()
	start := time.Now()
	if _, err := l.Upgrade(paths[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	elapsed := time.Since(start)
	rss1, vm1 := memKiB()
	fmt.Println(elapsed.Nanoseconds(), rss1-rss0, vm1-vm0)
	return 0
}

// memKiB returns the process's resident and virtual memory in KiB, as
// /proc/self/status says (0, 0 where there is none).
func memKiB() (rss, vm int64) {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = n
		case "VmSize:":
			vm = n
		}
	}
	return rss, vm
}

// BenchmarkUpgrade compares an upgrade (generation 1 loaded, generation 2
// verified by the trial, opened and swapped in) with a cold load of
// generation 2 in a fresh process, both unverified: upgrade-ns/load,
// cold-ns/load and their ratio, and the resident and virtual memory the
// upgrade added (rss-KiB/gen, vm-KiB/gen). The plugin is the loader's echo
// test plugin (5 MB).
func BenchmarkUpgrade(b *testing.B) {
	gen1, gen2 := fixturePath(b, "up1"), fixturePath(b, "up2")
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var up, cold time.Duration
	var rss, vm int64
	for b.Loop() {
		cold += loadInChild(b, exe, modeTrial, []string{gen2})
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), benchChildEnv+"="+modeUpgrade+":"+gen1+","+gen2)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("upgrade child: %v: %s", err, out)
		}
		var ns, r, v int64
		if _, err := fmt.Sscan(string(out), &ns, &r, &v); err != nil {
			b.Fatalf("upgrade child printed %q", out)
		}
		up += time.Duration(ns)
		rss += r
		vm += v
	}
	n := float64(b.N)
	b.ReportMetric(float64(up.Nanoseconds())/n, "upgrade-ns/load")
	b.ReportMetric(float64(cold.Nanoseconds())/n, "cold-ns/load")
	b.ReportMetric(float64(up)/float64(cold), "upgrade/cold")
	b.ReportMetric(float64(rss)/n, "rss-KiB/gen")
	b.ReportMetric(float64(vm)/n, "vm-KiB/gen")
}

func benchLoad(mode string, paths []string, reg *runtime.Registry) error {
	// Every way but the recorded one checks the file as on a first load.
	opts := []loader.Option{loader.WithRegistry(reg), loader.WithoutRecords()}
	switch mode {
	case modeRecorded:
		opts = opts[:1]
	case modeRaw:
		return rawOpen(paths[0])
	case modeFloor:
		if _, err := sumfile.File(paths[0]); err != nil {
			return err
		}
		return rawOpen(paths[0])
	case modeSigned:
		opts = append(opts, loader.WithTrustedKeys(benchPublicKey))
	case modeLoader:
		opts = append(opts, loader.WithoutPreflight(), loader.WithoutTrial())
	case modePreflight:
		opts = append(opts, loader.WithoutTrial())
	case modeChecksum:
		sums, err := sumfile.Read(filepath.Join(filepath.Dir(paths[0])+"-sums", sumfile.FileName))
		if err != nil {
			return err
		}
		opts = append(opts, loader.WithSums(sums), loader.WithSumsRequired())
	case modeLoadAll:
		_, err := loader.NewPlugin(opts...).LoadAll(paths)
		return err
	case modeSerial:
		return loadSerially(loader.NewPlugin(opts...), paths)
	}
	l := loader.NewPlugin(opts...)
	cfg, err := l.Load(paths[0])
	if err != nil {
		return err
	}
	return l.Init(cfg)
}

// rawOpen opens the plugin at path with package plugin and looks up its
// Config.
func rawOpen(path string) error {
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

// loadSerially verifies and loads the files one after another, then
// registers them, as a loader without LoadAll's pipeline would.
func loadSerially(l *loader.Loader, paths []string) error {
	var cfgs []*runtime.Config
	for _, p := range paths {
		cfg, err := l.Load(p)
		if err != nil {
			return err
		}
		cfgs = append(cfgs, cfg)
	}
	for _, c := range cfgs {
		if err := l.Init(c); err != nil {
			return err
		}
	}
	return nil
}

// benchPlugin is the plugin the benchmarks load, with its checksum in a
// plugink.sum of another directory (bench-sums), so that only the
// checksum way of loading verifies it.
var benchPlugin = sync.OnceValues(func() (string, error) {
	dir := filepath.Join(fixtureDir, "bench")
	out := filepath.Join(dir, "bench.so")
	if err := os.MkdirAll(dir+"-sums", 0o755); err != nil {
		return "", err
	}
	l := loader.NewPlugin(loader.WithBuildOptions(loader.BuildOptions{SumFile: filepath.Join(dir+"-sums", sumfile.FileName)}))
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
// plugin.Open and Lookup of the same file. Each op starts a process per
// way of loading (in an order that rotates, so that a change in the
// machine's load affects all alike), and reports for each the mean time
// of the load itself (<way>-ns/load) and its ratio to the bare open
// (<way>/raw).
//
// The recorded way is the default (preflight, trial) on a file that a
// load record says this program loaded before: what every start but the
// first costs. The others check the file as on a first load.
func BenchmarkLoad(b *testing.B) {
	path := benchPluginPath(b)
	// A file is recorded once its times are older than the settling time.
	time.Sleep(2100 * time.Millisecond)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	loadInChild(b, exe, modeRecorded, []string{path}) // writes the record
	runModes(b, []string{modeRaw, modeLoader, modePreflight, modeChecksum, modeTrial, modeRecorded},
		[]string{"raw", "loader", "preflight", "checksum", "trial", "recorded"}, []string{path})
}

// benchPublicKey is benchKey's public key, as a host pins it: a child
// pays for parsing it, not for making the key (which takes a fresh process
// a millisecond or more).
const benchPublicKey = "plugink-ed25519 IVL40Zt5HSRFMkLhXy6rbLfP+ntqXtMAl5YOBpiB2xI="

// benchKey is the key BenchmarkSignedLoad signs with.
func benchKey() signature.PrivateKey {
	k, err := signature.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{0x42}, ed25519.SeedSize)))
	if err != nil {
		panic(err)
	}
	return k
}

// BenchmarkSignedLoad compares a load that a signature verifies (the
// Loader pins the key: the .sig read, the file hashed once, then
// preflight; no structure check, no trial) with the floor of any verified
// load, the file hashed and then opened raw, and with a load that a
// plugink.sum verifies. Each way runs in fresh processes, as in
// BenchmarkLoad; the ratios are to the floor.
func BenchmarkSignedLoad(b *testing.B) {
	path := benchPluginPath(b)
	signFile(b, benchKey(), path)
	runModes(b, []string{modeFloor, modeChecksum, modeSigned}, []string{"floor", "checksum", "signed"}, []string{path})
}

// runModes runs, each op, the ways of loading modes (named names) in child
// processes, in a rotating order, and reports their mean times and their
// ratios to the first.
func runModes(b *testing.B, modes, names, paths []string) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	total := make([]time.Duration, len(modes))
	i := 0
	for b.Loop() {
		for k := range modes {
			m := (i + k) % len(modes)
			total[m] += loadInChild(b, exe, modes[m], paths)
		}
		i++
	}
	for m, name := range names {
		b.ReportMetric(float64(total[m].Nanoseconds())/float64(b.N), name+"-ns/load")
		if m > 0 {
			b.ReportMetric(float64(total[m])/float64(total[0]), name+"/"+names[0])
		}
	}
}

// loadInChild loads the plugins at paths in a new process and returns how
// long the load took there.
func loadInChild(b *testing.B, exe, mode string, paths []string) time.Duration {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), benchChildEnv+"="+mode+":"+strings.Join(paths, ","))
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

// tenPlugins builds ten plugins (of ten pluginpaths) into one directory,
// with a plugink.sum: what a host starting with ten checksummed plugins
// loads.
var tenPlugins = sync.OnceValues(func() ([]string, error) {
	dir := filepath.Join(fixtureDir, "ten")
	l := loader.NewPlugin(loader.WithBuildOptions(loader.BuildOptions{SumFile: filepath.Join(dir, sumfile.FileName)}))
	paths := make([]string, 10)
	errs := make([]error, 10)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("client_p%d.so", i))
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = l.Build(paths[i], &runtime.Config{Name: fmt.Sprintf("p%d", i), Type: "client", Path: echoPkg, NewFunc: "NewClient"})
		})
	}
	wg.Wait()
	return paths, errors.Join(errs...)
})

// BenchmarkStartTen compares a host starting with ten checksummed plugins
// through LoadAll (checksums and preflight of all files in parallel, opens
// in order as each file's checks pass) with verifying and loading them one
// after another.
func BenchmarkStartTen(b *testing.B) {
	paths, err := tenPlugins()
	if err != nil {
		b.Fatal(err)
	}
	runModes(b, []string{modeSerial, modeLoadAll}, []string{"serial", "loadall"}, paths)
}

// BenchmarkReadHost measures reading another program's build information
// and package fingerprints (plugink inspect -host, build -host): here this
// test binary's.
func BenchmarkReadHost(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := loader.ReadHost(exe); err != nil {
			b.Fatal(err)
		}
	}
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
		if _, err := sumfile.File(path); err != nil {
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
