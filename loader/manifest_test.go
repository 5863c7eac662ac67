package loader_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sumfile "github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/loader/internal/testkind"
	"github.com/plugink/plugink/runtime"
)

// TestManifestLoad is the path of a generated dynamic file: the plugin
// directory's files, by the names the manifest gives them, then
// MICRO_PLUGIN's.
func TestManifestLoad(t *testing.T) {
	echo := fixturePath(t, "echo")
	dir := t.TempDir()
	link := func(name string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.Link(echo, p)) // the same file: loading it again is a no-op
		return p
	}
	link("client_echo.so")
	wrong := link("client_other.so")
	echoCfg := runtime.Config{Name: "echo", Type: "client", Path: echoPkg, NewFunc: "NewClient"}
	load := func(t *testing.T, m *loader.Manifest) (*runtime.Kind[testkind.NewFunc], error) {
		t.Helper()
		reg, kind := newRegistry(t)
		fs := flag.NewFlagSet("svc", flag.ContinueOnError)
		m.RegisterFlag(fs)
		require.NoError(t, fs.Parse([]string{"-plugin_dir", dir}))
		return kind, m.Load(loader.WithRegistry(reg))
	}

	t.Run("listed plugin", func(t *testing.T) {
		t.Setenv(loader.EnvPlugins, "")
		kind, err := load(t, &loader.Manifest{File: "plugink.yaml", Dir: "nowhere", Plugins: []runtime.Config{echoCfg}})
		require.NoError(t, err)
		assert.Equal(t, []string{"echo"}, kind.Names())
	})
	t.Run("a file that holds another plugin", func(t *testing.T) {
		t.Setenv(loader.EnvPlugins, "")
		other := echoCfg
		other.Name = "other"
		_, err := load(t, &loader.Manifest{File: "plugink.yaml", Dir: "nowhere", Plugins: []runtime.Config{other}})
		require.ErrorIs(t, err, loader.ErrNotListed)
		assert.Contains(t, err.Error(), "load "+wrong+": not the plugin the manifest lists: the file holds plugin client/echo")
	})
	t.Run("missing file", func(t *testing.T) {
		t.Setenv(loader.EnvPlugins, "")
		missing := echoCfg
		missing.Name = "missing"
		_, err := load(t, &loader.Manifest{File: "plugink.yaml", Plugins: []runtime.Config{missing}})
		require.ErrorIs(t, err, os.ErrNotExist)
		assert.Contains(t, err.Error(), filepath.Join(dir, "client_missing.so")+": plugin client/missing of plugink.yaml")
		assert.Contains(t, runtime.Hints(err)[0], "the plugin directory is "+dir)

		t.Setenv(loader.EnvPlugins, echo) // MICRO_PLUGIN names a file, but not one that provides it
		_, err = load(t, &loader.Manifest{File: "plugink.yaml", Plugins: []runtime.Config{missing}})
		require.ErrorIs(t, err, os.ErrNotExist)
		assert.Contains(t, err.Error(), "plugin client/missing: file does not exist, and no file $MICRO_PLUGIN names provides it")

		other := t.TempDir() // MICRO_PLUGIN provides it
		m := &loader.Manifest{File: "plugink.yaml", Plugins: []runtime.Config{echoCfg}}
		fs := flag.NewFlagSet("svc", flag.ContinueOnError)
		m.RegisterFlag(fs)
		require.NoError(t, fs.Parse([]string{"-plugin_dir", other}))
		reg, kind := newRegistry(t)
		require.NoError(t, m.Load(loader.WithRegistry(reg)))
		assert.Equal(t, []string{"echo"}, kind.Names())
	})
	t.Run("checksums required", func(t *testing.T) {
		t.Setenv(loader.EnvPlugins, "")
		_, err := load(t, &loader.Manifest{File: "plugink.yaml", Plugins: []runtime.Config{echoCfg}, RequireSums: true})
		require.ErrorIs(t, err, loader.ErrNoChecksum, "the directory has no plugink.sum")
		assert.Contains(t, err.Error(), "dynamic.require_sums is true in plugink.yaml and no plugink.sum lists "+filepath.Join(dir, "client_echo.so"))
		assert.Contains(t, runtime.Hints(err), "plugink build, in the directory of plugink.yaml, writes plugink.sum beside the plugins", "a test binary: its package's directory is not known")
		require.NoError(t, sumfile.Write(filepath.Join(dir, sumfile.FileName), sumsOf(t, filepath.Join(dir, "client_echo.so"))))
		t.Cleanup(func() { os.Remove(filepath.Join(dir, sumfile.FileName)) })
		_, err = load(t, &loader.Manifest{File: "plugink.yaml", Plugins: []runtime.Config{echoCfg}, RequireSums: true})
		require.NoError(t, err)
	})
	t.Run("only manifest plugins marked replace may replace", func(t *testing.T) {
		t.Setenv(loader.EnvPlugins, "")
		reg, kind := newRegistry(t)
		require.NoError(t, kind.Register("echo", testkind.NewStatic))
		m := &loader.Manifest{File: "plugink.yaml", Plugins: []runtime.Config{echoCfg}}
		fs := flag.NewFlagSet("svc", flag.ContinueOnError)
		m.RegisterFlag(fs)
		require.NoError(t, fs.Parse([]string{"-plugin_dir", dir}))
		err := m.Load(loader.WithRegistry(reg))
		require.ErrorIs(t, err, runtime.ErrDuplicate)
		assert.Equal(t, []string{`only plugins marked "replace: true" in plugink.yaml may replace a registered name; mark client/echo so, or rename it`}, runtime.Hints(err))
		m.Replace = []string{"client/echo"}
		require.NoError(t, m.Load(loader.WithRegistry(reg)))
	})
}

// TestManifestPluginDir: -plugin_dir, else $PLUGINK_DIR, else dynamic.dir;
// a host's own -plugin_dir flag is used, not redefined.
func TestManifestPluginDir(t *testing.T) {
	m := &loader.Manifest{File: "plugink.yaml", Dir: "plugins"}
	fs := flag.NewFlagSet("svc", flag.ContinueOnError)
	m.RegisterFlag(fs)
	m.RegisterFlag(fs) // twice: no "flag redefined" panic
	t.Setenv("PLUGINK_DIR", "")
	assert.Equal(t, "plugins", m.PluginDir())
	t.Setenv("PLUGINK_DIR", "/env/dir")
	assert.Equal(t, "/env/dir", m.PluginDir())
	require.NoError(t, fs.Parse([]string{"-plugin_dir", "/flag/dir"}))
	assert.Equal(t, "/flag/dir", m.PluginDir())

	own := flag.NewFlagSet("svc", flag.ContinueOnError)
	own.String("plugin_dir", "/host/default", "the host's own flag")
	m2 := &loader.Manifest{Dir: "plugins"}
	m2.RegisterFlag(own)
	assert.Equal(t, "/host/default", m2.PluginDir())
}

// sumsOf returns the checksums of files.
func sumsOf(t *testing.T, files ...string) loader.Sums {
	s := loader.Sums{}
	for _, f := range files {
		_, err := s.Add(f)
		require.NoError(t, err)
	}
	return s
}

// TestManifestBadUpgradeSignal: a signal a host may not upgrade on is
// refused before any plugin is loaded.
func TestManifestBadUpgradeSignal(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Link(fixturePath(t, "echo"), filepath.Join(dir, "client_echo.so")))
	reg, kind := newRegistry(t)
	m := &loader.Manifest{File: "plugink.yaml", Dir: dir, UpgradeSignal: "SIGTERM",
		Plugins: []runtime.Config{{Name: "echo", Type: "client", Path: echoPkg, NewFunc: "NewClient"}}}
	m.RegisterFlag(flag.NewFlagSet("svc", flag.ContinueOnError))
	err := m.Load(loader.WithRegistry(reg))
	require.Error(t, err)
	assert.Equal(t, `plugink.yaml: dynamic.upgrade_signal "SIGTERM" is not a signal a host may upgrade on; want one of SIGHUP, SIGUSR1, SIGUSR2`, err.Error())
	assert.Empty(t, kind.Names(), "nothing loaded, though the plugin's file is there")
}
