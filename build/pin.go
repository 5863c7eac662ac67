package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/gocmd"
	"github.com/plugink/plugink/runtime"
)

// ErrPin reports a plugin module whose dependencies cannot be pinned to a
// host's: it needs a newer version of a module than the host links, or the
// host built a module from a directory whose source is not at hand.
var ErrPin = errors.New("cannot build the plugin with the host's versions")

// PinError lists every module an out-of-module build cannot pin to the
// host's version, with the two versions.
type PinError struct {
	// Problems are one line per module.
	Problems []string
	// Hint says what to do.
	Hint string
}

// Error implements error.
func (e *PinError) Error() string {
	return fmt.Sprintf("%s: %s", ErrPin, strings.Join(e.Problems, "; "))
}

// Unwrap returns [ErrPin].
func (e *PinError) Unwrap() error { return ErrPin }

// ErrorHint returns e.Hint.
func (e *PinError) ErrorHint() string { return e.Hint }

// pinning is how an out-of-module build runs the go command: with a
// go.mod of its own (-modfile) that requires every module the host links
// at the host's version, and go.sum lines with the host's checksums. The
// plugin author's go.mod and go.sum are not touched.
type pinning struct {
	dir   string   // the temporary directory of the go.mod
	flags []string // -modfile=... -mod=mod
	env   []string // GOWORK=off
}

// cleanup removes the temporary files.
func (p *pinning) cleanup() {
	if p != nil {
		os.RemoveAll(p.dir)
	}
}

// goMod is what `go mod edit -json` says of a go.mod.
type goMod struct {
	Module struct{ Path string }
}

// listedModule is what `go list -m -json` says of a module.
type listedModule struct {
	Path, Version string
	Main          bool
	Replace       *struct{ Path, Version string }
}

// maxPinRounds bounds how often pinToHost adds requirements: pinning a
// module may bring others of the host's into the graph.
const maxPinRounds = 8

// pinToHost prepares the build of plugins in the module of dir for host,
// when that module is not the host's main module (a third party's plugin):
// a go.mod that pins, for this build only, every module of the plugin's
// graph that the host links to the host's version and checksum, or to the
// directory hostSrc for modules the host built from source. It returns nil
// for a module that is the host's own. It fails before anything is
// compiled, naming each module and both versions, when the plugin needs a
// newer version than the host links, or a module's source is not at hand.
func pinToHost(ctx context.Context, goCmd gocmd.Cmd, host *debug.BuildInfo, hostSrc string) (*pinning, error) {
	goCmd.Env = append(goCmd.Env, "GOWORK=off")
	gomodPath, mod, err := readGoMod(ctx, goCmd)
	if err != nil || mod.Module.Path == host.Main.Path {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "plugink-pin-")
	if err != nil {
		return nil, err
	}
	p := &pinning{dir: tmp, flags: []string{"-modfile=" + filepath.Join(tmp, "go.mod"), "-mod=mod"}, env: []string{"GOWORK=off"}}
	if err := p.start(gomodPath); err != nil {
		p.cleanup()
		return nil, err
	}
	if err := p.pin(ctx, goCmd, host, hostSrc); err != nil {
		p.cleanup()
		return nil, err
	}
	return p, nil
}

// readGoMod returns the path and the contents of the main module's go.mod.
func readGoMod(ctx context.Context, goCmd gocmd.Cmd) (string, *goMod, error) {
	out, err := goCmd.Output(ctx, "env", "GOMOD")
	if err != nil {
		return "", nil, err
	}
	path := strings.TrimSpace(string(out))
	if path == "" || path == os.DevNull {
		return "", nil, fmt.Errorf("not in a Go module: go env GOMOD is %q", path)
	}
	out, err = goCmd.Output(ctx, "mod", "edit", "-json")
	if err != nil {
		return "", nil, err
	}
	var m goMod
	if err := json.Unmarshal(out, &m); err != nil {
		return "", nil, fmt.Errorf("read %s: %w", path, err)
	}
	return path, &m, nil
}

// start copies the author's go.mod and go.sum into p's directory.
func (p *pinning) start(gomod string) error {
	for _, name := range []string{"go.mod", "go.sum"} {
		src := filepath.Join(filepath.Dir(gomod), name)
		if name == "go.mod" {
			src = gomod
		}
		data, err := fsx.ReadFile(src, 16<<20)
		if errors.Is(err, fs.ErrNotExist) && name == "go.sum" {
			data, err = nil, nil
		}
		if err != nil {
			return err
		}
		if err := fsx.WriteFiles(fsx.File{Path: filepath.Join(p.dir, name), Data: data}); err != nil {
			return err
		}
	}
	return nil
}

// pin adds the host's versions of the modules in the plugin's graph, round
// after round until the graph holds no module of the host's that is not
// pinned, then checks that each one is at the host's version.
func (p *pinning) pin(ctx context.Context, goCmd gocmd.Cmd, host *debug.BuildInfo, hostSrc string) error {
	hostMods := map[string]*debug.Module{host.Main.Path: &host.Main}
	for _, d := range host.Deps {
		hostMods[d.Path] = d
	}
	pinned := map[string]bool{}
	for range maxPinRounds {
		graph, err := p.graph(ctx, goCmd)
		if err != nil {
			return err
		}
		var todo []*debug.Module
		for _, m := range graph {
			hm := hostMods[m.Path]
			if hm == nil || m.Main || pinned[m.Path] {
				continue
			}
			pinned[m.Path] = true
			_, fromSource := sourceDir(hm, host, hostSrc)
			if !fromSource && hm.Replace == nil && semver.Compare(m.Version, hm.Version) > 0 {
				continue // the plugin needs a newer version: checkPins says so, nothing is lowered
			}
			todo = append(todo, hm)
		}
		if len(todo) == 0 {
			return checkPins(graph, hostMods, host, hostSrc)
		}
		if err := p.add(ctx, goCmd, todo, host, hostSrc); err != nil {
			return err
		}
	}
	return fmt.Errorf("pinning the plugin's modules to the host's did not settle in %d rounds", maxPinRounds)
}

// graph lists the modules of the plugin's build list under p's go.mod.
func (p *pinning) graph(ctx context.Context, goCmd gocmd.Cmd) ([]listedModule, error) {
	out, err := goCmd.Output(ctx, append(append([]string{"list"}, p.flags...), "-m", "-json", "all")...)
	if err != nil {
		return nil, err
	}
	var mods []listedModule
	if err := decodeEach(out, "go list -m", func(m *listedModule) { mods = append(mods, *m) }); err != nil {
		return nil, err
	}
	return mods, nil
}

// add requires (or replaces, as the host did) each module of mods at the
// host's version, with the host's checksum in go.sum.
func (p *pinning) add(ctx context.Context, goCmd gocmd.Cmd, mods []*debug.Module, host *debug.BuildInfo, hostSrc string) error {
	args := []string{"mod", "edit", "-modfile=" + filepath.Join(p.dir, "go.mod")}
	var sums []string
	for _, m := range mods {
		switch dir, fromSource := sourceDir(m, host, hostSrc); {
		case fromSource && dir == "":
			continue // checkPins reports it
		case fromSource:
			args = append(args, "-replace="+m.Path+"="+dir)
			if m != &host.Main {
				args = append(args, "-require="+m.Path+"@"+m.Version)
			}
		case m.Replace != nil:
			args = append(args, "-replace="+m.Path+"="+m.Replace.Path+"@"+m.Replace.Version)
			sums = append(sums, sumLine(m.Replace.Path, m.Replace.Version, m.Replace.Sum))
		default:
			args = append(args, "-require="+m.Path+"@"+m.Version)
			sums = append(sums, sumLine(m.Path, m.Version, m.Sum))
		}
	}
	if _, err := goCmd.Output(ctx, args...); err != nil {
		return err
	}
	return p.appendSums(sums)
}

// sourceDir reports whether the host built m from a directory, and then
// the directory to build it from here ("" if none is known):
//
//   - the main module: hostSrc if given, as the host's source is the
//     surest; else by version if its version is a clean one (not
//     "(devel)", not "+dirty", which VCS stamping gives a modified tree);
//   - a module the host replaced by a directory: that directory relative
//     to hostSrc, or, if absolute, itself, but only with hostSrc (a path
//     on the machine that built the host means nothing here unless the
//     user says this is the host's tree);
//   - a module of the host's workspace ("(devel)", not replaced): no
//     directory is known.
//
// The package fingerprints of what is built are compared with the host's
// afterwards, so a wrong directory makes a refused plugin, not a broken one.
func sourceDir(m *debug.Module, host *debug.BuildInfo, hostSrc string) (dir string, fromSource bool) {
	switch {
	case m == &host.Main:
		if hostSrc == "" && byVersion(m.Version) {
			return "", false
		}
		return hostSrc, true
	case m.Replace != nil && byVersion(m.Replace.Version):
		return "", false
	case m.Replace == nil && byVersion(m.Version):
		return "", false
	case m.Replace == nil, hostSrc == "":
		return "", true
	case filepath.IsAbs(m.Replace.Path):
		return m.Replace.Path, true
	}
	return filepath.Join(hostSrc, m.Replace.Path), true
}

// byVersion reports whether a module at version v can be fetched by it: a
// semantic version, not marked as built from a modified tree.
func byVersion(v string) bool {
	return semver.IsValid(v) && !strings.Contains(semver.Build(v), "dirty")
}

func sumLine(path, version, sum string) string {
	if sum == "" {
		return ""
	}
	return path + " " + version + " " + sum
}

// appendSums adds the lines to p's go.sum.
func (p *pinning) appendSums(lines []string) error {
	file := filepath.Join(p.dir, "go.sum")
	data, err := fsx.ReadFile(file, 16<<20)
	if err != nil {
		return err
	}
	have := strings.Split(string(data), "\n")
	for _, l := range lines {
		if l != "" && !slices.Contains(have, l) {
			data = append(data, l+"\n"...)
		}
	}
	return fsx.WriteFiles(fsx.File{Path: file, Data: data})
}

// checkPins reports every module of the plugin's graph that the host links
// at another version than the one the graph selects.
func checkPins(graph []listedModule, hostMods map[string]*debug.Module, host *debug.BuildInfo, hostSrc string) error {
	var problems []string
	hint := "build the plugin against the versions the host links: lower its requirements, or ask for a host built with the newer versions"
	for _, m := range graph {
		hm := hostMods[m.Path]
		if hm == nil || m.Main {
			continue
		}
		if dir, fromSource := sourceDir(hm, host, hostSrc); fromSource {
			if dir == "" {
				problems = append(problems, fmt.Sprintf("module %s: the host built it from a directory (%s), whose source cannot be fetched by version", m.Path, describeSource(hm, host)))
				hint = "give the host's source with -hostsrc <dir> (the directory of its main module): the package fingerprints then prove it is the same"
				if hm != &host.Main && hm.Replace == nil {
					hint = "build the plugin in the host's workspace (go.work), which holds that module's source"
				}
			}
			continue
		}
		want, got := hm.Version, m.Version
		if hm.Replace != nil {
			want = hm.Replace.Version
			if m.Replace != nil {
				got = m.Replace.Version
			}
		}
		if got != want {
			what := "another version"
			if semver.Compare(got, want) > 0 {
				what = "a newer version"
			}
			problems = append(problems, fmt.Sprintf("module %s: the plugin needs %s, %s than the host links (%s)", m.Path, got, what, want))
		}
	}
	if len(problems) > 0 {
		return &PinError{Problems: problems, Hint: hint}
	}
	return nil
}

// describeSource says how the host got a module from source.
func describeSource(m *debug.Module, host *debug.BuildInfo) string {
	switch {
	case m == &host.Main:
		return "its main module, version " + runtime.Quote(m.Version)
	case m.Replace == nil:
		return "a module of its workspace, version " + runtime.Quote(m.Version)
	}
	return "replaced by " + runtime.Quote(m.Replace.Path)
}
