package main

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plugink/plugink/internal/testmod"
	"github.com/plugink/plugink/runtime"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/mod/module"
)

func TestMain(m *testing.M) {
	// The tests run plugink from the go command's build cache, where it
	// would take itself for `go tool plugink`: the stories type plugink.
	if os.Getenv("PLUGINK_AS") == "" {
		os.Setenv("PLUGINK_AS", "plugink")
	}
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
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"publish":        publish,
			"setgoversion":   setGoVersion,
			"patchbuildinfo": patchBuildInfo,
			"waitfile":       waitFile,
			"signal":         signalPid,
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("PLUGINK_ROOT", root)
			env.Setenv("MODCACHE_DOWNLOAD", testmod.FileURL(filepath.Join(goEnv("GOMODCACHE"), "cache", "download")))
			// Share the machine's module and build caches: scripts build
			// real programs and plugins, and must not download or
			// recompile the world each time.
			for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPROXY", "GOPATH", "CGO_ENABLED", "GOFLAGS"} {
				if v := goEnv(k); v != "" {
					env.Setenv(k, v)
				}
			}
			env.Setenv("GOWORK", "off")
			env.Setenv("PLUGINK_AS", "plugink") // the stories type plugink, not go tool plugink
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

// TestExitCodes checks the documented exit codes, and which stream each
// message goes to, by calling run directly.
func TestExitCodes(t *testing.T) {
	const (
		greeter = "../../gen/testdata/ok/greeter" // a valid manifest; its generated files live in want/
		bad     = "../../gen/testdata/errors/unknown-kind"
	)
	greeterAbs, err := filepath.Abs(greeter) // outside the current directory: shown absolute
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args   []string
		code   int
		stdout string // a substring of stdout, or "" for empty
		stderr string // a substring of stderr, or "" for empty
	}{
		{nil, exitError, "", "usage: plugink <command>"},
		{[]string{"help"}, exitOK, "usage: plugink <command>", ""},
		{[]string{"frobnicate"}, exitError, "", `unknown command "frobnicate"`},
		{[]string{"gen", "-h"}, exitOK, "", "usage: plugink gen"},
		{[]string{"build", "-h"}, exitOK, "", "usage: plugink build"},
		{[]string{"list", "-h"}, exitOK, "", "usage: plugink list"},
		{[]string{"inspect", "-h"}, exitOK, "", "usage: plugink inspect"},
		{[]string{"version", "-h"}, exitOK, "", "usage: plugink version"},
		{[]string{"keygen", "-h"}, exitOK, "", "usage: plugink keygen"},
		{[]string{"keygen"}, exitError, "", "plugink: keygen: -o is required"},
		{[]string{"keygen", "-o", "k", "extra"}, exitError, "", `unexpected argument "extra"`},
		// A path flag is read relative to -C: the message says from where,
		// and the hint gives the path from -C when it is one from here.
		{[]string{"build", "-C", greeter, "-sign", "missing.key"}, exitError, "", "plugink: -sign missing.key: open " + greeter + "/missing.key (relative to -C " + greeter + "): no such file or directory\n" +
			"plugink: hint: -sign is read relative to -C: give its path from " + greeter + ", or an absolute one\n"},
		{[]string{"list", "-C", greeter, "-host", "main_test.go"}, exitError, "", "plugink: -host main_test.go: open " + greeter + "/main_test.go (relative to -C " + greeter + "): no such file or directory\n" +
			"plugink: hint: -host is read relative to -C: plugink list -C " + greeter + " -host ../../../../cmd/plugink/main_test.go\n"},
		{[]string{"inspect", "-C", greeter, "main_test.go"}, exitError, "", "plugink: inspect main_test.go: open " + greeter + "/main_test.go (relative to -C " + greeter + "): no such file or directory\n" +
			"plugink: hint: the file is read relative to -C: plugink inspect -C " + greeter + " ../../../../cmd/plugink/main_test.go\n"},
		// Flags may follow the arguments.
		{[]string{"build", "-C", greeter, "nope", "-force"}, exitError, "", "no enabled plugin named nope (plugins:"},
		{[]string{"inspect", "missing.so", "-h"}, exitOK, "", "Flags may come before or after the arguments"},
		{[]string{"inspect", "missing.so", "-json"}, exitError, "", "plugink: inspect missing.so: open missing.so"},
		{[]string{"gen", "-nope"}, exitError, "", "flag provided but not defined: -nope"},
		{[]string{"gen", "-C", greeter, "extra"}, exitError, "", `unexpected argument "extra"`},
		{[]string{"list", "-C", greeter, "extra"}, exitError, "", `unexpected argument "extra"`},
		{[]string{"version", "extra"}, exitError, "", `unexpected argument "extra"`},
		{[]string{"inspect"}, exitError, "", "usage: plugink inspect"},
		{[]string{"inspect", "missing.so"}, exitError, "", "missing.so"},
		{[]string{"gen", "-C", bad}, exitError, "", `plugink.yaml:5:11: plugin "alpha": unknown kind "clinet"`},
		{[]string{"gen", "-C", bad, "-check"}, exitError, "", `plugink.yaml:5:11: plugin "alpha": unknown kind "clinet"`},
		// gen -check: the diff on stdout, what it means on stderr.
		{[]string{"gen", "-C", greeter, "-check"}, exitStale, "+++ b/zz_plugink_static.go", "plugink: gen -check: 4 generated files out of date: " + greeterAbs + "/zz_plugink_static.go, " + greeterAbs + "/zz_plugink_dynamic.go, " + greeterAbs + "/zz_plugink_process.go, " + greeterAbs + "/zz_plugink_glue.go\n" +
			"plugink: hint: regenerate them: plugink gen -C " + greeter + "\n"},
		{[]string{"gen", "-C", greeter, "-manifest", "plugink.yaml", "-check"}, exitStale, "+++ b/zz_plugink_static.go", "out of date"}, // relative to -C
		{[]string{"inspect", "missing.so"}, exitError, "", "plugink: inspect missing.so: open missing.so"},
		{[]string{"version"}, exitOK, "plugink ", ""},
		{[]string{"--version"}, exitOK, "plugink ", ""},
		{[]string{"-version"}, exitOK, "plugink ", ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, &stdout, &stderr)
			}
			for _, s := range []struct {
				name, got, want string
			}{{"stdout", stdout.String(), tc.stdout}, {"stderr", stderr.String(), tc.stderr}} {
				if s.want == "" && s.got != "" || !strings.Contains(s.got, s.want) {
					t.Errorf("%s = %q, want it to contain %q", s.name, s.got, s.want)
				}
			}
		})
	}
}

// TestVersion: plugink's version, "(devel)" if unknown, and Go's.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitOK {
			t.Fatalf("%s: exit code %d: %s", args, code, &stderr)
		}
		if want := regexp.MustCompile(`^plugink (\(devel\)|v\S+) go1\.\S+\n$`); !want.MatchString(stdout.String()) {
			t.Errorf("%s: %q, want it to match %s", args, stdout.String(), want)
		}
	}
}

// TestManyErrorsAreCapped: a manifest with thousands of bad entries prints
// the first errors and how many more, not every line.
func TestManyErrorsAreCapped(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("kinds:\n  client: example.com/k.Kind\nplugins:\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "  - name: Bad%d\n    type: client\n    path: example.com/p\n    newfunc: New\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugink.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"gen", "-C", dir}, &stdout, &stderr); code != exitError {
		t.Fatalf("exit code %d", code)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != maxErrors+1 || lines[maxErrors] != "and 4980 more errors" {
		t.Errorf("%d lines, the last %q; want %d errors and a count", len(lines), lines[len(lines)-1], maxErrors)
	}
}

// publish lays out a directory as a module version in a file:// proxy:
//
//	publish <proxy dir> <module>@<version> <dir>
func publish(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: publish proxy module@version dir")
	}
	path, version, _ := strings.Cut(args[1], "@")
	ts.Check(testmod.Publish(ts.MkAbs(args[0]), module.Version{Path: path, Version: version}, ts.MkAbs(args[2])))
}

// setGoVersion rewrites the Go version a binary's build information
// records, changing its last digit, as if another toolchain built it:
//
//	setgoversion <binary>
//
// buildInfoSection reads the ELF file and returns its contents and, within
// them, its .go.buildinfo section.
func buildInfoSection(ts *testscript.TestScript, file string) (data, section []byte) {
	data, err := os.ReadFile(file)
	ts.Check(err)
	ef, err := elf.Open(file)
	ts.Check(err)
	sec := ef.Section(".go.buildinfo")
	ef.Close()
	if sec == nil {
		ts.Fatalf("no build information")
	}
	return data, data[sec.Offset : sec.Offset+sec.Size]
}

// patchBuildInfo replaces, in the build information of a binary, each
// string old by new, of the same length (both Go-escaped):
//
//	patchbuildinfo binary old new [old new]...
func patchBuildInfo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args)%2 != 1 {
		ts.Fatalf("usage: patchbuildinfo binary old new [old new]...")
	}
	file := ts.MkAbs(args[0])
	data, section := buildInfoSection(ts, file)
	for i := 1; i < len(args); i += 2 {
		old, err := strconv.Unquote(`"` + args[i] + `"`)
		ts.Check(err)
		repl, err := strconv.Unquote(`"` + args[i+1] + `"`)
		ts.Check(err)
		at := bytes.Index(section, []byte(old))
		switch {
		case at < 0:
			ts.Fatalf("%q not in the build information", old)
		case len(repl) != len(old):
			ts.Fatalf("%q and %q differ in length", old, repl)
		}
		copy(section[at:], repl)
	}
	ts.Check(os.WriteFile(file, data, 0o755))
}

func setGoVersion(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: setgoversion binary")
	}
	file := ts.MkAbs(args[0])
	bi, err := buildinfo.ReadFile(file)
	ts.Check(err)
	data, section := buildInfoSection(ts, file)
	other := []byte(bi.GoVersion)
	if last := &other[len(other)-1]; *last == '0' {
		*last = '1'
	} else {
		*last = '0'
	}
	i := bytes.Index(section, []byte(bi.GoVersion))
	if i < 0 {
		ts.Fatalf("%s not found in .go.buildinfo", bi.GoVersion)
	}
	copy(section[i:], other)
	ts.Check(os.WriteFile(file, data, 0o755))
}

// TestDocUsage: the package documentation shows each command's usage as
// the command's -h does.
func TestDocUsage(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands {
		line := strings.TrimSpace("//\tplugink "+c.name+" "+c.args) + "\n"
		if !strings.Contains(string(doc), line) {
			t.Errorf("doc.go does not show the usage of %s: %q", c.name, line)
		}
	}
}

// waitFile waits, up to a minute, for a file that a background command
// writes (whole, by a rename) to exist:
//
//	waitfile file
func waitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile file")
	}
	file := ts.MkAbs(args[0])
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(file); err == nil {
			return
		} else if time.Now().After(deadline) {
			ts.Fatalf("%s: not written within a minute: %v", args[0], err)
		}
	}
}

// signalPid sends a signal (SIGHUP, SIGUSR1 or SIGUSR2) to the process
// whose ID a file holds (a background command writes it, as testscript's
// kill sends only SIGINT and SIGKILL):
//
//	signal SIGHUP pidfile
func signalPid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: signal SIGNAL pidfile")
	}
	sig, err := runtime.SignalNamed(args[0])
	ts.Check(err)
	data, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	ts.Check(err)
	p, err := os.FindProcess(pid)
	ts.Check(err)
	ts.Check(p.Signal(sig))
}
