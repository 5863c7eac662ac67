package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"plugink": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI stories in testdata/script, each in a throwaway
// module that uses this checkout of plugink through a replace directive.
func TestScripts(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PLUGINK_ROOT", root)
			// Share the machine's module and build caches: scripts build
			// real programs and plugins, and must not download or
			// recompile the world each time.
			for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPROXY", "GOPATH", "CGO_ENABLED", "GOFLAGS"} {
				if v := goEnv(k); v != "" {
					env.Setenv(k, v)
				}
			}
			env.Setenv("GOWORK", "off")
			return nil
		},
	})
}

// goEnv returns the go command's value of key, as the test binary sees it.
func goEnv(key string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	switch key {
	case "GOCACHE":
		if d, err := os.UserCacheDir(); err == nil {
			return filepath.Join(d, "go-build")
		}
	case "GOPATH", "GOMODCACHE":
		if h, err := os.UserHomeDir(); err == nil {
			if key == "GOPATH" {
				return filepath.Join(h, "go")
			}
			return filepath.Join(h, "go", "pkg", "mod")
		}
	}
	return ""
}
