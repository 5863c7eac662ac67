package loader_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/runtime"
)

// handBuilt is a plugin built by hand (go build -buildmode=plugin of a
// main package), with the other -trimpath than this test binary.
var handBuilt = sync.OnceValues(func() (string, error) {
	out := filepath.Join(fixtureDir, "handbuilt.so")
	return out, goBuild(out, "-buildmode=plugin", fmt.Sprintf("-trimpath=%t", !hostTrimpath()), "./testdata/mains/noisyinit")
})

// TestUpgradeHandBuilt: an upgrade to a plugin plugink did not build is
// refused as such (it is a Go plugin, without plugink's metadata), and
// the refusal also says why the file would not load here.
func TestUpgradeHandBuilt(t *testing.T) {
	path, err := handBuilt()
	require.NoError(t, err)
	reg, _ := newRegistry(t)
	_, err = loader.NewPlugin(loader.WithRegistry(reg)).Upgrade(path)
	require.Error(t, err)
	assert.NotErrorIs(t, err, loader.ErrNotPlugin)
	assert.ErrorContains(t, err, "a Go plugin that plugink did not build")
	assert.ErrorIs(t, err, loader.ErrMismatch)
	assert.ErrorContains(t, err, fmt.Sprintf("-trimpath: plugin %t, host %t", !hostTrimpath(), hostTrimpath()))
	assert.NotContains(t, err.Error(), ".plugink-upgrade-", "names the file, not the loader's private copy")
}

// panicGeneration is a generation of the plugin client/panicky whose
// init function panics.
var panicGeneration = sync.OnceValues(func() (string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	src, err := os.ReadFile(filepath.Join("testdata", "plugins", "echo", "echo.go"))
	if err != nil {
		return "", err
	}
	changed := string(src) + "\nfunc init() { panic(\"boom at init\") }\n"
	rel := "loader/testdata/plugins/echo/_plugink/gpanic"
	o := loader.BuildOptions{Generation: "gpanic", Import: "github.com/plugink/plugink/" + rel,
		Overlay: map[string][]byte{filepath.Join(root, filepath.FromSlash(rel), "echo.go"): []byte(changed)}}
	out := filepath.Join(fixtureDir, "panicky.so")
	return out, loader.NewPlugin(loader.WithBuildOptions(o)).Build(out, &runtime.Config{Name: "panicky", Type: "client", Path: echoPkg, NewFunc: "NewClient"})
})

// TestUpgradeRetryAfterInitPanic: an upgrade whose open panicked, asked
// again of the same bytes, says that those bytes failed before (not that
// the file has other contents), and its hint is about the build, not the
// loader's private copy of the file.
func TestUpgradeRetryAfterInitPanic(t *testing.T) {
	path, err := panicGeneration()
	require.NoError(t, err)
	reg, _ := newRegistry(t)
	l := loader.NewPlugin(loader.WithRegistry(reg), loader.WithoutTrial())
	_, err = l.Upgrade(path)
	require.ErrorIs(t, err, loader.ErrOpen)
	assert.ErrorContains(t, err, "boom at init")
	hint := strings.Join(runtime.Hints(err), "\n")
	assert.NotContains(t, hint, "this path", "the path opened is the loader's private copy")
	assert.Contains(t, hint, "build the plugin again")

	_, err = l.Upgrade(path)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "other contents")
	assert.ErrorContains(t, err, "failed to open in this process before")
	assert.ErrorContains(t, err, "boom at init")
}
