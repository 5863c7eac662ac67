package gen_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugink/plugink/internal/testmod"
)

// TestDynamicHostNeedsPluginSupport: a host built with -tags
// plugink_dynamic where Go cannot load plugins (no cgo, or an OS without
// package plugin) fails to build, and the compiler's error names what it
// needs; the same host builds without the tag.
func TestDynamicHostNeedsPluginSupport(t *testing.T) {
	testmod.SkipIfShort(t)
	const host = "./testdata/ok/greeter"
	// The golden files stand as the host's generated files.
	dir, err := filepath.Abs(host)
	if err != nil {
		t.Fatal(err)
	}
	replace := map[string]string{}
	for _, name := range []string{"zz_plugink_dynamic.go", "zz_plugink_static.go"} {
		replace[filepath.Join(dir, name)] = filepath.Join(dir, "want", name+".golden")
	}
	overlay, _ := json.Marshal(map[string]any{"Replace": replace})
	overlayFile := filepath.Join(t.TempDir(), "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, env := range [][]string{{"CGO_ENABLED=0"}, {"GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0"}} {
		cmd := exec.Command("go", "build", "-overlay", overlayFile, "-tags", "plugink_dynamic", "-o", os.DevNull, host)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "undefined: pluginkdynamic.NeedsCgoOnLinuxDarwinOrFreeBSD") {
			t.Errorf("%s go build -tags plugink_dynamic: err %v, want the missing NeedsCgoOnLinuxDarwinOrFreeBSD:\n%s", env, err, out)
		}
		cmd = exec.Command("go", "build", "-overlay", overlayFile, "-o", os.DevNull, host)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s go build (static): %v\n%s", env, err, out)
		}
	}
}
