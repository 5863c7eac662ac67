package loader

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/plugink/plugink/runtime"
)

// Plugin is go-micro's plugin interface, over plugink's [runtime.Config].
// [Loader] implements it.
//
// The two forms of Config.NewFunc: Load returns a Config whose NewFunc is
// the constructor itself (a func value), which Init registers; Build takes a
// Config whose NewFunc is the constructor's name (a string such as
// "NewClient"), which it writes into the plugin's source. Each rejects the
// other form with an error that says so.
type Plugin interface {
	// Init registers c in the default map of its kind.
	Init(c *runtime.Config) error
	// Load opens the plugin file at path and returns its Config.
	Load(path string) (*runtime.Config, error)
	// Build compiles a plugin for c into path (".so" is appended if path
	// lacks it).
	Build(path string, c *runtime.Config) error
}

var _ Plugin = (*Loader)(nil)

// EnvPlugins is the environment variable [LoadEnv] reads: a comma-separated
// list of plugin files, as in go-micro.
const EnvPlugins = "MICRO_PLUGIN"

// Loader loads, registers and builds plugins. Create one with [NewPlugin];
// the zero value, like the Loader behind the package-level functions, has
// the default options. A Loader is safe for concurrent use.
//
// What package plugin loads stays loaded for the life of the process, and
// Go allows one plugin per pluginpath, so the record of which files are
// open is shared by every Loader in the process. The registry, checksums
// and options are each Loader's own.
type Loader struct {
	reg         *runtime.Registry // nil: runtime.Default
	noPreflight bool
	replaceAll  bool
	replace     []string // "kind/name" of the plugins that may replace
	requireSums bool
	build       BuildOptions

	mu     sync.Mutex
	sums   Sums                     // nil: checksums are not verified
	inited map[*runtime.Config]bool // Configs this Loader registered
}

// Option configures a [Loader].
type Option func(*Loader)

// NewPlugin returns a Loader. By default it registers into
// [runtime.Default], runs [Preflight] before opening a file, verifies no
// checksums, refuses to replace registered names, and builds in the current
// directory's module with this program's build settings.
func NewPlugin(opts ...Option) *Loader {
	l := &Loader{}
	for _, o := range opts {
		o(l)
	}
	return l
}

// WithRegistry makes the Loader register plugins in r instead of
// [runtime.Default].
func WithRegistry(r *runtime.Registry) Option { return func(l *Loader) { l.reg = r } }

// WithoutPreflight turns off the comparison of a plugin's build with this
// program's before opening it. plugin.Open then reports mismatches itself,
// naming one package, and a path it failed to open cannot be opened again
// in this process.
func WithoutPreflight() Option { return func(l *Loader) { l.noPreflight = true } }

// WithSums makes the Loader verify each file that s has a checksum for
// before opening it, and refuse a file whose SHA-256 differs. Files s does
// not list are loaded unverified unless [WithSumsRequired] is also given.
// The Loader keeps its own copy of s; Build adds the files it makes.
//
// The file is read twice, hashed by Load and then mapped by the dynamic
// linker, so a checksum cannot catch a file swapped in between: keep plugin
// directories writable only by those you trust to build plugins.
func WithSums(s Sums) Option {
	return func(l *Loader) {
		l.sums = Sums{}
		for k, v := range s {
			l.sums[k] = v
		}
	}
}

// WithSumsRequired makes the Loader refuse files that have no recorded
// checksum ([ErrNoChecksum]).
func WithSumsRequired() Option {
	return func(l *Loader) {
		l.requireSums = true
		if l.sums == nil {
			l.sums = Sums{}
		}
	}
}

// WithReplace lets Init replace an implementation already registered under
// the same name (runtime.Replace). With no arguments it applies to every
// plugin the Loader registers; otherwise only to the plugins it names as
// "kind/name", e.g. WithReplace("client/grpc"): a file from MICRO_PLUGIN
// cannot then take over another name by accident.
func WithReplace(plugins ...string) Option {
	return func(l *Loader) {
		if len(plugins) == 0 {
			l.replaceAll = true
		}
		l.replace = append(l.replace, plugins...)
	}
}

// mayReplace reports whether c may replace a registered implementation.
func (l *Loader) mayReplace(c *runtime.Config) bool {
	return l.replaceAll || slices.Contains(l.replace, c.String())
}

// WithBuildOptions sets how [Loader.Build] builds.
func WithBuildOptions(o BuildOptions) Option { return func(l *Loader) { l.build = o } }

// std is the Loader behind the package-level functions.
var std = NewPlugin()

// Init registers c with the default Loader. See [Loader.Init].
func Init(c *runtime.Config) error { return std.Init(c) }

// Load loads the plugin file at path with the default Loader. See
// [Loader.Load].
func Load(path string) (*runtime.Config, error) { return std.Load(path) }

// Build builds a plugin with the default Loader. See [Loader.Build].
func Build(path string, c *runtime.Config) error { return std.Build(path, c) }

// LoadAll loads and registers plugin files with the default Loader. See
// [Loader.LoadAll].
func LoadAll(paths []string) ([]*runtime.Config, error) { return std.LoadAll(paths) }

// LoadEnv loads and registers the plugin files named by MICRO_PLUGIN with
// the default Loader. See [Loader.LoadEnv].
func LoadEnv() ([]*runtime.Config, error) { return std.LoadEnv() }

// Init registers c in the default map of its kind, checking NewFunc's type
// against the kind's constructor type (see [runtime.Registry.Init]). c's
// NewFunc must be a func value, as [Loader.Load] returns it; a string (the
// form Build takes) is refused. Initializing a Config this Loader has
// already registered does nothing. A failed Init registers nothing.
func (l *Loader) Init(c *runtime.Config) error {
	if c != nil {
		if name, ok := c.NewFunc.(string); ok {
			return &runtime.Error{Plugin: c.Name, Kind: c.Type, Err: runtime.ErrInvalid,
				Detail: fmt.Sprintf("NewFunc is the string %q; Init needs the constructor itself (a func value, as Load returns it), a name is what Build takes", name)}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inited[c] {
		return nil
	}
	if err := l.registry().Init(c, l.initOptions()...); err != nil {
		return err
	}
	l.markInited(c)
	return nil
}

// markInited records cs as registered by this Loader; l.mu must be held.
func (l *Loader) markInited(cs ...*runtime.Config) {
	if l.inited == nil {
		l.inited = map[*runtime.Config]bool{}
	}
	for _, c := range cs {
		l.inited[c] = true
	}
}

func (l *Loader) registry() *runtime.Registry {
	if l.reg == nil {
		return runtime.Default
	}
	return l.reg
}

func (l *Loader) initOptions() []runtime.InitOption {
	switch {
	case l.replaceAll:
		return []runtime.InitOption{runtime.Replace()}
	case len(l.replace) > 0:
		return []runtime.InitOption{runtime.Replace(l.replace...)}
	}
	return nil
}

// LoadAll loads every file in paths and registers the plugins, all or
// nothing: it first loads every file and checks every Config against the
// registry (and against the other files: two plugins with the same kind and
// name clash unless WithReplace), and registers them only if all pass.
// Otherwise it registers none and returns one error that joins a
// *[LoadError] (or *MismatchError, *ChecksumError) for every failed file.
// Plugins that did load stay loaded: Go cannot unload them.
//
// Empty paths are skipped, and a file listed twice is loaded once.
func (l *Loader) LoadAll(paths []string) ([]*runtime.Config, error) {
	var cfgs []*runtime.Config
	var errs []error
	seen := map[*runtime.Config]bool{}
	names := map[string]string{} // "type/name" -> file that has it
	for _, p := range paths {
		if strings.TrimSpace(p) == "" {
			continue
		}
		c, err := l.Load(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[c] {
			continue
		}
		seen[c] = true
		if err := l.check(c); err != nil {
			errs = append(errs, &LoadError{Op: "init", Path: p, Err: err})
			continue
		}
		if other, dup := names[c.String()]; dup && !l.mayReplace(c) {
			errs = append(errs, &LoadError{Op: "init", Path: p, Err: &runtime.Error{Plugin: c.Name, Kind: c.Type, Err: runtime.ErrDuplicate, Detail: "also provided by " + other}})
			continue
		}
		names[c.String()] = p
		cfgs = append(cfgs, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := l.initBatch(cfgs); err != nil {
		return nil, fileErrors(err, names)
	}
	return cfgs, nil
}

// initBatch registers the configs this Loader has not registered yet, all
// or none (another goroutine may have registered a name since check).
func (l *Loader) initBatch(cfgs []*runtime.Config) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var fresh []*runtime.Config
	for _, c := range cfgs {
		if !l.inited[c] {
			fresh = append(fresh, c)
		}
	}
	if err := l.registry().InitAll(fresh, l.initOptions()...); err != nil {
		return err
	}
	l.markInited(fresh...)
	return nil
}

// fileErrors wraps each *runtime.Error joined in err in a *LoadError naming
// the file that provided the plugin; files maps "type/name" to a file.
func fileErrors(err error, files map[string]string) error {
	list := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		list = joined.Unwrap()
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		var re *runtime.Error
		if errors.As(e, &re) {
			if file, ok := files[re.Kind+"/"+re.Plugin]; ok {
				e = &LoadError{Op: "init", Path: file, Err: e}
			}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// check reports whether Init would accept c, registering nothing.
func (l *Loader) check(c *runtime.Config) error {
	l.mu.Lock()
	done := l.inited[c]
	l.mu.Unlock()
	if done {
		return nil
	}
	if err := l.registry().Check(c); err != nil {
		return err
	}
	if l.mayReplace(c) {
		return nil
	}
	names, err := l.registry().Names(c.Type)
	if err != nil {
		return err
	}
	for _, n := range names {
		if n == c.Name {
			return &runtime.Error{Plugin: c.Name, Kind: c.Type, Err: runtime.ErrDuplicate, Detail: "pass loader.WithReplace() to replace it"}
		}
	}
	return nil
}

// LoadEnv loads and registers, as [Loader.LoadAll] does, the files listed
// in the environment variable MICRO_PLUGIN (see [EnvPaths]). It returns
// nil, nil when the variable is unset or empty.
func (l *Loader) LoadEnv() ([]*runtime.Config, error) {
	paths := EnvPaths()
	if len(paths) == 0 {
		return nil, nil
	}
	cfgs, err := l.LoadAll(paths)
	if err != nil {
		return cfgs, fmt.Errorf("%s: %w", EnvPlugins, err)
	}
	return cfgs, nil
}

// EnvPaths returns the plugin files listed in MICRO_PLUGIN: the
// comma-separated entries, trimmed of spaces, empty entries skipped.
func EnvPaths() []string {
	var paths []string
	for _, p := range strings.Split(os.Getenv(EnvPlugins), ",") {
		if p = strings.TrimSpace(p); p != "" {
			paths = append(paths, p)
		}
	}
	return paths
}
