package loader

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/plugink/plugink/internal/signature"
	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/loader/internal/lineage"
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
const EnvPlugins = runtime.EnvPlugins

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
	noTrial     bool
	noRecords   bool
	initOpts    []runtime.InitOption
	requireSums bool
	requiredBy  string // the manifest whose dynamic.require_sums set requireSums
	build       BuildOptions
	maxGens     int              // 0: defaultMaxGenerations
	pinned      signature.Pinned // WithTrustedKeys: only files they signed load

	mu      sync.Mutex
	sums    Sums                     // nil: checksums are not verified
	inited  map[*runtime.Config]bool // Configs this Loader registered
	dirSums sums.Dirs                // the plugink.sum of each directory, read once
	gens    lineage.Book             // the generations registered, and the files mapped, of each plugin (WithMaxGenerations)

	upgradeMu sync.Mutex // one Upgrade at a time
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

// WithoutTrial turns off the trial open: by default, a file that no
// checksum verified is opened first in a child process of this program
// (the program's own executable, which exits as soon as the plugin is
// open), so that a file that would crash the dynamic linker or make the Go
// runtime throw kills the child, not this process. The child opens only
// the file on trial, reports on a pipe of its own, runs in a process group
// of its own that is killed whole after a minute, and dies with this
// process (on Linux).
//
// The child is this program: its C constructors run there, and the init
// functions of the packages Go initializes before package loader (its
// dependencies, and others that Go's order puts first: since Go 1.21,
// packages are initialized in import path order as their imports allow),
// until loader's init takes over; then the plugin's init functions run,
// once more than they will in this process. A program whose init functions act
// outside the process (write files, call out) should not rely on trials:
// verify its plugins instead (WithSums, plugink.sum), which skips them.
// The trial costs a process start, some milliseconds to tens of
// milliseconds, per unverified file. Turn it off only where every file is
// trusted, or verified.
func WithoutTrial() Option { return func(l *Loader) { l.noTrial = true } }

// WithoutRecords makes the Loader neither read nor write load records. By
// default, after opening a file it records the file's identity (device,
// inode, size, modification and change times) with this program's, in
// the directory $PLUGINK_LOAD_RECORDS names (or <user cache
// dir>/plugink/loaded; "off" for none); a later start of the same program
// that finds the file unchanged skips its structure check, its trial and
// (until another plugin is opened) the fingerprint comparison, which
// that open proved. A checksum in a plugink.sum is verified all the same.
// The directory and the records must belong to the user and be writable by
// no one else, or they are ignored; a file changed less than two seconds
// before it was checked is not recorded.
func WithoutRecords() Option { return func(l *Loader) { l.noRecords = true } }

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

// WithInitOptions passes opts to runtime.InitAll whenever the Loader
// registers plugins: runtime.ReplaceOnly("client/grpc") lets the plugins it
// names replace a registered implementation, runtime.ReplaceAll lets every
// plugin do so, runtime.FromManifest says where the plugins come from.
func WithInitOptions(opts ...runtime.InitOption) Option {
	return func(l *Loader) { l.initOpts = append(l.initOpts, opts...) }
}

// WithBuildOptions sets how [Loader.Build] builds.
func WithBuildOptions(o BuildOptions) Option { return func(l *Loader) { l.build = o } }

// Sums maps plugin files to their expected SHA-256 checksums, for
// [WithSums]. Keys are absolute, cleaned paths; values are lower-case hex.
// On disk (plugink.sum) it is kept in the format of sha256sum.
type Sums = sums.Sums

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
	return l.initBatch([]*runtime.Config{c})
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

// initBatch registers the configs this Loader has not registered yet, all
// or none.
func (l *Loader) initBatch(cfgs []*runtime.Config) error {
	var errs []error
	for _, c := range cfgs {
		if c == nil {
			continue
		}
		if name, ok := c.NewFunc.(string); ok {
			errs = append(errs, &runtime.Error{Plugin: c.Name, Kind: c.Type, Err: runtime.ErrInvalid,
				Detail: fmt.Sprintf("NewFunc is the string %s; Init needs the constructor itself, a func value", runtime.Quote(name)),
				Hint:   "Load returns a Config whose NewFunc is the constructor; a constructor's name is what Build takes"})
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var fresh []*runtime.Config
	for _, c := range cfgs {
		if !l.inited[c] {
			fresh = append(fresh, c)
		}
	}
	if err := l.registry().InitAll(fresh, l.initOpts...); err != nil {
		return err
	}
	l.markInited(fresh...)
	l.recordFirst(fresh)
	return nil
}

// fileErrors wraps each *runtime.Error joined in err in a *LoadError naming
// the files that provided the plugin; files maps "type/name" to them.
func fileErrors(err error, files map[string][]string) error {
	list := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		list = joined.Unwrap()
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		var re *runtime.Error
		if errors.As(e, &re) {
			if f := files[re.Kind+"/"+re.Plugin]; len(f) > 0 {
				e = &LoadError{Op: "init", Path: strings.Join(f, ", "), Err: e}
			}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// LoadEnv loads and registers, as [Loader.LoadAll] does, the files listed
// in the environment variable MICRO_PLUGIN (comma-separated, entries trimmed of spaces, empty ones skipped). It returns
// nil, nil when the variable is unset or empty.
func (l *Loader) LoadEnv() ([]*runtime.Config, error) {
	paths := envPaths()
	if len(paths) == 0 {
		return nil, nil
	}
	cfgs, err := l.LoadAll(paths)
	if err != nil {
		return cfgs, fmt.Errorf("%s: %w", EnvPlugins, err)
	}
	return cfgs, nil
}

// envPaths returns the plugin files listed in MICRO_PLUGIN: the
// comma-separated entries, trimmed of spaces, empty entries skipped.
func envPaths() []string {
	var paths []string
	for _, p := range strings.Split(os.Getenv(EnvPlugins), ",") {
		if p = strings.TrimSpace(p); p != "" {
			paths = append(paths, p)
		}
	}
	return paths
}
