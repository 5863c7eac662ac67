// Package opened is the process-wide table of the plugin files handed to
// plugin.Open. Package plugin remembers every path it opened (or failed
// to) for the life of the process, and the runtime refuses a second plugin
// with a pluginpath it has already loaded; this table lets the loader
// answer those cases itself, before calling plugin.Open, with an error
// that says what happened.
package opened

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"plugin"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/loader/internal/pluginfile"
	"github.com/plugink/plugink/runtime"
)

// Sentinel errors of opening a file.
var (
	// ErrNoSymbol reports a plugin that exports no variable called Plugin.
	ErrNoSymbol = errors.New("no symbol Plugin")
	// ErrSymbolType reports a Plugin symbol that is not a runtime.Config.
	ErrSymbolType = errors.New("symbol Plugin has the wrong type")
	// ErrPluginPath reports a file whose pluginpath is already loaded from
	// another file.
	ErrPluginPath = errors.New("pluginpath already loaded from another file")
	// ErrReload reports a path this process loaded, or failed to load,
	// before, whose file has changed since.
	ErrReload = errors.New("cannot load a changed plugin file again in this process")
	// ErrOpen reports a failure of plugin.Open itself.
	ErrOpen = errors.New("plugin.Open failed")
)

// opened is the table.
var opened = struct {
	sync.Mutex
	byReal map[string]*Entry // by the resolved path, as package plugin keys it
	byPath map[string]*Entry // by pluginpath
}{byReal: map[string]*Entry{}, byPath: map[string]*Entry{}}

// Entry is one file handed to plugin.Open.
type Entry struct {
	path       string      // as the first caller named it
	real       string      // resolved path
	file       os.FileInfo // the file then, to tell whether it changed
	pluginpath string      // "" if unknown
	done       chan struct{}

	// The file's checksum: sum if known when it was opened (an upgrade's
	// copy), else read once, on demand, from fd, which stays open for as
	// long as a plugin came from the file (for the life of the process),
	// so that the bytes hashed are those opened even if a rename replaced
	// the path since (see checksum). A file overwritten in place, which
	// would corrupt the mapped plugin too, is not told apart.
	sumOnce sync.Once
	sum     string
	fd      *os.File

	// Set before done is closed.
	cfg *runtime.Config
	err error
}

// Lookup returns the entry of real, waiting for a concurrent open of it to
// finish; nil if this process has not handed real to plugin.Open.
func Lookup(real string) *Entry {
	opened.Lock()
	e := opened.byReal[real]
	opened.Unlock()
	if e != nil {
		<-e.done
	}
	return e
}

// Result is what loading e's path again returns, now being what the path
// names now: the same Config, or the same error, or an error saying the
// file changed since.
func (e *Entry) Result(now os.FileInfo) (*runtime.Config, error) {
	if !os.SameFile(e.file, now) {
		what := "loaded"
		if e.err != nil {
			what = "tried to load"
		}
		return nil, runtime.WithHint(fmt.Errorf("%w: this process %s %s before it was replaced", ErrReload, what, e.real),
			"package plugin remembers plugins by path for the life of a process: restart the process to load the new file")
	}
	return e.cfg, e.err
}

// Request is a file to open.
type Request struct {
	// Path is the file as the caller named it; Real, resolved (absolute,
	// symbolic links resolved), as package plugin will open it.
	Path, Real string
	// File is what the caller read of the file before checking it.
	File os.FileInfo
	// PluginPath is the file's pluginpath; "" if unknown.
	PluginPath string
	// Sum is the file's checksum, if the caller knows it (an upgrade's
	// copy); else it is read, when needed, from the file opened.
	Sum string
	// Before, if set, runs once the file is this caller's to open, before
	// plugin.Open: an error stops the open (the trial).
	Before func(real string) error
}

// Outcome says what became of a file handed to Open.
type Outcome struct {
	// Mapped says the dynamic linker mapped the file, whatever came after.
	Mapped bool
	// Opened describes the file plugin.Open mapped, if known: the one the
	// descriptor Open kept names, if the path named it before and after.
	Opened os.FileInfo
}

// Open opens the file r names with plugin.Open, and returns the Config
// its Plugin symbol holds, unless this process has opened it, or another
// file with the same pluginpath, before: then it returns what that open
// returned, or an error saying why the file cannot be opened. The error
// of a failed open wraps ErrOpen, ErrNoSymbol, ErrSymbolType or
// runtime.ErrInvalid, or is r.Before's.
func Open(r Request) (*runtime.Config, Outcome, error) {
	path, real, fi, pluginpath := r.Path, r.Real, r.File, r.PluginPath
	opened.Lock()
	if e := opened.byReal[real]; e != nil {
		opened.Unlock()
		<-e.done
		cfg, err := e.Result(fi)
		return cfg, Outcome{}, err
	}
	if e := opened.byPath[pluginpath]; pluginpath != "" && e != nil {
		opened.Unlock()
		<-e.done
		cfg, err := e.samePluginpath(r)
		return cfg, Outcome{}, err
	}
	e := &Entry{path: path, real: real, file: fi, pluginpath: pluginpath, sum: r.Sum, done: make(chan struct{})}
	opened.byReal[real] = e
	if pluginpath != "" {
		opened.byPath[pluginpath] = e
	}
	opened.Unlock()
	if e.sum == "" {
		if f, now, err := fsx.Open(real); err == nil && os.SameFile(now, fi) {
			e.fd = f
		} else if err == nil {
			f.Close() // replaced since it was checked: its sum stays unknown
		}
	}

	var res openResult
	var out Outcome
	if r.Before != nil {
		res.err = r.Before(real)
	}
	if res.err == nil {
		// package plugin opens the file by its name: the descriptor's
		// checksum is that of the file it maps only if the name leads to
		// the descriptor's file both before and after.
		e.keepFdIfAt(real)
		if TestHookBeforeOpen != nil {
			TestHookBeforeOpen()
		}
		res = openPlugin(real)
		e.keepFdIfAt(real)
		out.Mapped = res.remembered
		if e.fd != nil { // the file the dynamic linker mapped
			if st, err := e.fd.Stat(); err == nil {
				out.Opened = st
			}
		}
	}
	e.finish(res)
	return res.cfg, out, res.err
}

// TestHookBeforeOpen, if set (by a test), runs right before plugin.Open.
var TestHookBeforeOpen func()

// entryOf returns the record of the file that cfg came from, or nil.
func entryOf(cfg *runtime.Config) *Entry {
	opened.Lock()
	defer opened.Unlock()
	for _, e := range opened.byPath {
		if e.cfg == cfg {
			return e
		}
	}
	return nil
}

// PluginPath returns the pluginpath of the file cfg came from; "" if
// unknown (cfg was not loaded from a file).
func PluginPath(cfg *runtime.Config) string {
	if e := entryOf(cfg); e != nil {
		return e.pluginpath
	}
	return ""
}

// Sum returns the checksum of the file cfg came from; "" if unknown.
func Sum(cfg *runtime.Config) string {
	if e := entryOf(cfg); e != nil {
		return e.checksum()
	}
	return ""
}

// checksum returns the checksum of e's file as it was opened; "" if
// unknown (it was replaced before it could be kept open, or a read
// failed).
func (e *Entry) checksum() string {
	e.sumOnce.Do(func() {
		if e.sum != "" || e.fd == nil {
			return
		}
		e.sum, _ = sums.Hash(io.NewSectionReader(e.fd, 0, 1<<62))
	})
	return e.sum
}

// keepFdIfAt closes e's descriptor, so that its checksum stays unknown,
// unless path names the descriptor's file (by then the fd is e's alone).
func (e *Entry) keepFdIfAt(path string) {
	if e.fd == nil {
		return
	}
	held, err := e.fd.Stat()
	if now, serr := os.Stat(path); err != nil || serr != nil || !os.SameFile(held, now) {
		e.fd.Close()
		e.fd = nil
	}
}

// finish records the outcome of opening e's file.
func (e *Entry) finish(res openResult) {
	opened.Lock()
	defer opened.Unlock()
	e.cfg, e.err = res.cfg, res.err
	if e.cfg == nil && e.fd != nil { // no plugin will need its checksum
		e.fd.Close()
		e.fd = nil
	}
	if !res.remembered { // package plugin will try this path again: so may we
		delete(opened.byReal, e.real)
	}
	if !res.active && opened.byPath[e.pluginpath] == e {
		// No module with this pluginpath is active (the runtime marked
		// it bad, the dynamic linker failed, or it was never opened), so
		// another file may claim the pluginpath.
		delete(opened.byPath, e.pluginpath)
	}
	close(e.done)
}

// samePluginpath is what opening r returns when e, another file with the
// same pluginpath, is open: e's result if the two are the same file (a
// hard link) or have the same contents (a copy), else an error.
func (e *Entry) samePluginpath(r Request) (*runtime.Config, error) {
	if os.SameFile(e.file, r.File) {
		return e.Result(r.File)
	}
	if a := e.checksum(); a != "" {
		b := r.Sum
		if b == "" {
			b, _ = sums.File(r.Real)
		}
		switch {
		case a == b && e.err == nil:
			return e.cfg, nil
		case a == b:
			return nil, fmt.Errorf("the same contents, with the pluginpath %q, failed to open in this process before: %w", e.pluginpath, e.err)
		}
	}
	return nil, runtime.WithHint(fmt.Errorf("%w: %s, loaded before from %s, has the same pluginpath %q and other contents", ErrPluginPath, r.Path, e.path, e.pluginpath),
		"a process loads one plugin per pluginpath (the import path of its main package): load only one of the two files (check the plugin directory and $MICRO_PLUGIN), or build one for another plugin name or kind")
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
				err: runtime.WithHint(fmt.Errorf("%w: a package init function panicked: %v", ErrOpen, r), "package plugin keeps the failure of this build (its pluginpath) for the life of the process: fix the init function and build the plugin again (plugink build makes a new generation), or restart the process; an init that registers something process-wide (a flag, a metric, a protobuf type) fails in every generation after the first: keep such registrations in a package the host links")}
		}
	}()
	opensStarted.Add(1)
	defer opensDone.Add(1) // a panic counts too
	p, err := plugin.Open(real)
	if err != nil {
		msg := Message(real, err)
		res.remembered = goRemembersFailure(msg)
		res.err = fmt.Errorf("%w: %s", ErrOpen, msg)
		if res.remembered {
			res.err = runtime.WithHint(res.err, "package plugin will not retry this path in this process")
		}
		return res
	}
	res.cfg, res.err = pluginConfig(p)
	res.remembered, res.active = true, true
	return res
}

// opensStarted and opensDone count the calls of plugin.Open, before each
// starts and once it has returned: a plugin's packages are visible to the
// comparison of fingerprints once its call is done, and a file checked
// when Done was n must be compared again before it is opened if Started
// has gone past n since.
var opensStarted, opensDone atomic.Uint64

// Started returns how many calls of plugin.Open this package started.
func Started() uint64 { return opensStarted.Load() }

// Done returns how many calls of plugin.Open this package saw return (or
// panic).
func Done() uint64 { return opensDone.Load() }

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
		return nil, runtime.WithHint(fmt.Errorf("%w: the plugin exports no variable Plugin", ErrNoSymbol), "a plugin's main package declares var Plugin = runtime.Config{...}")
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
		return nil, runtime.WithHint(fmt.Errorf("%w: plugin %s: Plugin.NewFunc is the string %s, not a func", runtime.ErrInvalid, cfg, runtime.Quote(f.String())),
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

// Message returns plugin.Open's error for the file real without the
// "plugin.Open(<path without .so>): " it starts with.
func Message(real string, err error) string {
	msg := strings.TrimPrefix(err.Error(), `plugin.Open("`+strings.TrimSuffix(real, ".so")+`"): `)
	return strings.TrimPrefix(msg, `plugin.Open("`+real+`"): `)
}

// Resolve returns the path package plugin will use for path (absolute,
// symbolic links resolved), which keys this table, and the file's
// identity; a path that is not a regular file is an error wrapping
// pluginfile.pluginfile.ErrNotPlugin.
func Resolve(path string) (string, os.FileInfo, error) {
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
		return "", nil, fmt.Errorf("%w: a directory, not a file", pluginfile.ErrNotPlugin)
	case !fi.Mode().IsRegular():
		return "", nil, fmt.Errorf("%w: not a regular file (%s)", pluginfile.ErrNotPlugin, fi.Mode().Type())
	}
	return real, fi, nil
}
