package loader

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/loader/internal/hostcmp"
	"github.com/plugink/plugink/loader/internal/opened"
	"github.com/plugink/plugink/loader/internal/pluginfile"
	"github.com/plugink/plugink/loader/internal/records"
	"github.com/plugink/plugink/loader/internal/trial"
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
//   - if the Loader pins keys ([WithTrustedKeys]), that one of them signed
//     it (its <file>.sig), before anything else reads it;
//   - its SHA-256, against the Loader's checksums ([WithSums]) or else the
//     plugink.sum in the file's directory, if either lists it;
//   - that it is a Go plugin for this OS and architecture;
//   - unless a checksum or a signature verified it, that its ELF
//     structure is what the dynamic linker needs (a damaged file is
//     refused, not mapped);
//   - unless [WithoutPreflight], that it fits this program ([Preflight]):
//     build settings, module versions and the fingerprint of every package
//     both link, so that plugin.Open will not refuse it; and, right before
//     opening it, that no plugin the loader opened since links another
//     version of a package it links;
//   - that no other file with the same pluginpath is loaded;
//   - unless a checksum or a signature verified it, or [WithoutTrial],
//     that it opens in a child process of this program (see
//     [WithoutTrial]).
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

// candidate is one file on its way into the process. Its life, all in
// this file:
//
//   - prepared (prepare): resolved, its checksum verified if one is
//     recorded; then either found in the table of files opened before
//     (entry), or vouched for by a load record (recorded), or checked
//     (check: format, platform, structure, preflight);
//   - opened (open): compared again with the packages of plugins opened
//     since it was checked (recheck), tried in a child process unless
//     verified or recorded, then handed to plugin.Open (package opened);
//   - recorded: after a successful open, a load record is written for it,
//     if its identity was settled and is that of the file opened.
type candidate struct {
	path, real string      // as the caller named it; resolved
	fi         os.FileInfo // the file, when resolved
	resolved   time.Time   // when fi was read

	// Set by prepare.
	verified   bool              // its checksum matched a recorded one
	entry      *opened.Entry     // set if this process handed it to plugin.Open before
	pluginpath string            // its pluginpath, if known
	fps        map[string]string // its packages' fingerprints, if preflight ran (see fingerprints)
	opensSeen  uint64            // opened.Done() when the fingerprints were compared
	rec        *records.Record   // the load record that vouches for it, if any
	recorded   bool              // a load record vouches for the file: no checks, no trial
	recordable bool              // a successful open is recorded
	sum        string            // its checksum, if known (an upgrade's copy)

	// Set by open.
	mapped bool // the dynamic linker mapped the file, whatever came after
}

// prepare makes every check Load makes before opening path, except the
// trial; it is safe to run for several files at once.
func (l *Loader) prepare(path string) (*candidate, error) {
	return l.prepareFile(path, !l.noRecords)
}

// prepareFile is prepare; withRecord says whether a load record may vouch
// for the file.
func (l *Loader) prepareFile(path string, withRecord bool) (*candidate, error) {
	fail := func(err error) (*candidate, error) { return nil, namingFile("load", path, err) }
	if err := hostcmp.Supported(); err != nil {
		return fail(err)
	}
	resolved := time.Now()
	real, fi, err := opened.Resolve(path)
	if err != nil {
		return fail(err)
	}
	signedSum, err := l.verifySignature(path, real) // "" unless WithTrustedKeys
	if err != nil {
		return fail(err)
	}
	c := &candidate{path: path, real: real, fi: fi, resolved: resolved, recordable: withRecord}
	if c.verified, err = l.verify(path, real, signedSum); err != nil {
		return fail(err)
	}
	if c.entry = opened.Lookup(real); c.entry != nil {
		return c, nil
	}
	c.opensSeen = opened.Done()
	if ok, err := l.useRecord(c); ok || err != nil {
		if err != nil {
			return fail(err)
		}
		return c, nil
	}
	var checked fs.FileInfo
	if c.pluginpath, c.fps, checked, err = l.check(path, real, c.verified); err != nil {
		return fail(err)
	}
	// Recorded only if the file checked is the one fi describes.
	c.recordable = c.recordable && records.SameIdentity(checked, fi)
	return c, nil
}

// namingFile returns err as a *LoadError of op on the file path, unless it
// names the file already.
func namingFile(op, path string, err error) error {
	var le *LoadError
	var me *MismatchError
	var ce *ChecksumError
	if errors.As(err, &le) || errors.As(err, &me) || errors.As(err, &ce) {
		return err
	}
	return &LoadError{Op: op, Path: path, Err: err}
}

// check reads the file at real (named path) and makes the checks on its
// contents: format, platform, structure unless verified, preflight. It
// returns the file's pluginpath and, if preflight ran, the fingerprints of
// the packages it links.
func (l *Loader) check(path, real string, verified bool) (pluginpath string, fps map[string]string, checked fs.FileInfo, err error) {
	err = readPlugin(real, func(pf *pluginfile.File, fi fs.FileInfo) error {
		checked = fi
		if err := pf.CheckPlatform(); err != nil {
			return err
		}
		if testHookChecking != nil {
			testHookChecking(real)
		}
		if !verified {
			if err := pf.CheckLoadable(); err != nil {
				return err
			}
		}
		if !l.noPreflight {
			host, err := hostcmp.This()
			if err != nil {
				return err
			}
			if fps, err = hostcmp.Fits(path, pf, host); err != nil {
				return err
			}
		}
		pluginpath, err = pf.ReadPluginPath()
		return err
	})
	return pluginpath, fps, checked, err
}

// testHookChecking, if set (by a test), runs in Load's checks once the
// headers are read, before the structure check.
var testHookChecking func(path string)

// useRecord takes what the load record of the file c, if there is one,
// says instead of checking it, and reports whether it could: the
// fingerprints the record holds are compared with this program's when the
// loader has opened plugins since it started (which may link packages the
// host does not); without them, the file is checked.
func (l *Loader) useRecord(c *candidate) (bool, error) {
	if !c.recordable {
		return false, nil
	}
	r := records.Read(c.fi)
	if r == nil {
		return false, nil
	}
	if !l.noPreflight && c.opensSeen > 0 {
		fps, err := r.Fingerprints()
		if err != nil || fps == nil {
			return false, nil
		}
		host, err := hostcmp.This()
		if err != nil {
			return false, err
		}
		// The record says they matched this program's own.
		if err := hostcmp.ByLoadedPlugins(c.path, hostcmp.CompareFingerprints(fps, host)); err != nil {
			return false, err
		}
		c.fps = fps
	}
	c.pluginpath, c.rec, c.recorded = r.PluginPath, r, true
	return true, nil
}

// open opens a prepared file: the fingerprints are compared again (see
// recheck), the trial runs if the file is neither verified nor recorded,
// then plugin.Open; a successful open of a file no record vouched for is
// recorded.
func (l *Loader) open(c *candidate) (*runtime.Config, error) {
	if c.entry != nil {
		return c.again()
	}
	if c.recorded {
		// Opened (without waiting) rather than stat'd: a file another
		// process holds a lease on is refused at once, not waited for
		// inside plugin.Open.
		f, now, err := fsx.Open(c.real)
		if err == nil {
			f.Close()
		}
		if err != nil || !records.SameIdentity(now, c.fi) {
			// Changed since its record was found: check it after all.
			var err error
			if c, err = l.prepareFile(c.path, false); err != nil {
				return nil, err
			}
			if c.entry != nil {
				return c.again()
			}
		}
	}
	if !l.noPreflight {
		if err := recheck(c); err != nil {
			return nil, err
		}
	}
	if c.recorded {
		// The record is set aside while the file is opened: if the open
		// kills the process, the next start finds none, and checks the
		// file, trial included.
		restore := c.rec.Take()
		cfg, _, err := c.openFile(nil)
		if err == nil {
			restore()
		}
		return cfg, err
	}
	var before func(string) error
	if !c.verified && !l.noTrial {
		before = tryFirst
	}
	cfg, mappedFile, err := c.openFile(before)
	if err == nil && c.recordable && mappedFile != nil {
		if id, ok := records.Identity(mappedFile); ok {
			records.Write(c.real, c.fi, c.resolved, id, &records.Record{PluginPath: c.pluginpath, FPs: c.fps})
		}
	}
	return cfg, err
}

// again is what loading c returns when this process handed its path to
// plugin.Open before.
func (c *candidate) again() (*runtime.Config, error) {
	cfg, err := c.entry.Result(c.fi)
	if err != nil {
		return nil, &LoadError{Op: "load", Path: c.path, Err: err}
	}
	return cfg, nil
}

// openFile hands c to plugin.Open (package opened), running before first,
// and returns what the dynamic linker mapped, if known.
func (c *candidate) openFile(before func(string) error) (*runtime.Config, os.FileInfo, error) {
	cfg, out, err := opened.Open(opened.Request{Path: c.path, Real: c.real, File: c.fi, PluginPath: c.pluginpath, Sum: c.sum, Before: before})
	c.mapped = out.Mapped
	if err != nil {
		return nil, nil, &LoadError{Op: "load", Path: c.path, Err: err}
	}
	return cfg, out.Opened, nil
}

// tryFirst opens the file real in a trial process (package trial).
func tryFirst(real string) error {
	if err := trial.Run(real); err != nil {
		return runtime.WithHint(err, "the file may be damaged, or not a plugin for this program: rebuild it (plugink build), or verify it with a plugink.sum")
	}
	return nil
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
	fps, err := c.rec.Fingerprints()
	if err != nil || fps == nil {
		return fileFingerprints(c.real)
	}
	c.fps = fps
	return fps, nil
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
	hint    string            // for a needed plugin no file provides
	extra   []*runtime.Config // registered with the files' plugins (process plugins)
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
	if err := l.initBatch(append(cfgs, b.extra...)); err != nil {
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
