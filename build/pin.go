package build

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/gocmd"
	"github.com/plugink/plugink/internal/self"
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

// HostInfoError reports a host whose build information holds a module
// entry that no go build writes: a path, version, checksum or replacement
// that an out-of-module build would otherwise pass to the go command or
// write into go.sum. Nothing is built for such a host.
type HostInfoError struct {
	// Module is the module's path as the host records it.
	Module string
	// Field names the bad field: "path", "version", "checksum",
	// "replacement path", "replacement version", "replacement checksum"
	// or "replacement directory".
	Field string
	// Value is the field's value.
	Value string
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error. The host's values are quoted.
func (e *HostInfoError) Error() string {
	return fmt.Sprintf("the host's build information: module %s: %s %s: %s",
		runtime.Quote(e.Module), e.Field, runtime.Quote(e.Value), e.Reason)
}

// ErrorHint says how to see what the host records.
func (e *HostInfoError) ErrorHint() string {
	return "the host binary is damaged or was not built by the go command; see what it records: go version -m <host binary>"
}

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
// directory hostSrc for modules the host built from source; plugink's own
// module even if the plugin's graph does not hold it (see pin). It returns
// nil for a module that is the host's own. It fails before anything is
// compiled, naming each module and both versions, when the plugin needs a
// newer version than the host links (and which modules require it), or a
// module's source is not at hand; and, naming the module and the field,
// when the host's build information holds a module entry that no go build
// writes (see checkHostModule).
func pinToHost(ctx context.Context, goCmd gocmd.Cmd, host *debug.BuildInfo, hostSrc string) (*pinning, error) {
	goCmd.Env = append(goCmd.Env, "GOWORK=off")
	gomodPath, mod, err := readGoMod(ctx, goCmd)
	if err != nil || mod.Module.Path == host.Main.Path {
		return nil, err
	}
	if err := checkHost(host, hostSrc); err != nil {
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
//
// plugink's own module is pinned whether or not the graph holds it yet, and
// may be lowered: plugink/runtime enters every plugin through the main
// package that the build generates, so a module that does not require
// plugink would otherwise get the newest one, and a module that requires a
// newer plugink than the host's may do so only for its go tool plugink.
// Every other module is pinned only if the graph holds it, and never
// lowered.
func (p *pinning) pin(ctx context.Context, goCmd gocmd.Cmd, host *debug.BuildInfo, hostSrc string) error {
	hostMods := hostModules(host)
	pinned := map[string]bool{}
	for round := range maxPinRounds {
		graph, err := p.graph(ctx, goCmd)
		if err != nil {
			return err
		}
		var todo []*debug.Module
		absent := map[string]bool{}
		if hm := hostMods[self.Module]; round == 0 && hm != nil && !slices.ContainsFunc(graph, func(m listedModule) bool { return m.Path == self.Module }) {
			pinned[self.Module], absent[self.Module] = true, true
			todo = append(todo, hm)
		}
		for _, m := range graph {
			hm := hostMods[m.Path]
			if hm == nil || m.Main || pinned[m.Path] {
				continue
			}
			pinned[m.Path] = true
			_, fromSource := sourceDir(hm, host, hostSrc)
			if !fromSource && hm.Replace == nil && m.Path != self.Module && semver.Compare(m.Version, hm.Version) > 0 {
				continue // the plugin needs a newer version: checkPins says so, nothing is lowered
			}
			todo = append(todo, hm)
		}
		if len(todo) == 0 {
			if hostMods[self.Module] != nil && !slices.ContainsFunc(graph, func(m listedModule) bool { return m.Path == self.Module }) {
				// Still absent: the host built plugink from a directory not
				// at hand, which checkPins reports.
				graph = append(graph, listedModule{Path: self.Module})
			}
			err := checkPins(graph, hostMods, host, hostSrc, nil)
			var pe *PinError
			if errors.As(err, &pe) {
				if reqs, gerr := p.requirers(ctx, goCmd); gerr == nil { // only to say more
					err = checkPins(graph, hostMods, host, hostSrc, reqs)
				}
			}
			return err
		}
		if err := p.add(ctx, goCmd, todo, absent, host, hostSrc); err != nil {
			return err
		}
	}
	return fmt.Errorf("pinning the plugin's modules to the host's did not settle in %d rounds", maxPinRounds)
}

// hostModules returns the host's modules by path.
func hostModules(host *debug.BuildInfo) map[string]*debug.Module {
	mods := map[string]*debug.Module{host.Main.Path: &host.Main}
	for _, d := range host.Deps {
		if d != nil {
			mods[d.Path] = d
		}
	}
	return mods
}

// checkHost refuses build information that no go build writes, naming the
// first module entry and field at fault (see checkHostModule). Every
// module is checked, used or not: a host whose build information was
// tampered with is not one to build for.
func checkHost(host *debug.BuildInfo, hostSrc string) error {
	if host.Main.Path != "" || host.Main.Version != "" { // empty: built outside a module
		if err := checkHostModule(&host.Main, host, hostSrc); err != nil {
			return err
		}
	}
	for _, d := range host.Deps {
		if d == nil {
			continue
		}
		if err := checkHostModule(d, host, hostSrc); err != nil {
			return err
		}
	}
	return nil
}

// develVersion is the version the go command records for a module built
// from a directory: a main module without VCS stamping, a module of a
// workspace, a directory replacement.
const develVersion = "(devel)"

// checkHostModule checks each field of the host's module m that an
// out-of-module build uses, as sourceDir classifies m:
//
//   - by version (required, or replaced by another module at a version):
//     each path a module path (module.CheckPath; a main module's or a
//     replaced module's, an import path) at a canonical semantic version
//     that fits its major version (module.Check), each checksum empty or
//     h1: and the base64 of 32 bytes;
//   - from a directory: the path an import path (a replaced module's or a
//     main module's path need not be fetchable), the version "(devel)" or
//     a semantic version, a replacement's directory a directory path as in
//     go.mod (absolute, or ./ or ../), its version "(devel)" or empty, and
//     the directory the build would use without control characters or
//     surrounding space.
func checkHostModule(m *debug.Module, host *debug.BuildInfo, hostSrc string) error {
	bad := func(field, value string, err error) error {
		return &HostInfoError{Module: m.Path, Field: field, Value: value, Reason: reason(err)}
	}
	dir, fromSource := sourceDir(m, host, hostSrc)
	switch {
	case !fromSource && m == &host.Main: // a main module's path need not be fetchable
		if err := module.CheckImportPath(m.Path); err != nil {
			return bad("path", m.Path, err)
		}
		if err := checkRequireVersion(m.Version); err != nil {
			return bad("version", m.Version, err)
		}
	case !fromSource && m.Replace == nil:
		if err := module.CheckPath(m.Path); err != nil {
			return bad("path", m.Path, err)
		}
		if err := checkVersion(m.Path, m.Version); err != nil {
			return bad("version", m.Version, err)
		}
	case !fromSource: // replaced by a module at a version
		if err := module.CheckImportPath(m.Path); err != nil {
			return bad("path", m.Path, err)
		}
		if err := checkRequireVersion(m.Version); err != nil {
			return bad("version", m.Version, err)
		}
		if err := module.CheckPath(m.Replace.Path); err != nil {
			return bad("replacement path", m.Replace.Path, err)
		}
		if err := checkVersion(m.Replace.Path, m.Replace.Version); err != nil {
			return bad("replacement version", m.Replace.Version, err)
		}
	default:
		if err := module.CheckImportPath(m.Path); err != nil {
			return bad("path", m.Path, err)
		}
		if m.Version != develVersion && !semver.IsValid(m.Version) {
			return bad("version", m.Version, errors.New(`neither a semantic version nor "(devel)"`))
		}
		if m.Replace == nil {
			break
		}
		if m != &host.Main {
			if err := checkRequireVersion(m.Version); err != nil { // required at it, see editArgs
				return bad("version", m.Version, err)
			}
		}
		if v := m.Replace.Version; v != "" && v != develVersion {
			return bad("replacement version", v, errors.New(`neither a canonical semantic version nor "(devel)"`))
		}
		if err := checkDir(m.Replace.Path); err != nil || !modfile.IsDirectoryPath(m.Replace.Path) {
			if err == nil {
				err = errors.New("a replacement without a version must be a directory: absolute, or starting with ./ or ../")
			}
			return bad("replacement path", m.Replace.Path, err)
		}
		if err := checkDir(dir); err != nil {
			return bad("replacement directory", dir, err)
		}
	}
	if err := checkSum(m.Sum); err != nil {
		return bad("checksum", m.Sum, err)
	}
	if m.Replace != nil {
		if err := checkSum(m.Replace.Sum); err != nil {
			return bad("replacement checksum", m.Replace.Sum, err)
		}
	}
	return nil
}

// checkVersion checks that a module at path can be required at version v:
// a canonical semantic version that fits the path's major version.
func checkVersion(path, v string) error {
	if err := module.Check(path, v); err != nil {
		return err
	}
	return checkRequireVersion(v)
}

// checkRequireVersion checks that v is a semantic version in its canonical
// form, as go.mod's require lines hold them ("+incompatible" kept, no
// other build metadata).
func checkRequireVersion(v string) error {
	if !semver.IsValid(v) {
		return errors.New("not a semantic version")
	}
	if module.CanonicalVersion(v) != v {
		return fmt.Errorf("not a canonical version (%s)", module.CanonicalVersion(v))
	}
	return nil
}

// checkDir checks a directory the build would pass to go mod edit -replace
// (which trims space), and that the go.mod it writes would hold on one
// line.
func checkDir(dir string) error {
	switch {
	case strings.ContainsFunc(dir, unicode.IsControl):
		return errors.New("a control character (a newline?) in a directory")
	case strings.TrimSpace(dir) != dir:
		return errors.New("space around a directory")
	}
	return nil
}

// checkSum checks a module checksum of the host: empty (a vendored build
// records none), or "h1:" and the standard base64 of 32 bytes, as go.sum
// holds it (the decoder skips newlines, hence the comparison).
func checkSum(sum string) error {
	if sum == "" {
		return nil
	}
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return errors.New(`not an "h1:" checksum`)
	}
	hash, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(hash) != 32 || base64.StdEncoding.EncodeToString(hash) != b64 {
		return errors.New(`not "h1:" and the base64 of a SHA-256`)
	}
	return nil
}

// reason returns what is wrong, without x/mod's repetition of the value.
func reason(err error) string {
	for {
		switch e := err.(type) {
		case *module.ModuleError:
			err = e.Err
		case *module.InvalidVersionError:
			err = e.Err
		case *module.InvalidPathError:
			err = e.Err
		default:
			return err.Error()
		}
	}
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
// host's version, with the host's checksum in go.sum; absent holds those
// not in the plugin's graph.
func (p *pinning) add(ctx context.Context, goCmd gocmd.Cmd, mods []*debug.Module, absent map[string]bool, host *debug.BuildInfo, hostSrc string) error {
	edits, sums := editArgs(mods, absent, host, hostSrc)
	args := append([]string{"mod", "edit", "-modfile=" + filepath.Join(p.dir, "go.mod")}, edits...)
	if _, err := goCmd.Output(ctx, args...); err != nil {
		return err
	}
	return p.appendSums(sums)
}

// editArgs returns the go mod edit flags and the go.sum lines that pin
// mods (checked by checkHost) to the host's. A module replaced as the host
// did is also required when the graph does not hold it yet (absent): at
// the host's version, or for a main module that has none, at the zero
// pseudo-version the go command gives a replaced module.
func editArgs(mods []*debug.Module, absent map[string]bool, host *debug.BuildInfo, hostSrc string) (args, sums []string) {
	for _, m := range mods {
		switch dir, fromSource := sourceDir(m, host, hostSrc); {
		case fromSource && dir == "":
			continue // checkPins reports it
		case fromSource:
			args = append(args, "-replace="+m.Path+"="+dir)
			switch {
			case m != &host.Main:
				args = append(args, "-require="+m.Path+"@"+m.Version)
			case absent[m.Path]:
				args = append(args, "-require="+m.Path+"@"+zeroVersion(m.Path))
			}
		case m.Replace != nil:
			args = append(args, "-replace="+m.Path+"="+m.Replace.Path+"@"+m.Replace.Version)
			if absent[m.Path] {
				args = append(args, "-require="+m.Path+"@"+m.Version)
			}
			sums = append(sums, sumLine(m.Replace.Path, m.Replace.Version, m.Replace.Sum))
		default:
			args = append(args, "-require="+m.Path+"@"+m.Version)
			sums = append(sums, sumLine(m.Path, m.Version, m.Sum))
		}
	}
	return args, sums
}

// zeroVersion is the zero pseudo-version of a module at path.
func zeroVersion(path string) string {
	_, pathMajor, _ := module.SplitPathVersion(path)
	major := module.PathMajorPrefix(pathMajor)
	if major == "" {
		major = "v0"
	}
	return module.ZeroPseudoVersion(major)
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
// at another version than the one the graph selects; with reqs (see
// requirers), it says which modules require that version.
func checkPins(graph []listedModule, hostMods map[string]*debug.Module, host *debug.BuildInfo, hostSrc string, reqs map[module.Version][]string) error {
	var problems, lower []string
	var hint string
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
			problem := fmt.Sprintf("module %s: the plugin needs %s, %s than the host links (%s)", m.Path, got, what, want)
			if by := reqs[module.Version{Path: m.Path, Version: got}]; len(by) > 0 {
				problem += ", required by " + listSome(by, 3)
			}
			problems = append(problems, problem)
			if hm.Replace == nil {
				lower = append(lower, m.Path+"@"+want)
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	if hint == "" {
		hint = "ask for a host built with the newer versions, or build the plugin against the versions the host links"
		if len(lower) > 0 {
			hint += "; to lower the plugin's requirements to them, in its module: go get " + strings.Join(lower, " ")
		}
	}
	return &PinError{Problems: problems, Hint: hint}
}

// requirers returns, from go mod graph under p's go.mod, the modules that
// require each module version: those of the graph (path@version), or else
// the main module (its path). The main module's requirement is left out
// when another module requires the version too: the go command raises the
// main module's requirements to what the graph selects, so that requirement
// may be the host's version that pin set, and another module's is then the
// one that forces the version anyway.
func (p *pinning) requirers(ctx context.Context, goCmd gocmd.Cmd) (map[module.Version][]string, error) {
	out, err := goCmd.Output(ctx, "mod", "graph", "-modfile="+filepath.Join(p.dir, "go.mod"))
	if err != nil {
		return nil, err
	}
	return parseRequirers(out), nil
}

// parseRequirers reads go mod graph's output for requirers.
func parseRequirers(out []byte) map[module.Version][]string {
	reqs := map[module.Version][]string{}
	for line := range bytes.Lines(out) {
		from, to, ok := strings.Cut(strings.TrimSpace(string(line)), " ")
		path, version, ok2 := strings.Cut(to, "@")
		if ok && ok2 {
			v := module.Version{Path: path, Version: version}
			if !slices.Contains(reqs[v], from) {
				reqs[v] = append(reqs[v], from)
			}
		}
	}
	for v, by := range reqs {
		if deps := slices.DeleteFunc(slices.Clone(by), func(s string) bool { return !strings.Contains(s, "@") }); len(deps) > 0 {
			reqs[v] = deps
		}
	}
	return reqs
}

// listSome joins the first n of list, and says how many more there are.
func listSome(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(list[:n], ", "), len(list)-n)
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
