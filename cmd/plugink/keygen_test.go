package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeygenNextWithC: with -C, the commands keygen says to run next work
// from where the user stands (-sign is read relative to -C, as -o was).
// README.md runs keygen -C cmd/svc from the module root.
func TestKeygenNextWithC(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "cmd", "svc"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"keygen", "-C", "cmd/svc", "-o", "release"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit code %d: %s", code, &stderr)
	}
	for _, want := range []string{
		"wrote cmd/svc/release.key (the private key: keep it secret, out of version control) and cmd/svc/release.pub (key ID ",
		"Next: pin the public key in cmd/svc/plugink.yaml, then regenerate (plugink gen -C cmd/svc):\n",
		"\nplugink build -C cmd/svc -sign release.key\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("keygen -C cmd/svc printed\n%s\nwant it to contain %q", &stdout, want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "svc", "release.key")); err != nil {
		t.Error(err)
	}
}
