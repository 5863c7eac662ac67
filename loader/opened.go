package loader

import (
	"fmt"
	"io"
	"os"
	"plugin"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

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
// or another file with the same pluginpath, before. With trialFirst, it
// first opens the file in a trial process (see trial).
func openOnce(c *candidate, trialFirst bool) (*runtime.Config, error) {
	path, real, fi, pluginpath := c.path, c.real, c.fi, c.pluginpath
	opened.Lock()
	if e := opened.byReal[real]; e != nil {
		opened.Unlock()
		<-e.done
		return e.result(path, fi)
	}
	if e := opened.byPath[pluginpath]; pluginpath != "" && e != nil {
		opened.Unlock()
		<-e.done
		return e.samePluginpath(c)
	}
	e := &openEntry{path: path, real: real, file: fi, pluginpath: pluginpath, sum: c.sum, done: make(chan struct{})}
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
	if trialFirst {
		if err := trial(real); err != nil {
			res.err = runtime.WithHint(err, "the file may be damaged, or not a plugin for this program: rebuild it (plugink build), or verify it with a plugink.sum")
		}
	}
	if res.err == nil {
		// package plugin opens the file by its name: the descriptor's
		// checksum is that of the file it maps only if the name leads to
		// the descriptor's file both before and after.
		e.keepFdIfAt(real)
		if testHookBeforeOpen != nil {
			testHookBeforeOpen()
		}
		res = openPlugin(real)
		e.keepFdIfAt(real)
		c.mapped = res.remembered
		if e.fd != nil { // the file the dynamic linker mapped
			if st, err := e.fd.Stat(); err == nil {
				c.openedID, c.openedKnown = identity(st)
			}
		}
	}
	e.finish(res)
	if res.err != nil {
		return nil, &LoadError{Op: "load", Path: path, Err: res.err}
	}
	return res.cfg, nil
}

// testHookBeforeOpen, if set (by a test), runs right before plugin.Open.
var testHookBeforeOpen func()

// entryOf returns the record of the file that cfg came from, or nil.
func entryOf(cfg *runtime.Config) *openEntry {
	opened.Lock()
	defer opened.Unlock()
	for _, e := range opened.byPath {
		if e.cfg == cfg {
			return e
		}
	}
	return nil
}

// pluginpathOf returns the pluginpath of the file cfg came from; "" if
// unknown (cfg was not loaded from a file).
func pluginpathOf(cfg *runtime.Config) string {
	if e := entryOf(cfg); e != nil {
		return e.pluginpath
	}
	return ""
}

// entrySum returns the checksum of the file cfg came from; "" if unknown.
func entrySum(cfg *runtime.Config) string {
	if e := entryOf(cfg); e != nil {
		return e.checksum()
	}
	return ""
}

// checksum returns the checksum of e's file as it was opened; "" if
// unknown (it was replaced before it could be kept open, or a read
// failed).
func (e *openEntry) checksum() string {
	e.sumOnce.Do(func() {
		if e.sum != "" || e.fd == nil {
			return
		}
		e.sum, _ = readSum(io.NewSectionReader(e.fd, 0, 1<<62))
	})
	return e.sum
}

// keepFdIfAt closes e's descriptor, so that its checksum stays unknown,
// unless path names the descriptor's file (by then the fd is e's alone).
func (e *openEntry) keepFdIfAt(path string) {
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
func (e *openEntry) finish(res openResult) {
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

// samePluginpath is what loading c returns when e, another file with the
// same pluginpath, is open: e's result if the two are the same file (a
// hard link) or have the same contents (a copy), else an error.
func (e *openEntry) samePluginpath(c *candidate) (*runtime.Config, error) {
	path, real, fi := c.path, c.real, c.fi
	if os.SameFile(e.file, fi) {
		return e.result(path, fi)
	}
	if a := e.checksum(); a != "" && e.err == nil {
		b := c.sum
		if b == "" {
			b, _ = FileSum(real)
		}
		if a == b {
			return e.cfg, nil
		}
	}
	return nil, &LoadError{Op: "load", Path: path,
		Err:  fmt.Errorf("%w: %s, loaded before from %s, has the same pluginpath %q and other contents", ErrPluginPath, path, e.real, e.pluginpath),
		Hint: "a process loads one plugin per pluginpath (the import path of its main package): load only one of the two files (check the plugin directory and $MICRO_PLUGIN), or build one for another plugin name or kind"}
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
				err: runtime.WithHint(fmt.Errorf("%w: a package init function panicked: %v", ErrOpen, r), "package plugin cannot open this path again in this process")}
		}
	}()
	opensStarted.Add(1)
	defer opensDone.Add(1) // a panic counts too
	p, err := plugin.Open(real)
	if err != nil {
		msg := openMessage(real, err)
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

// opensStarted and opensDone count the loader's calls of plugin.Open,
// before each starts and once it has returned: a plugin's packages are
// visible to the comparison of fingerprints once its call is done, and a
// file checked when opensDone was n must be compared again before it is
// opened if opensStarted has gone past n since (see recheck).
var opensStarted, opensDone atomic.Uint64

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

// openMessage returns plugin.Open's error for the file real without the
// "plugin.Open(<path without .so>): " it starts with.
func openMessage(real string, err error) string {
	msg := strings.TrimPrefix(err.Error(), `plugin.Open("`+strings.TrimSuffix(real, ".so")+`"): `)
	return strings.TrimPrefix(msg, `plugin.Open("`+real+`"): `)
}
