package loader

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/plugink/plugink/runtime"
)

// Load opens the plugin file at path and returns its Config, whose NewFunc
// is the plugin's constructor (a func value). It does not register the
// plugin; see [Loader.Init] and [Loader.LoadAll].
//
// Opening a plugin runs its code, and a process can never unload it, nor
// open again a path that failed; a damaged file can crash the dynamic
// linker. So before opening the file, Load checks, in this order:
//
//   - that it is a regular file;
//   - its SHA-256, against the Loader's checksums ([WithSums]) or else the
//     plugink.sum in the file's directory, if either lists it;
//   - that it is a Go plugin for this OS and architecture;
//   - unless the checksum verified it, that its ELF structure is what the
//     dynamic linker needs (a damaged file is refused, not mapped);
//   - unless [WithoutPreflight], that it fits this program ([Preflight]):
//     build settings, module versions and the fingerprint of every package
//     both link, so that plugin.Open will not refuse it; and, right before
//     opening it, that no plugin the loader opened since links another
//     version of a package it links;
//   - that no other file with the same pluginpath is loaded;
//   - unless the checksum verified it or [WithoutTrial], that it opens in a
//     child process of this program (see [WithoutTrial]).
//
// A file that this program loaded before, in an earlier run, and that has
// not changed since skips the format, structure and trial checks, and the
// comparison with this program's fingerprints (see [WithoutRecords]).
//
// A file that fails these checks is never opened, so a corrected file can
// be loaded later from the same path. Loading a file this process has
// already loaded returns the same Config. The file's Plugin variable may
// be a runtime.Config or a *runtime.Config; its NewFunc must be a non-nil
// func value (a constructor's name, the form Build takes, is refused).
//
// Opening a plugin runs its packages' init functions. A panic in one is
// recovered and returned as an error wrapping [ErrOpen]; package plugin
// then considers the path half-opened forever, so Load refuses it from
// then on.
func (l *Loader) Load(path string) (*runtime.Config, error) {
	c, err := l.prepare(path)
	if err != nil {
		return nil, err
	}
	return l.open(c)
}

// candidate is a file that passed the checks made before opening it.
type candidate struct {
	path, real  string
	fi          os.FileInfo
	pluginpath  string
	verified    bool              // its checksum matched a recorded one
	entry       *openEntry        // set if this process handed it to plugin.Open before
	fps         map[string]string // its packages' fingerprints, if preflight ran (see fingerprints)
	rec         *loadRecord       // the load record that vouches for it, if any
	opensSeen   uint64            // opensDone when the fingerprints were compared
	resolved    time.Time         // when fi was read
	openedID    fileID            // the identity of the file plugin.Open mapped, if openedKnown
	openedKnown bool
	recordable  bool   // a successful open is recorded (see record.go)
	recorded    bool   // a load record vouches for the file: no checks, no trial
	sum         string // its checksum, if known (an upgrade's copy)
	mapped      bool   // set by openOnce: the dynamic linker mapped the file, whatever came after
}

// prepare makes every check Load makes before opening path, except the
// trial; it is safe to run for several files at once.
func (l *Loader) prepare(path string) (*candidate, error) {
	return l.prepareFile(path, !l.noRecords)
}

// prepareFile is prepare; records says whether a load record may vouch for
// the file.
func (l *Loader) prepareFile(path string, records bool) (*candidate, error) {
	fail := func(err error) (*candidate, error) {
		var le *LoadError
		var me *MismatchError
		var ce *ChecksumError
		if errors.As(err, &le) || errors.As(err, &me) || errors.As(err, &ce) {
			return nil, err // it names the file already
		}
		return nil, &LoadError{Op: "load", Path: path, Err: err}
	}
	if err := supported(); err != nil {
		return fail(err)
	}
	resolved := time.Now()
	real, fi, err := resolve(path)
	if err != nil {
		return fail(err)
	}
	c := &candidate{path: path, real: real, fi: fi, resolved: resolved, recordable: records}
	if c.verified, err = l.verify(path, real); err != nil {
		return fail(err)
	}
	if c.entry = lookupOpened(real); c.entry != nil {
		return c, nil
	}
	c.opensSeen = opensDone.Load()
	if c.recordable {
		if r := readRecord(fi); r != nil {
			if ok, err := l.useRecord(c, r); ok || err != nil {
				if err != nil {
					return fail(err)
				}
				return c, nil
			}
		}
	}
	var checked fs.FileInfo
	if c.pluginpath, c.fps, checked, err = l.check(path, real, c.verified); err != nil {
		return fail(err)
	}
	// Recorded only if the file checked is the one fi describes.
	c.recordable = c.recordable && sameIdentity(checked, fi)
	return c, nil
}

// check reads the file at real (named path) and makes the checks on its
// contents: format, platform, structure unless verified, preflight. It
// returns the file's pluginpath and, if preflight ran, the fingerprints of
// the packages it links.
func (l *Loader) check(path, real string, verified bool) (pluginpath string, fps map[string]string, checked fs.FileInfo, err error) {
	err = readMapped(real, func(r io.ReaderAt, fi fs.FileInfo) error {
		checked = fi
		pf, err := readPluginFile(r, fi.Size())
		if err != nil {
			return err
		}
		if err := checkPlatform(pf); err != nil {
			return err
		}
		if testHookChecking != nil {
			testHookChecking(real)
		}
		if !verified && pf.elf != nil {
			if err := pf.elf.checkLoadable(); err != nil {
				return err
			}
		}
		if !l.noPreflight {
			host, err := thisHost()
			if err != nil {
				return err
			}
			if fps, err = fits(path, pf, host); err != nil {
				return err
			}
		}
		if pluginpath = pf.pluginpath; pluginpath == "" {
			pluginpath, err = readPluginPath(r, pf)
		}
		return err
	})
	return pluginpath, fps, checked, err
}

// open opens a prepared file: the fingerprints are compared again (see
// recheck), the trial runs if the file is not verified, then plugin.Open.
func (l *Loader) open(c *candidate) (*runtime.Config, error) {
	if c.entry != nil {
		return c.entry.result(c.path, c.fi)
	}
	if c.recorded {
		if now, err := os.Stat(c.real); err != nil || !sameIdentity(now, c.fi) {
			// Changed since its record was found: check it after all.
			var err error
			if c, err = l.prepareFile(c.path, false); err != nil {
				return nil, err
			}
			if c.entry != nil {
				return c.entry.result(c.path, c.fi)
			}
		}
	}
	if !l.noPreflight {
		if err := recheck(c); err != nil {
			return nil, err
		}
	}
	if !c.recorded {
		cfg, err := openOnce(c, !c.verified && !l.noTrial)
		if err == nil && c.recordable && c.openedKnown {
			writeRecord(c.fi, c.resolved, c.openedID, &loadRecord{pluginpath: c.pluginpath, fps: c.fps})
		}
		return cfg, err
	}
	// The record is set aside while the file is opened: if the open kills
	// the process, the next start finds none, and checks the file, trial
	// included.
	restore := takeRecord(c.rec)
	cfg, err := openOnce(c, false)
	if err == nil {
		restore()
	}
	return cfg, err
}

// useRecord takes what the load record r says of the file c instead of
// checking it, and reports whether it could: the fingerprints the record
// holds are compared with this program's when the loader has opened
// plugins since it started (which may link packages the host does not);
// without them, the file is checked.
func (l *Loader) useRecord(c *candidate, r *loadRecord) (bool, error) {
	if !l.noPreflight && c.opensSeen > 0 {
		fps, err := r.fingerprints()
		if err != nil || fps == nil {
			return false, nil
		}
		host, err := thisHost()
		if err != nil {
			return false, err
		}
		// The record says they matched this program's own.
		if err := byLoadedPlugins(c.path, compareFingerprints(fps, host)); err != nil {
			return false, err
		}
		c.fps = fps
	}
	c.pluginpath, c.rec, c.recorded = r.pluginpath, r, true
	return true, nil
}

// fingerprints returns the fingerprints of the packages the file links, as
// preflight compared them: nil if it did not run. For a file a load record
// vouched for, they are the record's, read when first asked for (a start
// that opens no other plugin in between never needs them), or the file's
// if the record's do not parse.
func (c *candidate) fingerprints() (map[string]string, error) {
	if c.fps != nil || c.rec == nil {
		return c.fps, nil
	}
	fps, err := c.rec.fingerprints()
	if err != nil || fps == nil {
		return fileFingerprints(c.real)
	}
	c.fps = fps
	return fps, nil
}

// supported reports whether this program can load plugins at all.
func supported() error {
	switch goruntime.GOOS {
	case "linux", "darwin", "freebsd":
	default:
		return fmt.Errorf("%w: Go supports plugins on linux, darwin and freebsd, not %s", ErrUnsupported, goruntime.GOOS)
	}
	if bi, err := hostBuildInfo(); err == nil && Setting(bi, "CGO_ENABLED") == "0" {
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

// readPluginPath reads the pluginpath the linker recorded, for plugins
// built from a list of files, whose build information does not name it.
func readPluginPath(f io.ReaderAt, pf *pluginFile) (string, error) {
	syms, err := readSymbols(f, pf, symbolQuery{prefix: thisPluginPath, max: 1, size: runtime.MaxImportPathLen,
		match: func(name []byte) bool { return string(name) == thisPluginPath }})
	if err != nil || len(syms) == 0 {
		return "", err
	}
	return string(syms[0].data), nil
}

// LoadAll loads every file in paths and registers the plugins, all or
// nothing: it loads every file, then registers their Configs with one
// runtime.InitAll, which checks each against its kind and against the
// names registered or given by another file. If a file fails to load or a
// Config to register, it registers none and returns one error that joins a
// *[LoadError] (or *MismatchError, *ChecksumError) for every failed file.
//
// The checks of the files (checksums, structure, preflight) run in
// parallel; the files are opened one at a time, in order, each as soon as
// its checks pass. Once a file fails, no later file is opened; files
// opened before stay loaded but unregistered: Go cannot unload them.
//
// Empty paths are skipped, and a file listed twice is loaded once.
func (l *Loader) LoadAll(paths []string) ([]*runtime.Config, error) {
	return l.loadAll(batch{paths: paths})
}

// batch is what loadAll loads: paths, the plugin the manifest lists for a
// file (want), plugins some file must provide (need: manifest plugins
// whose files are not in the plugin directory), and the files that
// MICRO_PLUGIN named (their errors say so).
type batch struct {
	paths   []string
	want    map[string]*runtime.Config
	need    map[string]string // "kind/name" -> the file expected in the plugin directory
	fromEnv map[string]bool
	hint    string // for a needed plugin no file provides
}

func (l *Loader) loadAll(b batch) ([]*runtime.Config, error) {
	var list []string
	for _, p := range b.paths {
		if strings.TrimSpace(p) != "" {
			list = append(list, p)
		}
	}
	var cfgs []*runtime.Config
	var errs []error
	files := map[string][]string{} // "type/name" -> the files that hold it
	seen := map[*runtime.Config]bool{}
	for i, ch := range l.prepareAll(list) {
		p, r := list[i], <-ch
		c, err := r.c, r.err
		if err == nil && len(errs) > 0 {
			continue // after a failure, open nothing more
		}
		var cfg *runtime.Config
		if err == nil {
			cfg, err = l.open(c)
		}
		if err == nil {
			err = listed(p, cfg, b.want[p])
		}
		if err != nil {
			if b.fromEnv[p] {
				err = fmt.Errorf("%s: %w", EnvPlugins, err)
			}
			errs = append(errs, err)
			continue
		}
		if !seen[cfg] {
			seen[cfg] = true
			files[cfg.String()] = append(files[cfg.String()], p)
			cfgs = append(cfgs, cfg)
		}
	}
	if len(errs) == 0 { // a file that failed may be the one that provides it
		errs = b.missing(files)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := l.initBatch(cfgs); err != nil {
		return nil, fileErrors(err, files)
	}
	return cfgs, nil
}

// missing returns an error for each plugin of b.need that no file loaded
// provides; files maps "kind/name" to the files that hold it.
func (b batch) missing(files map[string][]string) []error {
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(b.need)) {
		if len(files[key]) == 0 {
			errs = append(errs, &LoadError{Op: "load", Path: b.need[key], Err: fmt.Errorf("plugin %s: %w, and no file $%s names provides it", key, fs.ErrNotExist, EnvPlugins), Hint: b.hint})
		}
	}
	return errs
}

// prepared is the outcome of prepare for one file.
type prepared struct {
	c   *candidate
	err error
}

// prepareAll runs prepare for every path on GOMAXPROCS-1 goroutines (at
// least one), taking the paths in order: the opens, one at a time and in
// order on the caller's goroutine, are the path that decides how long
// LoadAll takes, so the checks leave them a processor, and the file to
// open next is the one checked first. It returns a channel per path, in
// order, that delivers its outcome.
func (l *Loader) prepareAll(paths []string) []chan prepared {
	out := make([]chan prepared, len(paths))
	next := make(chan int, len(paths))
	for i := range paths {
		out[i] = make(chan prepared, 1)
		next <- i
	}
	close(next)
	for range min(len(paths), max(1, goruntime.GOMAXPROCS(0)-1)) {
		go func() {
			for i := range next {
				c, err := l.prepare(paths[i])
				out[i] <- prepared{c, err}
			}
		}()
	}
	return out
}
