package loader

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/loader/internal/hostcmp"
	"github.com/plugink/plugink/loader/internal/lineage"
	"github.com/plugink/plugink/loader/internal/opened"
	"github.com/plugink/plugink/loader/internal/pluginfile"
	"github.com/plugink/plugink/loader/internal/snapshot"
	"github.com/plugink/plugink/runtime"
)

// defaultMaxGenerations is how many files of one plugin a Loader opens,
// the first included, unless [WithMaxGenerations] says otherwise.
const defaultMaxGenerations = 8

// ErrGenerations reports an upgrade past the Loader's limit of generations
// of one plugin ([WithMaxGenerations]).
var ErrGenerations = errors.New("too many generations of the plugin loaded")

// ErrNoGeneration reports an upgrade to a file with the pluginpath of a
// generation of the plugin loaded before, and other contents (or contents
// that can no longer be compared): a build without a generation
// ([BuildOptions.Generation]), or with a generation another build has,
// which cannot load beside the one loaded.
var ErrNoGeneration = lineage.ErrNoGeneration

// WithMaxGenerations sets how many files of one plugin the Loader opens,
// the first included: a process can never unload a plugin, so each stays
// in memory until the process ends (a file refused after it was opened
// included), and an upgrade past n is refused ([ErrGenerations]). n below
// 1 counts as 1: no upgrades. The default is 8.
func WithMaxGenerations(n int) Option {
	return func(l *Loader) { l.maxGens = max(n, 1) }
}

// Upgraded is the outcome of [Loader.Upgrade].
type Upgraded struct {
	// Plugin is the plugin, as "kind/name".
	Plugin string
	// File is the file the upgrade was asked for.
	File string
	// SHA256 is the file's checksum, as the upgrade read it.
	SHA256 string
	// Generation is the plugin's generation now registered: 1 for the
	// first this Loader loaded, then in the order they were loaded.
	Generation int
	// Generations is how many generations of the plugin this process holds.
	Generations int
	// Changed is false when the file holds the generation registered
	// already: the upgrade changed nothing.
	Changed bool
	// Config is the registered generation's Config.
	Config *runtime.Config
	// Elapsed is how long the upgrade took: the copy, the checks, the
	// open and the swap.
	Elapsed time.Duration
}

// String describes u for a log line.
func (u *Upgraded) String() string {
	if !u.Changed {
		return fmt.Sprintf("%s: %s holds generation %d, registered already", u.Plugin, u.File, u.Generation)
	}
	return fmt.Sprintf("%s: generation %d of %d registered, from %s (sha256 %.12s), in %s", u.Plugin, u.Generation, u.Generations, u.File, u.SHA256, u.Elapsed.Round(time.Microsecond))
}

// Upgrade loads the plugin file at path as a new generation of the plugin
// it holds, and registers it in place of the generation registered now:
// the next Get or Select of the plugin's kind returns the new constructor
// (a [runtime.Kind.Notify] channel hears of it), while implementations
// already built from the old one keep running on its code. A failed
// upgrade returns an error and leaves the registration as it was; a file
// refused after it was opened (its constructor's type, a panic in an init
// function) stays mapped, as every opened file does, and counts toward
// the limit.
//
// The file gets every check of [Loader.Load], on a private copy of it that
// is what is then opened (so the checksum covers the bytes opened): if the
// Loader pins keys ([WithTrustedKeys]), its signature, read before the
// copy is made (once the original's headers show a plugin file) and
// verified over the copy's bytes before any check reads them; its
// checksum, against the Loader's sums or the plugink.sum beside path, read
// afresh; its structure unless signed or checksummed; the complete
// preflight, including against the generations already loaded; the trial
// open unless signed or checksummed; and its constructor's type, against its kind. The file must come from
// [Loader.Build] (or plugink build) with a [BuildOptions.Generation]:
// a plugin's generations need distinct pluginpaths, and the metadata that
// Build embeds names the plugin before the file is opened.
//
// Upgrading to the generation registered now changes nothing (Changed is
// false); to a generation loaded before, it registers that one again,
// without opening anything; to a file with the pluginpath of a generation
// loaded and other bytes, it fails ([ErrNoGeneration]). A plugin this
// Loader did not register before is registered as [Loader.Init] would. At
// most [WithMaxGenerations] files of a plugin are opened. Upgrades by one Loader run one at a
// time.
func (l *Loader) Upgrade(path string) (*Upgraded, error) {
	return l.upgradeListed(path, nil)
}

// upgradeListed is Upgrade, refusing (before opening it) a file that does
// not hold want, the plugin a manifest lists for it, if want is set.
func (l *Loader) upgradeListed(path string, want *runtime.Config) (*Upgraded, error) {
	l.upgradeMu.Lock()
	defer l.upgradeMu.Unlock()
	start := time.Now()
	u, err := l.upgrade(path, want)
	if u != nil {
		u.Elapsed = time.Since(start)
	}
	if err != nil {
		return nil, namingFile("upgrade", path, err)
	}
	return u, nil
}

func (l *Loader) upgrade(path string, listedAs *runtime.Config) (*Upgraded, error) {
	up, cleanup, err := l.upgradeCandidate(path, listedAs)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	key := up.want.String()
	u := &Upgraded{Plugin: key, File: path, SHA256: up.c.sum}
	l.mu.Lock()
	lin, files := l.gens.Get(key) // Upgrade alone changes a lineage, under upgradeMu
	l.mu.Unlock()
	if i, err := lin.Find(up.want, up.pluginpath, up.c.sum, opened.Sum); i >= 0 || err != nil {
		if err != nil {
			return nil, err
		}
		return l.switchTo(u, lin, i)
	}
	if files >= l.maxGenerations() {
		return nil, runtime.WithHint(fmt.Errorf("%w: %d files of %s opened, the limit (the process cannot unload any)", ErrGenerations, files, key),
			"restart the process to drop the old generations, or raise the limit (loader.WithMaxGenerations)")
	}
	cfg, err := l.openGeneration(up)
	if err != nil {
		return nil, err
	}
	return l.registerGeneration(u, lin, cfg, up.c.pluginpath)
}

// upgradeFile is a file an upgrade is asked for: its private copy, as a
// candidate not yet checked, and the plugin its metadata names.
type upgradeFile struct {
	c          *candidate
	want       *runtime.Config // from the file's metadata
	pluginpath string          // as the metadata's symbols say
}

// upgradeCandidate copies the file at path (package snapshot), verifies the
// copy's checksum if one is recorded, and reads the plugin it holds from
// its metadata, refusing a file that does not hold listedAs, if set. The
// function it returns removes the copy.
func (l *Loader) upgradeCandidate(path string, listedAs *runtime.Config) (*upgradeFile, func(), error) {
	if err := hostcmp.Supported(); err != nil {
		return nil, nil, err
	}
	real, _, err := opened.Resolve(path)
	if err != nil {
		return nil, nil, err
	}
	sig, err := l.pinned.ReadFor(path, real) // nil unless WithTrustedKeys
	if err != nil {
		return nil, nil, err
	}
	copyPath, sum, cleanup, err := snapshot.Take(real)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*upgradeFile, func(), error) {
		cleanup()
		return nil, nil, err
	}
	if err := l.pinned.Check(sig, sum); err != nil {
		return fail(err)
	}
	verified, err := l.verifySum(path, real, sum, sig != nil, sums.InDir) // read afresh: a build since the last read updates it
	if err != nil {
		return fail(err)
	}
	info, err := inspect(copyPath, false)
	if err != nil {
		return fail(err)
	}
	if info.Config == nil {
		err := runtime.WithHint(errors.New("a Go plugin that plugink did not build: it records no plugink metadata, which names the plugin before the file is opened"),
			"build upgradable plugins with plugink build (or loader.Build with BuildOptions.Generation)")
		return fail(errors.Join(err, handBuiltFits(path, copyPath)))
	}
	if err := listed(path, info.Config, listedAs); err != nil {
		return fail(err)
	}
	fi, err := os.Stat(copyPath)
	if err != nil {
		return fail(err)
	}
	c := &candidate{path: path, real: copyPath, fi: fi, verified: verified, sum: sum}
	return &upgradeFile{c: c, want: info.Config, pluginpath: info.PluginPath}, cleanup, nil
}

// handBuiltFits compares the plugin file at copyPath (a copy of path) with
// this program, as preflight does, so that an upgrade refused for want of
// metadata also says whether the file would load at all; nil if it would.
func handBuiltFits(path, copyPath string) error {
	host, err := hostcmp.This()
	if err != nil {
		return nil
	}
	return readPlugin(copyPath, func(pf *pluginfile.File, _ fs.FileInfo) error {
		_, err := hostcmp.Fits(path, pf, host)
		return err
	})
}

// openGeneration checks and opens up's copy as a new generation, and
// checks that it holds the plugin its metadata names. A file the dynamic
// linker mapped counts toward the limit, whatever comes after.
func (l *Loader) openGeneration(up *upgradeFile) (*runtime.Config, error) {
	c := up.c
	c.opensSeen = opened.Done()
	var err error
	if c.pluginpath, c.fps, _, err = l.check(c.path, c.real, c.verified); err != nil {
		return nil, err
	}
	cfg, err := l.open(c)
	if c.mapped || err == nil {
		// Counted whatever comes after: a file refused once the dynamic
		// linker mapped it (a panic in an init function, then its
		// constructor's type) stays mapped too. (A file this process
		// mapped for another Loader counts for this one as well.)
		l.mu.Lock()
		l.gens.Count(up.want.String())
		l.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	if cfg.Type != up.want.Type || cfg.Name != up.want.Name {
		return nil, fmt.Errorf("%w: the file's metadata names %s, its Plugin variable %s", ErrNotPlugin, up.want, cfg.String())
	}
	return cfg, nil
}

// registerGeneration registers cfg, opened from a file with the given
// pluginpath, as the newest generation of lin (nil: the plugin's first for
// this Loader), in place of the one registered.
func (l *Loader) registerGeneration(u *Upgraded, lin *lineage.Lineage, cfg *runtime.Config, pluginpath string) (*Upgraded, error) {
	opts := l.initOpts
	if lin != nil {
		opts = append(append([]runtime.InitOption(nil), opts...), runtime.ReplaceOnly(u.Plugin))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.registry().InitAll([]*runtime.Config{cfg}, opts...); err != nil {
		return nil, err
	}
	l.markInited(cfg)
	lin = l.gens.Add(u.Plugin, lineage.Generation{Config: cfg, PluginPath: pluginpath})
	u.Changed, u.Generation, u.Generations, u.Config = true, lin.Current+1, len(lin.Gens), cfg
	return u, nil
}

// switchTo registers generation i of lin, loaded before, again; nothing if
// it is the current one.
func (l *Loader) switchTo(u *Upgraded, lin *lineage.Lineage, i int) (*Upgraded, error) {
	g := lin.Gens[i]
	u.Generation, u.Generations, u.Config = i+1, len(lin.Gens), g.Config
	if i == lin.Current {
		return u, nil
	}
	opts := append(append([]runtime.InitOption(nil), l.initOpts...), runtime.ReplaceOnly(u.Plugin))
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.registry().InitAll([]*runtime.Config{g.Config}, opts...); err != nil {
		return nil, err
	}
	lin.Current, u.Changed = i, true
	return u, nil
}

// maxGenerations returns the Loader's limit.
func (l *Loader) maxGenerations() int {
	if l.maxGens == 0 {
		return defaultMaxGenerations
	}
	return l.maxGens
}

// recordFirst records the configs of cfgs as the first generation of
// their plugins, where this Loader has no generation of them; l.mu must
// be held.
func (l *Loader) recordFirst(cfgs []*runtime.Config) {
	for _, c := range cfgs {
		l.gens.First(c, opened.PluginPath(c))
	}
}
