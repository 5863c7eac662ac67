package loader

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"plugin"
	"reflect"
	goruntime "runtime"
	"strings"
	"sync"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/runtime"
)

// opened is the process-wide record of files handed to plugin.Open. Package
// plugin remembers every path it opened (or failed to) for the life of the
// process, and the runtime refuses a second plugin with a pluginpath it has
// already loaded; this record lets Load answer those cases itself, before
// calling plugin.Open, with an error that says what happened.
var opened = struct {
	sync.Mutex
	byReal map[string]*openEntry // by the resolved path, as package plugin keys it
	byPath map[string]*openEntry // by pluginpath
}{byReal: map[string]*openEntry{}, byPath: map[string]*openEntry{}}

// openEntry is one file handed to plugin.Open.
type openEntry struct {
	path       string      // as the first caller named it
	real       string      // resolved path
	file       os.FileInfo // the file then, to tell whether it changed
	pluginpath string      // "" if unknown
	done       chan struct{}

	// Set before done is closed.
	cfg *runtime.Config
	err error
}

// Load opens the plugin file at path and returns its Config, whose NewFunc
// is the plugin's constructor (a func value). It does not register the
// plugin; see [Loader.Init] and [Loader.LoadAll].
//
// Before opening the file, Load checks, in this order: that it exists; its
// checksum, if the Loader has one for it ([WithSums]); that it is a Go
// plugin for this OS and architecture; that no other file with the same
// pluginpath is loaded; and, unless [WithoutPreflight], that it was built
// like this program ([Preflight]). A file that fails these checks is never
// opened, so a corrected file can be loaded later from the same path.
//
// Loading a file this process has already loaded returns the same Config
// (after verifying its checksum, if this Loader has sums).
// The file's Plugin variable may be a runtime.Config or a *runtime.Config;
// its NewFunc must be a non-nil func value (a constructor's name, the form
// Build takes, is refused).
//
// Opening a plugin runs its packages' init functions. A panic in one is
// recovered and returned as an error wrapping [ErrOpen]; package plugin
// then considers the path half-opened forever, so Load refuses it from then
// on. A fatal error in the Go runtime (a throw) cannot be recovered.
func (l *Loader) Load(path string) (*runtime.Config, error) {
	fail := func(err error) (*runtime.Config, error) {
		return nil, &LoadError{Op: "load", Path: path, Err: err}
	}
	if err := supported(); err != nil {
		return fail(err)
	}
	real, fi, err := resolve(path)
	if err != nil {
		return fail(err)
	}
	if err := l.verifySum(path, real); err != nil {
		var ce *ChecksumError
		if errors.As(err, &ce) {
			ce.Path = path
			return nil, ce // it names the file
		}
		return fail(err)
	}
	if e := lookupOpened(real); e != nil {
		return e.result(path, fi)
	}
	pf, err := readForLoad(real)
	if err != nil {
		return fail(err)
	}
	if !l.noPreflight {
		host, err := hostBuildInfo()
		if err != nil {
			return fail(err)
		}
		if diffs := Compare(pf.bi, host); len(diffs) > 0 {
			return nil, &MismatchError{Path: path, Diffs: diffs}
		}
	}
	return openOnce(path, real, fi, pf.pluginpath)
}

// readForLoad reads what Load checks in the file at real: its format,
// platform, build information and pluginpath.
func readForLoad(real string) (*pluginFile, error) {
	f, _, err := fsx.Open(real)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pf, err := readPluginFile(f)
	if err != nil {
		return nil, err
	}
	if err := checkPlatform(pf); err != nil {
		return nil, err
	}
	if pf.pluginpath == "" {
		if pf.pluginpath, err = readPluginPath(f); err != nil {
			return nil, err
		}
	}
	return pf, nil
}

// supported reports whether this program can load plugins at all.
func supported() error {
	switch goruntime.GOOS {
	case "linux", "darwin", "freebsd":
	default:
		return fmt.Errorf("%w: Go supports plugins on linux, darwin and freebsd, not %s", ErrUnsupported, goruntime.GOOS)
	}
	if bi, err := hostBuildInfo(); err == nil && setting(bi, "CGO_ENABLED") == "0" {
		return fmt.Errorf("%w: it was built with CGO_ENABLED=0, and package plugin needs cgo", ErrUnsupported)
	}
	return nil
}

// resolve returns the path package plugin will use for path (absolute,
// symbolic links resolved) and the file's identity.
func resolve(path string) (string, os.FileInfo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, fs.ErrNotExist // the path is in the caller's error already
	}
	if err != nil {
		return "", nil, err
	}
	fi, err := os.Stat(real)
	switch {
	case err != nil:
		return "", nil, err
	case fi.IsDir():
		return "", nil, fmt.Errorf("%w: a directory, not a file", ErrNotPlugin)
	case !fi.Mode().IsRegular():
		return "", nil, fmt.Errorf("%w: not a regular file (%s)", ErrNotPlugin, fi.Mode().Type())
	}
	return real, fi, nil
}

// verifySum checks the file, named path and resolved to real, against
// the Loader's checksums.
func (l *Loader) verifySum(path, real string) error {
	l.mu.Lock()
	sums, required := l.sums, l.requireSums // Build replaces l.sums, never writes into it
	l.mu.Unlock()
	if sums == nil {
		return nil
	}
	key := path
	if _, ok := sums.Lookup(path); !ok {
		key = real
	}
	err := sums.Verify(key)
	if errors.Is(err, ErrNoChecksum) && !required {
		return nil
	}
	return err
}

// readPluginPath reads the pluginpath the linker recorded, for plugins
// built from a list of files, whose build information does not name it.
func readPluginPath(f *os.File) (string, error) {
	syms, err := readSymbols(f, func(name []byte) bool { return string(name) == thisPluginPath })
	if err != nil || len(syms) == 0 {
		return "", err
	}
	return string(syms[0].data), nil
}

// lookupOpened returns the record of real, waiting for a concurrent open of
// it to finish.
func lookupOpened(real string) *openEntry {
	opened.Lock()
	e := opened.byReal[real]
	opened.Unlock()
	if e != nil {
		<-e.done
	}
	return e
}

// result is what loading e's path again returns: the same Config, or the
// same error, or an error saying the file changed since.
func (e *openEntry) result(path string, now os.FileInfo) (*runtime.Config, error) {
	if !os.SameFile(e.file, now) {
		what := "loaded"
		if e.err != nil {
			what = "tried to load"
		}
		return nil, &LoadError{Op: "load", Path: path, Err: fmt.Errorf("%w: this process %s %s before it was replaced", ErrReload, what, e.real),
			Hint: "package plugin remembers plugins by path for the life of a process: restart the process to load the new file"}
	}
	if e.err != nil {
		return nil, &LoadError{Op: "load", Path: path, Err: e.err}
	}
	return e.cfg, nil
}

// openOnce opens real with plugin.Open unless this process has opened it,
// or another file with the same pluginpath, before.
func openOnce(path, real string, fi os.FileInfo, pluginpath string) (*runtime.Config, error) {
	opened.Lock()
	if e := opened.byReal[real]; e != nil {
		opened.Unlock()
		<-e.done
		return e.result(path, fi)
	}
	if e := opened.byPath[pluginpath]; pluginpath != "" && e != nil {
		opened.Unlock()
		<-e.done
		if os.SameFile(e.file, fi) { // a hard link to a file already loaded
			return e.result(path, fi)
		}
		return nil, &LoadError{Op: "load", Path: path, Err: fmt.Errorf("%w: %s, loaded from %s, has the same pluginpath %q", ErrPluginPath, e.path, e.real, pluginpath),
			Hint: "a process can load only one plugin per pluginpath (the import path of its main package): build one of them for another plugin name or kind"}
	}
	e := &openEntry{path: path, real: real, file: fi, pluginpath: pluginpath, done: make(chan struct{})}
	opened.byReal[real] = e
	if pluginpath != "" {
		opened.byPath[pluginpath] = e
	}
	opened.Unlock()

	res := openPlugin(real)

	opened.Lock()
	e.cfg, e.err = res.cfg, res.err
	if !res.remembered { // package plugin will try this path again: so may we
		delete(opened.byReal, real)
	}
	if !res.active && opened.byPath[pluginpath] == e {
		// No module with this pluginpath is active (the runtime marked
		// it bad, or the dynamic linker failed), so another file may
		// claim the pluginpath.
		delete(opened.byPath, pluginpath)
	}
	close(e.done)
	opened.Unlock()
	if res.err != nil {
		return nil, &LoadError{Op: "load", Path: path, Err: res.err}
	}
	return res.cfg, nil
}

// openResult is the outcome of plugin.Open and the lookup of Plugin.
type openResult struct {
	cfg *runtime.Config
	err error
	// remembered reports whether package plugin now remembers the path, so
	// that opening it again returns the same plugin, or the same failure,
	// or blocks.
	remembered bool
	// active reports whether the plugin's module is active in the runtime,
	// holding its pluginpath.
	active bool
}

// openPlugin calls plugin.Open and looks up the Plugin symbol, recovering a
// panic in the plugin's init functions.
func openPlugin(real string) (res openResult) {
	defer func() {
		if r := recover(); r != nil {
			res = openResult{remembered: true, active: true,
				err: withHint(fmt.Errorf("%w: a package init function panicked: %v", ErrOpen, r), "package plugin cannot open this path again in this process")}
		}
	}()
	p, err := plugin.Open(real)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), `plugin.Open("`+strings.TrimSuffix(real, ".so")+`"): `)
		msg = strings.TrimPrefix(msg, `plugin.Open("`+real+`"): `)
		res.remembered = goRemembersFailure(msg)
		res.err = fmt.Errorf("%w: %s", ErrOpen, msg)
		if res.remembered {
			res.err = withHint(res.err, "package plugin will not retry this path in this process")
		}
		return res
	}
	res.cfg, res.err = pluginConfig(p)
	res.remembered, res.active = true, true
	return res
}

// goRemembersFailure reports whether plugin.Open's failure happened after
// the dynamic linker loaded the file, so that package plugin keeps the
// failure for the path.
func goRemembersFailure(msg string) bool {
	return strings.HasPrefix(msg, "plugin already loaded") ||
		strings.HasPrefix(msg, "plugin was built with a different version of package") ||
		strings.HasSuffix(msg, "(previous failure)")
}

// pluginConfig returns the plugin's Config from its Plugin symbol.
func pluginConfig(p *plugin.Plugin) (*runtime.Config, error) {
	sym, err := p.Lookup("Plugin")
	if err != nil {
		return nil, withHint(fmt.Errorf("%w: the plugin exports no variable Plugin", ErrNoSymbol), "a plugin's main package declares var Plugin = runtime.Config{...}")
	}
	var cfg *runtime.Config
	switch v := sym.(type) {
	case *runtime.Config:
		cfg = v
	case **runtime.Config:
		cfg = *v
		if cfg == nil {
			return nil, fmt.Errorf("%w: Plugin is a nil *runtime.Config", ErrSymbolType)
		}
	default:
		return nil, fmt.Errorf("%w: Plugin is %s, want a variable of type runtime.Config (github.com/plugink/plugink/runtime)", ErrSymbolType, describeSymbol(sym))
	}
	switch f := reflect.ValueOf(cfg.NewFunc); {
	case !f.IsValid() || f.Kind() == reflect.Func && f.IsNil():
		return nil, fmt.Errorf("%w: plugin %s: Plugin.NewFunc is nil", runtime.ErrInvalid, cfg)
	case f.Kind() == reflect.String:
		return nil, withHint(fmt.Errorf("%w: plugin %s: Plugin.NewFunc is the string %s, not a func", runtime.ErrInvalid, cfg, runtime.Quote(f.String())),
			"a loaded plugin holds the constructor itself (a func value); a constructor's name is what Build takes")
	case f.Kind() != reflect.Func:
		return nil, fmt.Errorf("%w: plugin %s: Plugin.NewFunc is a %s, not a func", runtime.ErrInvalid, cfg, f.Type())
	}
	return cfg, nil
}

// describeSymbol names the type of a plugin symbol: a variable's symbol is
// a pointer to it, a function's is the function.
func describeSymbol(sym plugin.Symbol) string {
	t := reflect.TypeOf(sym)
	if t.Kind() == reflect.Func {
		return "a func of type " + t.String()
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := t.String()
	if t.PkgPath() != "" {
		name += " (" + t.PkgPath() + ")"
	}
	return "a variable of type " + name
}
