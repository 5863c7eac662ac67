package loader_test

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plugink/plugink/internal/testmod"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/runtime"
)

// The mutation test changes one byte of a real plugin's headers at a time
// and puts every variant through Inspect, Preflight and Load, in child
// processes of this test binary (so that a crash would be counted, not
// fatal). Every variant must be refused with an error that names the file,
// or load; none may crash, panic or hang a process.
//
// PLUGINK_MUTATIONS sets how many variants: 300 by default, so that a plain
// go test stays quick; make mutation runs 10,000.
const (
	mutationChildEnv = "PLUGINK_LOADER_MUTATION_CHILD"
	mutationsEnv     = "PLUGINK_MUTATIONS"
)

// mutation is one variant: the byte at Off set to Val.
type mutation struct {
	Off int64 `json:"off"`
	Val byte  `json:"val"`
}

// mutationJob is what a child process gets: the file to mutate (a copy of
// the plugin), and the mutations to try from First on.
type mutationJob struct {
	Variant   string
	Mutations []mutation
	First     int
}

// mutationResult is a child's report on one variant.
type mutationResult struct {
	I         int    `json:"i"`
	Inspect   string `json:"inspect"` // "" if it succeeded, else the error
	Preflight string `json:"preflight"`
	Load      string `json:"load"`
	Opened    bool   `json:"opened"`  // plugin.Open ran in the child: it must restart
	Unnamed   bool   `json:"unnamed"` // an error did not name the file
	Panic     string `json:"panic"`
}

func TestMutatedPluginsNeverCrash(t *testing.T) {
	testmod.SkipIfShort(t)
	if raceEnabled && os.Getenv(mutationsEnv) == "" {
		t.Skip("hundreds of child processes under the race detector: make test runs this test without -race (make mutation)")
	}
	base := fixturePath(t, "echo")
	n := 300
	if s := os.Getenv(mutationsEnv); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	muts := mutations(t, base, n)
	results, crashes := runMutations(t, base, muts)
	counts := map[string]int{}
	for _, r := range results {
		counts[outcome(r)]++
		if r.Unnamed {
			t.Errorf("variant %d (%+v): an error does not name the file: %q %q %q", r.I, muts[r.I], r.Inspect, r.Preflight, r.Load)
		}
		if r.Panic != "" {
			t.Errorf("variant %d (%+v): panic: %s", r.I, muts[r.I], r.Panic)
		}
	}
	for _, c := range crashes {
		t.Errorf("variant %d (%+v) crashed or hung the process: %s", c.i, muts[c.i], c.why)
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var summary []string
	for _, k := range keys {
		summary = append(summary, fmt.Sprintf("%s: %d", k, counts[k]))
	}
	t.Logf("%d variants; %d crashes or hangs; %s", len(muts), len(crashes), strings.Join(summary, ", "))
}

// outcome classifies what Load did with a variant.
func outcome(r mutationResult) string {
	switch {
	case r.Load == "":
		return "loaded"
	case strings.Contains(r.Load, "corrupt ELF file"):
		return "refused: structure"
	case strings.Contains(r.Load, "not a Go plugin"), strings.Contains(r.Load, "another platform"):
		return "refused: not a plugin for this platform"
	case strings.Contains(r.Load, "built differently"):
		return "refused: preflight"
	case strings.Contains(r.Load, "trial process"):
		return "refused: trial"
	}
	return "refused: other"
}

// mutations returns n variants of the file at path, each one byte of its
// headers changed: the ELF header, the program headers, the dynamic
// section, the section headers, and the start of the tables the dynamic
// linker reads (symbols, hash, relocations, versions).
func mutations(t *testing.T, path string, n int) []mutation {
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	type region struct{ off, size int64 }
	regions := []region{{0, 64}}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_DYNAMIC {
			regions = append(regions, region{int64(p.Off), int64(p.Filesz)})
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	regions = append(regions, region{64, int64(len(ef.Progs)) * 56}, sectionHeaders(t, path, fi.Size()))
	for _, name := range []string{".gnu.hash", ".dynsym", ".gnu.version", ".gnu.version_r", ".rela.dyn", ".rela.plt", ".go.buildinfo"} {
		if s := ef.Section(name); s != nil {
			regions = append(regions, region{int64(s.Offset), min(int64(s.Size), 512)})
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]mutation, n)
	for i := range out {
		r := regions[rng.IntN(len(regions))]
		off := r.off + rng.Int64N(r.size)
		var val byte
		switch rng.IntN(3) {
		case 0:
			val = byte(rng.IntN(256))
		case 1:
			val = 0
		default:
			val = 0xff
		}
		out[i] = mutation{Off: off, Val: val}
	}
	return out
}

// sectionHeaders returns the file range of the section header table.
func sectionHeaders(t *testing.T, path string, size int64) struct{ off, size int64 } {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	shoff := int64(le64(b[40:]))
	shnum := int64(b[60]) | int64(b[61])<<8
	return struct{ off, size int64 }{shoff, min(shnum*64, size-shoff)}
}

func le64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// crash is a variant that ended its child process.
type crash struct {
	i   int
	why string
}

// runMutations runs the variants in child processes, a new child whenever
// one opened a plugin (its state changed) or died, and returns a result
// per variant that a child reported, and the variants that ended one. The
// children share one copy of the file, which each mutates in place and
// restores; after a child ends, this process restores what it left.
func runMutations(t *testing.T, base string, muts []mutation) ([]mutationResult, []crash) {
	var results []mutationResult
	var crashes []crash
	dir := t.TempDir()
	orig, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	variant := filepath.Join(dir, "variant.so")
	if err := os.WriteFile(variant, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	jobFile := filepath.Join(dir, "job.json")
	for next := 0; next < len(muts); {
		spec, err := json.Marshal(mutationJob{Variant: variant, Mutations: muts, First: next})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(jobFile, spec, 0o644); err != nil {
			t.Fatal(err)
		}
		first := next
		got, err := runMutationChild(t, jobFile)
		results = append(results, got...)
		if len(got) > 0 {
			next = got[len(got)-1].I + 1
		}
		if err != nil { // the child died while trying variant next
			crashes = append(crashes, crash{next, err.Error()})
			next++
		}
		restore(t, variant, orig, muts[first:min(next+1, len(muts))])
	}
	return results, crashes
}

// restore puts back, in the file at path, the original bytes at the
// offsets of muts.
func restore(t *testing.T, path string, orig []byte, muts []mutation) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, m := range muts {
		if _, err := f.WriteAt(orig[m.Off:m.Off+1], m.Off); err != nil {
			t.Fatal(err)
		}
	}
}

// mutationTimeout bounds the time a child may spend on one variant.
const mutationTimeout = 2 * time.Minute

func runMutationChild(t *testing.T, jobFile string) ([]mutationResult, error) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), mutationChildEnv+"="+jobFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []mutationResult
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				if err := cmd.Wait(); err != nil {
					return got, fmt.Errorf("%v: %s", err, lastLines(stderr.String()))
				}
				return got, nil
			}
			var r mutationResult
			if json.Unmarshal([]byte(line), &r) == nil {
				got = append(got, r)
			}
		case <-time.After(mutationTimeout):
			cancel()
			cmd.Wait()
			return got, fmt.Errorf("hung for %s", mutationTimeout)
		}
	}
}

// lastLines returns the start of a crash report: its first lines, which
// say what happened and where.
func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[:min(len(lines), 8)], " | ")
}

// mutationChild is the child process: it tries the job's variants from
// First on, one JSON line each, until one is opened (then it exits 0, for
// a fresh child to go on).
func mutationChild(jobFile string) int {
	var job mutationJob
	spec, err := os.ReadFile(jobFile)
	if err == nil {
		err = json.Unmarshal(spec, &job)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	f, err := os.OpenFile(job.Variant, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	enc := json.NewEncoder(os.Stdout)
	for i := job.First; i < len(job.Mutations); i++ {
		m := job.Mutations[i]
		var orig [1]byte
		if _, err := f.ReadAt(orig[:], m.Off); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if _, err := f.WriteAt([]byte{m.Val}, m.Off); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		r := tryVariant(job.Variant)
		r.I = i
		enc.Encode(r)
		if r.Opened {
			return 0
		}
		f.WriteAt(orig[:], m.Off)
	}
	return 0
}

// tryVariant puts the file through Inspect, Preflight and Load.
func tryVariant(path string) (r mutationResult) {
	defer func() {
		if p := recover(); p != nil {
			r.Panic = fmt.Sprint(p)
		}
	}()
	check := func(err error) string {
		if err == nil {
			return ""
		}
		if !strings.Contains(err.Error(), path) {
			r.Unnamed = true
		}
		return err.Error()
	}
	_, err := loader.Inspect(path)
	r.Inspect = check(err)
	r.Preflight = check(loader.Preflight(path, nil))
	reg := runtime.NewRegistry()
	_, err = loader.NewPlugin(loader.WithRegistry(reg)).Load(path)
	r.Load = check(err)
	// plugin.Open ran here unless Load refused the file before: after a
	// load, or an error from the open itself, start afresh.
	r.Opened = err == nil || errors.Is(err, loader.ErrOpen) || errors.Is(err, loader.ErrNoSymbol) ||
		errors.Is(err, loader.ErrSymbolType) || errors.Is(err, runtime.ErrInvalid)
	return r
}
