package execbuild

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/internal/testmod"
)

// TestBuild: the executable is built whole, its checksum returned; a
// build that fails leaves neither the output nor the package it wrote.
func TestBuild(t *testing.T) {
	testmod.SkipIfShort(t)
	mod := t.TempDir()
	testmod.Write(t, mod, map[string]string{"go.mod": "module example.com/m\n\ngo 1.24\n"})
	out := filepath.Join(t.TempDir(), "client_hello")
	ctx := context.Background()
	sum, err := Build(ctx, "client", "hello", []byte("package main\n\nfunc main() { println(\"hello\") }\n"), out, Options{Dir: mod})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sums.File(out); err != nil || got != sum {
		t.Fatalf("checksum %s, %v; Build said %s", got, err, sum)
	}
	if b, err := exec.Command(out).CombinedOutput(); err != nil || !strings.Contains(string(b), "hello") {
		t.Fatalf("running the executable: %v\n%s", err, b)
	}

	bad := filepath.Join(filepath.Dir(out), "client_bad")
	_, err = Build(ctx, "client", "bad", []byte("package main\n\nfunc main() { undefined() }\n"), bad, Options{Dir: mod})
	if err == nil || !strings.Contains(err.Error(), "undefined") {
		t.Fatalf("a package that does not compile: %v, want the compiler's error", err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("a failed build left %s: %v", bad, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("a temporary file is left: %s", e.Name())
		}
	}
	// The same sources give the same bytes: the package's path is fixed.
	again, err := Build(ctx, "client", "hello", []byte("package main\n\nfunc main() { println(\"hello\") }\n"), out, Options{Dir: mod})
	if err != nil || again != sum {
		t.Errorf("rebuilt unchanged: %s, %v; first build %s", again, err, sum)
	}
}
