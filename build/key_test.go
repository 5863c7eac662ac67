package build

import (
	"crypto/sha256"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/plugink/plugink/internal/settings"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHashPackageVendored: a module version stands for its files only in
// the module cache; a vendored copy is hashed by content, so editing it
// changes the key.
func TestHashPackageVendored(t *testing.T) {
	root := t.TempDir()
	modCache := filepath.Join(root, "modcache")
	for _, tc := range []struct {
		dir         string
		editChanges bool
	}{
		{filepath.Join(modCache, "example.com", "lib@v1.0.0"), false},
		{filepath.Join(root, "svc", "vendor", "example.com", "lib"), true},
		{filepath.Join(root, "modcache-lookalike", "example.com", "lib@v1.0.0"), true},
	} {
		require.NoError(t, os.MkdirAll(tc.dir, 0o755))
		file := filepath.Join(tc.dir, "lib.go")
		require.NoError(t, os.WriteFile(file, []byte("package lib\n"), 0o644))
		p := &listedPackage{ImportPath: "example.com/lib", Dir: tc.dir, GoFiles: []string{"lib.go"}}
		p.Module = &packageModule{Path: "example.com/lib", Version: "v1.0.0"}
		key := func() []byte {
			h := sha256.New()
			require.NoError(t, hashPackage(h, p, modCache))
			return h.Sum(nil)
		}
		before := key()
		require.NoError(t, os.WriteFile(file, []byte("package lib\n\nvar Edited = true\n"), 0o644))
		assert.Equal(t, tc.editChanges, string(before) != string(key()), tc.dir)
	}
}

// TestEveryComparedSettingKeysTheCache: each setting that preflight
// compares (package settings) changes the cache key, whether it comes
// from the environment the go command reports (go env is asked for every
// one of them), from the build's flags or environment, or from a host's
// build information; a setting build never hears of would let a cached
// file built with the old value pass for the new.
func TestEveryComparedSettingKeysTheCache(t *testing.T) {
	goEnv := func(vars map[string]string) []byte {
		b, err := json.Marshal(vars)
		require.NoError(t, err)
		return b
	}
	base := map[string]string{"GOVERSION": "go1.26.8", "GOOS": "linux", "GOARCH": "amd64"}
	want, err := effectiveSettings(goEnv(base), nil, nil)
	require.NoError(t, err)
	for _, s := range settings.All {
		if !s.Compared {
			continue
		}
		t.Run(s.Key, func(t *testing.T) {
			value := map[string]string{"CGO_ENABLED": "0", "-gcflags": "all=-N", "-asmflags": "-spectre=all"}[s.Key]
			switch {
			case s.Bool:
				value = "true"
			case value == "":
				value = "changed"
			}
			if !s.Flag {
				assert.Contains(t, envSettings, s.Key, "go env is not asked for it")
				changed := maps.Clone(base)
				changed[s.Key] = value
				got, err := effectiveSettings(goEnv(changed), nil, nil)
				require.NoError(t, err)
				assert.NotEqual(t, want, got, "from go env")
				got, err = effectiveSettings(goEnv(base), nil, []string{s.Key + "=" + value})
				require.NoError(t, err)
				assert.NotEqual(t, want, got, "from the build's environment")
			} else {
				got, err := effectiveSettings(goEnv(base), []string{s.Key + "=" + value}, nil)
				require.NoError(t, err)
				assert.NotEqual(t, want, got, "from the build's flags")
				got, err = effectiveSettings(goEnv(map[string]string{"GOVERSION": "go1.26.8", "GOOS": "linux", "GOARCH": "amd64", "GOFLAGS": s.Key + "=" + value}), nil, nil)
				require.NoError(t, err)
				assert.NotEqual(t, want, got, "from GOFLAGS")
			}
			host := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: s.Key, Value: value}}}
			if s.Key == "-pgo" {
				host.Settings[0].Value = filepath.Join(t.TempDir(), "default.pgo")
				require.NoError(t, os.WriteFile(host.Settings[0].Value, nil, 0o644))
			}
			flags, env, err := settings.Build(host)
			require.NoError(t, err)
			got, err := effectiveSettings(goEnv(base), flags, env)
			require.NoError(t, err)
			assert.NotEqual(t, want, got, "from a host's build information")
		})
	}
}
