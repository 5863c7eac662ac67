package loader_test

import (
	"flag"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/internal/fsx"
	sumfile "github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/loader/internal/testkind"
	"github.com/plugink/plugink/runtime"
)

// upgradeDir copies the named generations of client/up into one file of a
// new directory, one after the other, as plugink build would write them:
// the returned function installs the next.
func upgradeFile(t *testing.T) (file string, install func(fixture string)) {
	dir := t.TempDir()
	file = filepath.Join(dir, "client_up.so")
	return file, func(fixture string) {
		t.Helper()
		src := fixturePath(t, fixture)
		tmp := file + ".new"
		copyFile(t, src, tmp)
		require.NoError(t, os.Rename(tmp, file))
	}
}

// upgradeTo returns a function that installs a fixture at file and
// upgrades l to it.
func upgradeTo(l *loader.Loader, file string, install func(string)) func(fixture string) error {
	return func(fixture string) error {
		install(fixture)
		_, err := l.Upgrade(file)
		return err
	}
}

// reply calls the implementation kind has under "up".
func reply(t *testing.T, kind *runtime.Kind[testkind.NewFunc]) string {
	t.Helper()
	newClient, err := kind.Get("up")
	require.NoError(t, err)
	out, err := newClient().Call("hi")
	require.NoError(t, err)
	return out
}

func TestUpgrade(t *testing.T) {
	file, install := upgradeFile(t)
	for _, f := range []string{"up1", "up2", "up3", "up2bad", "upwrongtype", "trimpath"} {
		fixturePath(t, f) // built with $TMPDIR as it is
	}
	// Upgrades copy each file beside it, not into $TMPDIR, which may be
	// mounted noexec (here: missing).
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	reg, kind := newRegistry(t)
	changed := make(chan string, 8)
	kind.Notify(changed)
	l := loader.NewPlugin(loader.WithRegistry(reg), loader.WithMaxGenerations(4))

	// The first generation loads from the fixture's own file, which no
	// test replaces: the process knows it by that path from then on.
	install("up1")
	_, err := l.LoadAll([]string{fixturePath(t, "up1")})
	require.NoError(t, err)
	assert.Equal(t, "v1: hi", reply(t, kind))
	old, _ := kind.Get("up")
	built := old() // an implementation built from generation 1
	assert.Equal(t, []string{"up"}, drain(changed))

	// The same file again: nothing changes.
	u, err := l.Upgrade(file)
	require.NoError(t, err)
	assert.False(t, u.Changed)
	assert.Equal(t, 1, u.Generation)
	assert.Empty(t, drain(changed))

	install("up2")
	u, err = l.Upgrade(file)
	require.NoError(t, err)
	assert.True(t, u.Changed)
	assert.Equal(t, "client/up", u.Plugin)
	assert.Equal(t, 2, u.Generation)
	assert.Equal(t, "v2: hi", reply(t, kind), "the next Get returns the new constructor")
	out, err := built.Call("hi")
	require.NoError(t, err)
	assert.Equal(t, "v1: hi", out, "what was built from generation 1 keeps running")
	assert.Equal(t, []string{"up"}, drain(changed))

	// Refused upgrades change nothing.
	for _, tc := range []struct {
		name    string
		prepare func()
		want    error
	}{
		{"wrong constructor type", func() { install("upwrongtype") }, runtime.ErrType},
		{"built differently from the host", func() { install("trimpath") }, loader.ErrMismatch},
		// up2bad has generation 2's pluginpath and other code.
		{"pluginpath of a generation loaded, other contents", func() { install("up2bad") }, loader.ErrNoGeneration},
		{"damaged file", func() {
			install("up3")
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			b[0x40] ^= 0xff // the first program header
			require.NoError(t, os.WriteFile(file, b, 0o644))
		}, loader.ErrNotPlugin},
		{"checksum", func() {
			install("up3")
			require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(file), sumfile.FileName), []byte(zeroSum+"  client_up.so\n"), 0o644))
		}, loader.ErrChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.prepare()
			u, err := l.Upgrade(file)
			require.Error(t, err, "%v", u)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			}
			assert.Contains(t, err.Error(), file)
			assert.Equal(t, "v2: hi", reply(t, kind), "generation 2 stays")
			assert.Empty(t, drain(changed))
		})
	}
	os.Remove(filepath.Join(filepath.Dir(file), sumfile.FileName))

	// Back to generation 1, loaded before: nothing is opened.
	install("up1")
	u, err = l.Upgrade(file)
	require.NoError(t, err)
	assert.True(t, u.Changed)
	assert.Equal(t, 1, u.Generation)
	assert.Equal(t, "v1: hi", reply(t, kind))

	install("up2bad")
	_, err = l.Upgrade(file)
	require.ErrorIs(t, err, loader.ErrNoGeneration, "generation 2's pluginpath, though generation 1 is registered")
	assert.Equal(t, "v1: hi", reply(t, kind))

	install("up3")
	u, err = l.Upgrade(file)
	require.NoError(t, err)
	assert.Equal(t, 3, u.Generation)
	assert.Equal(t, "v3: hi", reply(t, kind))

	entries, err := os.ReadDir(filepath.Dir(file))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no copy is left beside the file")
	assert.Equal(t, "client_up.so", entries[0].Name())
}

// TestUpgradeHugeFile: an upgrade does not copy a file larger than a
// plugin can be, however its headers look.
func TestUpgradeHugeFile(t *testing.T) {
	file, install := upgradeFile(t)
	install("up2")
	require.NoError(t, os.Truncate(file, 1<<30+1)) // sparse: no disk used
	reg, _ := newRegistry(t)
	_, err := loader.NewPlugin(loader.WithRegistry(reg)).Upgrade(file)
	require.ErrorIs(t, err, fsx.ErrTooLarge)
	assert.Contains(t, err.Error(), file)
	entries, err := os.ReadDir(filepath.Dir(file))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no copy is left beside the file")
}

// TestUpgradeWithoutGeneration: builds without a generation share one
// pluginpath, so a second one cannot load beside the first.
func TestUpgradeWithoutGeneration(t *testing.T) {
	file, install := upgradeFile(t)
	reg, kind := newRegistry(t)
	l := loader.NewPlugin(loader.WithRegistry(reg))
	install("upnogen")
	_, err := l.LoadAll([]string{file})
	require.NoError(t, err)
	install("upnogen") // a new file (the old one is unlinked), the same bytes
	u, err := l.Upgrade(file)
	require.NoError(t, err)
	assert.False(t, u.Changed, "the same build")
	install("upnogen2")
	_, err = l.Upgrade(file)
	require.ErrorIs(t, err, loader.ErrNoGeneration)
	assert.Contains(t, runtime.Hints(err)[0], "rebuild it with plugink build")
	assert.Equal(t, "v5: hi", reply(t, kind))
}

const zeroSum = "0000000000000000000000000000000000000000000000000000000000000000"

func TestUpgradeLimit(t *testing.T) {
	file, install := upgradeFile(t)
	reg, kind := newRegistry(t)
	l := loader.NewPlugin(loader.WithRegistry(reg), loader.WithMaxGenerations(3))
	// The first generation loads from the fixture's own file, which no
	// test replaces: the process knows it by that path from then on.
	install("up1")
	_, err := l.LoadAll([]string{fixturePath(t, "up1")})
	require.NoError(t, err)
	to := upgradeTo(l, file, install)
	require.NoError(t, to("up2"))
	require.ErrorIs(t, to("upwrongtype"), runtime.ErrType, "opened, then refused: the file stays mapped, and counts")
	err = to("up3")
	require.ErrorIs(t, err, loader.ErrGenerations)
	assert.Contains(t, err.Error(), "3 files of client/up opened, the limit")
	assert.Equal(t, "v2: hi", reply(t, kind))
	assert.Equal(t, []string{"restart the process to drop the old generations, or raise the limit (loader.WithMaxGenerations)"}, runtime.Hints(err))
	install("up1")
	u, err := l.Upgrade(file)
	require.NoError(t, err, "a generation loaded before is not a new one")
	assert.Equal(t, 1, u.Generation)
}

// TestUpgradeLimitCountsRefusedFirst: a file refused after it was opened
// counts even when the Loader has registered nothing of the plugin yet.
func TestUpgradeLimitCountsRefusedFirst(t *testing.T) {
	file, install := upgradeFile(t)
	reg, kind := newRegistry(t)
	l := loader.NewPlugin(loader.WithRegistry(reg), loader.WithMaxGenerations(2))
	to := upgradeTo(l, file, install)
	require.ErrorIs(t, to("upwrongtype"), runtime.ErrType)
	require.NoError(t, to("up1"))
	err := to("up2")
	require.ErrorIs(t, err, loader.ErrGenerations)
	assert.Contains(t, err.Error(), "2 files of client/up opened, the limit")
	assert.Equal(t, "v1: hi", reply(t, kind))
}

// TestUpgradeAfterReplacedWhileLoading: a rename over the file while Load
// opens it, after the checks and right before plugin.Open, leaves the
// process running the replacement; an upgrade to the bytes checked must
// not be taken for the generation loaded.
func TestUpgradeAfterReplacedWhileLoading(t *testing.T) {
	file, install := upgradeFile(t)
	fixturePath(t, "up5b")
	install("up5a")
	reg, kind := newRegistry(t)
	l := loader.NewPlugin(loader.WithRegistry(reg), loader.WithoutTrial())
	defer loader.SetBeforeOpen(func() { install("up5b") })() // other bytes, the same pluginpath
	_, err := l.LoadAll([]string{file})
	require.NoError(t, err)
	require.Equal(t, "v8: hi", reply(t, kind), "package plugin opened the replacement")
	install("up5a")
	_, err = l.Upgrade(file)
	require.ErrorIs(t, err, loader.ErrNoGeneration)
	assert.Equal(t, "v8: hi", reply(t, kind))
}

// TestUpgradeUnderLoad swaps generations while callers Get and call the
// plugin's implementation without pause (run it with -race).
func TestUpgradeUnderLoad(t *testing.T) {
	file, install := upgradeFile(t)
	reg, kind := newRegistry(t)
	l := loader.NewPlugin(loader.WithRegistry(reg))
	// The first generation loads from the fixture's own file, which no
	// test replaces: the process knows it by that path from then on.
	install("up1")
	_, err := l.LoadAll([]string{fixturePath(t, "up1")})
	require.NoError(t, err)

	var stop atomic.Bool
	var calls, failures atomic.Int64
	seen := sync.Map{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				newClient, err := kind.Get("up")
				if err == nil {
					var out string
					out, err = newClient().Call("x")
					seen.Store(out, true)
				}
				calls.Add(1)
				if err != nil {
					failures.Add(1)
				}
			}
		})
	}
	for _, g := range []string{"up2", "up3", "up1", "up2"} {
		install(g)
		_, err := l.Upgrade(file)
		require.NoError(t, err)
	}
	stop.Store(true)
	wg.Wait()
	assert.Zero(t, failures.Load(), "of %d calls", calls.Load())
	for _, v := range []string{"v1: x", "v2: x", "v3: x"} {
		_, ok := seen.Load(v)
		assert.True(t, ok, "%s answered", v)
	}
}

// drain returns what c holds.
func drain(c chan string) []string {
	var got []string
	for {
		select {
		case s := <-c:
			got = append(got, s)
		default:
			return got
		}
	}
}

// TestManifestUpgrade is the path of a generated dynamic file whose
// manifest sets dynamic.upgrade_signal: Load, then a new build of the
// plugin in the plugin directory and the signal.
func TestManifestUpgrade(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "client_up.so")
	require.NoError(t, os.Link(fixturePath(t, "up1"), file)) // the fixture's file: see TestUpgrade
	install := func(fixture string) {
		tmp := file + ".new"
		copyFile(t, fixturePath(t, fixture), tmp)
		require.NoError(t, os.Rename(tmp, file))
	}
	type outcome struct {
		u   *loader.Upgraded
		err error
	}
	outcomes := make(chan outcome, 4)
	m := &loader.Manifest{File: "plugink.yaml", Dir: dir, UpgradeSignal: "SIGUSR1",
		Plugins:   []runtime.Config{{Name: "up", Type: "client", Path: echoPkg, NewFunc: "NewClient"}},
		OnUpgrade: func(u *loader.Upgraded, err error) { outcomes <- outcome{u, err} }}
	m.RegisterFlag(flag.NewFlagSet("svc", flag.ContinueOnError))

	_, err := m.Upgrade()
	require.ErrorContains(t, err, "not loaded: call Load first")
	reg, kind := newRegistry(t)
	require.NoError(t, m.Load(loader.WithRegistry(reg)))
	assert.Equal(t, "v1: hi", reply(t, kind))

	ups, err := m.Upgrade()
	require.NoError(t, err)
	require.Len(t, ups, 1)
	assert.False(t, ups[0].Changed, "nothing changed yet")

	install("up2")
	ups, err = m.Upgrade()
	require.NoError(t, err)
	require.Len(t, ups, 1)
	assert.True(t, ups[0].Changed)
	assert.Equal(t, "v2: hi", reply(t, kind))

	// By signal.
	install("up3")
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
	select {
	case o := <-outcomes:
		require.NoError(t, o.err)
		assert.Equal(t, 3, o.u.Generation)
	case <-time.After(time.Minute):
		t.Fatal("no upgrade after the signal")
	}
	assert.Equal(t, "v3: hi", reply(t, kind))

	// A file that now holds another plugin than the manifest lists.
	copyFile(t, fixturePath(t, "echo"), file+".new")
	require.NoError(t, os.Rename(file+".new", file))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
	select {
	case o := <-outcomes:
		require.Error(t, o.err)
		assert.Contains(t, o.err.Error(), file)
	case <-time.After(time.Minute):
		t.Fatal("no report after the signal")
	}
	assert.Equal(t, "v3: hi", reply(t, kind))
}
