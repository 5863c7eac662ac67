package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommand: the hints' command lines are the user's, edited, and can
// be pasted into a shell.
func TestCommand(t *testing.T) {
	fs := flag.NewFlagSet("plugink build", flag.ContinueOnError)
	fs.String("C", "", "")
	fs.String("host", "", "")
	fs.Bool("check", false, "")
	fs.Bool("json", false, "")
	w := &where{args: []string{"list", "-C", "cmd/svc", "--host=bin/my svc", "-check", "-json=true", "client/brpc", "-nope"}}
	tests := []struct {
		cmd  string
		edit func(string, *string) bool
		want string
	}{
		{"", nil, `plugink list -C cmd/svc -host 'bin/my svc' -check -json=true client/brpc -nope`},
		{"build", dropFlags("check", "json"), `plugink build -C cmd/svc -host 'bin/my svc' client/brpc -nope`},
		{"", func(name string, v *string) bool {
			if name == "host" {
				*v = "../bin/it's"
			}
			return name != ""
		}, `plugink list -C cmd/svc -host '../bin/it'\''s' -check -json=true -nope`},
	}
	for _, tc := range tests {
		if got := w.command(fs, tc.cmd, tc.edit); got != tc.want {
			t.Errorf("command = %s\nwant      %s", got, tc.want)
		}
	}
}

// TestShow: paths under where the user stands are shown relative to it,
// others absolute.
func TestShow(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "svc")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	w := newWhere([]string{"list"}, io.Discard)
	t.Chdir(sub) // -C svc
	for path, want := range map[string]string{
		".":                      "svc",
		"plugins/client_x.so":    filepath.Join("svc", "plugins", "client_x.so"),
		"../bin/svc":             filepath.Join("bin", "svc"),
		"../../elsewhere":        filepath.Join(filepath.Dir(root), "elsewhere"),
		filepath.Join(sub, "a"):  filepath.Join("svc", "a"),
		filepath.Join(root, "b"): "b",
	} {
		if got := w.show(path); got != want && !strings.HasSuffix(got, want) {
			t.Errorf("show(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestParseInterleaved: flags may come after the arguments; -- ends them.
func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		force    bool
		manifest string
		want     string
	}{
		{[]string{"client/brpc", "-force"}, true, "", "client/brpc"},
		{[]string{"a", "-manifest", "m.yaml", "b", "-force"}, true, "m.yaml", "a b"},
		{[]string{"-force", "a", "--", "-b", "-manifest"}, true, "", "a -b -manifest"},
		{[]string{"a", "--", "-force"}, false, "", "a -force"},
		{[]string{"-", "-force"}, true, "", "-"},
	} {
		fs := flag.NewFlagSet("plugink build", flag.ContinueOnError)
		force := fs.Bool("force", false, "")
		manifest := fs.String("manifest", "", "")
		if err := parse(fs, tc.args); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(fs.Args(), " "); got != tc.want || *force != tc.force || *manifest != tc.manifest {
			t.Errorf("parse %q: args %q, -force %v, -manifest %q; want %q, %v, %q", tc.args, got, *force, *manifest, tc.want, tc.force, tc.manifest)
		}
	}
}
