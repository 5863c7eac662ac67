package loader

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"sync"

	"github.com/plugink/plugink/runtime"
)

// The flag and environment variable that choose a manifest's plugin
// directory at run time.
const (
	dirFlag = runtime.PluginDirFlag
	dirEnv  = runtime.PluginDirEnv
)

// ErrNotListed reports a plugin file in the plugin directory that holds
// another plugin than the one the manifest lists under its name.
var ErrNotListed = errors.New("not the plugin the manifest lists")

// Manifest is what a host's generated dynamic file tells the loader about
// the host's manifest (plugink.yaml): the code plugink generates declares
// one and calls [Manifest.RegisterFlag] and [Manifest.Load], so that every
// host shares this one loading path.
type Manifest struct {
	// File is the manifest's name, for messages (e.g. "plugink.yaml").
	File string
	// Dir is the default plugin directory (the manifest's dynamic.dir),
	// relative to the working directory at run time.
	Dir string
	// Plugins are the manifest's enabled plugins. NewFunc holds the
	// constructor's name, as for Build.
	Plugins []runtime.Config
	// Processes are the manifest's plugins that run as child processes
	// (mode: process), their NewFunc a generated constructor: registered
	// with the loaded plugins, all or none.
	Processes []*runtime.Config
	// Replace lists, as "kind/name", the plugins the manifest marks
	// "replace: true": only they may replace a registered implementation.
	Replace []string
	// RequireSums (the manifest's dynamic.require_sums) refuses every file
	// that no plugink.sum verifies ([WithSumsRequired]).
	RequireSums bool
	// TrustedKeys (the manifest's dynamic.trusted_keys): if any, every file
	// loaded or upgraded must be signed by one of them ([WithTrustedKeys]).
	TrustedKeys []string
	// UpgradeSignal (the manifest's dynamic.upgrade_signal), if set, is
	// the name of a signal ("SIGHUP"; see runtime.CheckUpgradeSignal) on
	// which the host upgrades its plugins: once Load has succeeded, each
	// such signal runs [Manifest.Upgrade] and reports to OnUpgrade.
	UpgradeSignal string
	// OnUpgrade, if set, is called with each outcome of an upgrade that
	// UpgradeSignal started and that changed something or failed; if nil,
	// the outcome is logged with package log.
	OnUpgrade func(*Upgraded, error)

	mu       sync.Mutex
	flags    *flag.FlagSet
	loader   *Loader // the Loader of Load, which upgrades use
	loaded   []upgradeTarget
	watching bool
}

// upgradeTarget is a file Load loaded, and the plugin the manifest lists
// for it (nil for a file of MICRO_PLUGIN).
type upgradeTarget struct {
	file string
	want *runtime.Config
}

// RegisterFlag defines the flag -plugin_dir on fs, or on
// flag.CommandLine if fs is nil, unless fs already has it. Call it before
// the flags are parsed (the generated file calls it from an init
// function).
func (m *Manifest) RegisterFlag(fs *flag.FlagSet) {
	if fs == nil {
		fs = flag.CommandLine
	}
	m.mu.Lock()
	m.flags = fs
	m.mu.Unlock()
	if fs.Lookup(dirFlag) == nil {
		fs.String(dirFlag, "", fmt.Sprintf("directory of plugin .so files (default %q, or $%s)", m.Dir, dirEnv))
	}
}

// PluginDir returns the plugin directory: the -plugin_dir flag if it is
// set, else $PLUGINK_DIR, else m.Dir.
func (m *Manifest) PluginDir() string {
	m.mu.Lock()
	fs := m.flags
	m.mu.Unlock()
	return runtime.PluginDir(fs, m.Dir)
}

// Load loads the manifest's plugins from the plugin directory
// ([Manifest.PluginDir]), each from its file <type>_<name>.so, then the
// files MICRO_PLUGIN names, and registers them all, or none. Every file is
// verified against the plugink.sum of its own directory when that lists
// it (see [Loader.Load]), and signed by one of m.TrustedKeys if any
// ([WithTrustedKeys]); opts come after Load's own options. A manifest
// plugin whose file is missing is an error, unless a file MICRO_PLUGIN
// names provides it; a file that holds another plugin than the one its
// name says is an error ([ErrNotListed]). Only the plugins in m.Replace
// may replace a registered implementation. With m.UpgradeSignal, whose
// name is checked first, the signal upgrades the plugins from then on
// (until then it has its default effect: SIGHUP ends the process). Call
// Load once.
func (m *Manifest) Load(opts ...Option) error {
	var sig os.Signal
	if m.UpgradeSignal != "" {
		var err error
		if sig, err = m.upgradeSignal(); err != nil {
			return err
		}
	}
	dir := m.PluginDir()
	base := []Option{WithInitOptions(runtime.FromManifest(m.File), runtime.ReplaceOnly(m.Replace...)), WithTrustedKeys(m.TrustedKeys...)}
	if m.RequireSums {
		base = append(base, WithSumsRequired(), func(l *Loader) { l.requiredBy = m.File })
	}
	l := NewPlugin(append(base, opts...)...)
	if err := l.pinned.Err(); err != nil {
		return fmt.Errorf("%s: dynamic.trusted_keys: %w", m.File, err)
	}
	b := batch{extra: m.Processes, want: map[string]*runtime.Config{}, need: map[string]string{}, fromEnv: map[string]bool{}, hint: m.missingHint(dir)}
	env := envPaths()
	var errs []error
	for i := range m.Plugins {
		c := &m.Plugins[i]
		file := filepath.Join(dir, c.FileName())
		if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
			if len(env) == 0 {
				errs = append(errs, &LoadError{Op: "load", Path: file, Err: fmt.Errorf("plugin %s of %s: %w", c, m.File, fs.ErrNotExist), Hint: b.hint})
			}
			b.need[c.String()] = file // $MICRO_PLUGIN must provide it
			continue
		}
		b.paths = append(b.paths, file)
		b.want[file] = c
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, p := range env {
		b.fromEnv[p] = true
	}
	b.paths = append(b.paths, env...)
	if _, err := l.loadAll(b); err != nil {
		return err
	}
	m.mu.Lock()
	m.loader, m.loaded = l, nil
	for _, p := range b.paths {
		m.loaded = append(m.loaded, upgradeTarget{file: p, want: b.want[p]})
	}
	m.mu.Unlock()
	if sig != nil {
		m.watch(sig)
	}
	return nil
}

// errNotLoaded reports an upgrade asked of a Manifest that has not loaded.
var errNotLoaded = errors.New("the manifest's plugins are not loaded: call Load first")

// Upgrade upgrades each plugin that Load loaded whose file changed since:
// the manifest's plugins in the plugin directory, and the files
// MICRO_PLUGIN names. Each file goes through [Loader.Upgrade], on its own:
// one that fails leaves its plugin as it was and does not stop the others.
// A file that now holds another plugin than the manifest lists under its
// name is refused before it is opened ([ErrNotListed]). It returns the
// outcome of every file that upgraded (or was unchanged), and the failures
// joined.
func (m *Manifest) Upgrade() ([]*Upgraded, error) {
	m.mu.Lock()
	l, targets := m.loader, m.loaded
	m.mu.Unlock()
	if l == nil {
		return nil, errNotLoaded
	}
	var out []*Upgraded
	var errs []error
	for _, t := range targets {
		u, err := l.upgradeListed(t.file, t.want)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, u)
	}
	return out, errors.Join(errs...)
}

// report hands the outcome of an upgrade to OnUpgrade, or logs it.
func (m *Manifest) report(u *Upgraded, err error) {
	if m.OnUpgrade != nil {
		m.OnUpgrade(u, err)
		return
	}
	if err != nil {
		log.Printf("%s: upgrade: %s", m.File, runtime.Explain(err))
		return
	}
	log.Printf("%s: upgrade %s", m.File, u)
}

// upgradeAll runs Upgrade and reports what changed or failed; with no
// OnUpgrade, an upgrade that changed nothing is logged too, so that the
// signal is seen to arrive.
func (m *Manifest) upgradeAll() {
	ups, err := m.Upgrade()
	changed := false
	for _, u := range ups {
		if u.Changed {
			changed = true
			m.report(u, nil)
		}
	}
	switch {
	case err != nil:
		m.report(nil, err)
	case !changed && m.OnUpgrade == nil:
		log.Printf("%s: upgrade: no plugin file changed since it was loaded", m.File)
	}
}

// missingHint says where a host looks for the plugin directory dir, and
// how to give it the files.
func (m *Manifest) missingHint(dir string) string {
	where := dir
	if !filepath.IsAbs(dir) {
		wd, _ := os.Getwd()
		where = fmt.Sprintf("%s, relative to the working directory %s", dir, wd)
	}
	return fmt.Sprintf("the plugin directory is %s: build the plugins with plugink build (it writes them beside %s, in dynamic.dir), point -%s or $%s at the directory that holds them, or name the files in $%s",
		where, m.File, dirFlag, dirEnv, EnvPlugins)
}

// upgradeSignal returns the signal m.UpgradeSignal names.
func (m *Manifest) upgradeSignal() (os.Signal, error) {
	if err := runtime.CheckUpgradeSignal(m.UpgradeSignal); err != nil {
		return nil, fmt.Errorf("%s: dynamic.upgrade_signal %s %w", m.File, runtime.Quote(m.UpgradeSignal), err)
	}
	sig, err := runtime.SignalNamed(m.UpgradeSignal)
	if err != nil {
		return nil, fmt.Errorf("%s: dynamic.upgrade_signal: %w", m.File, err)
	}
	return sig, nil
}

// watch starts upgrading on sig, once.
func (m *Manifest) watch(sig os.Signal) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.watching {
		return
	}
	m.watching = true
	c := make(chan os.Signal, 1) // signals during an upgrade make one more
	signal.Notify(c, sig)
	go func() {
		for range c {
			m.upgradeAll()
		}
	}()
}

// listed reports whether the Config loaded from file is the plugin the
// manifest lists for that file, if it lists one.
func listed(file string, got, want *runtime.Config) error {
	if want == nil || got.Name == want.Name && got.Type == want.Type && got.Path == want.Path {
		return nil
	}
	return &LoadError{Op: "load", Path: file, Err: fmt.Errorf("%w: the file holds plugin %s (package %s), the manifest lists %s (package %s) under this name",
		ErrNotListed, got, got.Path, want, want.Path)}
}
