package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"
)

// The README's path is a story that TestREADME runs, so that no command or
// output it shows can drift from what plugink does. In README.md:
//
//   - every ```sh block is part of the story: each line is a command, run
//     in order from the module root, unless readmeSkipped lists it;
//   - a block right after <!-- test: file PATH --> is written to PATH at
//     that point of the story (the files the README shows: the service,
//     its main package, the plugins, a manifest);
//   - a block right after <!-- test: cmp PATH --> must be the contents of
//     PATH at that point;
//   - a block right after <!-- test: stdout --> must be the standard
//     output of the command before it; after <!-- test: stderr -->, each of
//     its lines must be found in the command's standard error;
//   - after <!-- test: file PATH key PUB -->, the block is written to
//     PATH with the public key of the file PUB in place of each key it
//     shows (plugink-ed25519 ...), as the reader pastes their own.
//
// A command whose comment starts with "fails" must fail. Commands are
// translated into testscript's: go tool plugink runs this package's
// plugink (as in testdata/script), go runs the go command, a path with a
// slash runs that program; NAME=value before a command sets it for that
// command only; (cd dir && command) runs the command in dir. A command in
// any other form fails the test: teach the translation, or write it
// otherwise.

// readmeSkipped are the README's commands that no test can run, by their
// exact text (without the comment), with the reason. A command listed here
// that the README no longer has fails the test too.
var readmeSkipped = map[string]string{
	"make demo": "the demo: minutes of builds, an echo server and a greeter under load; it checks itself as it goes",
	"make test": "runs every test, this one too",
	"go get -tool github.com/plugink/plugink/cmd/plugink@latest":      "needs the network and a published plugink; the local-checkout commands after it are run instead",
	"kill -HUP $(pidof svc)":                                          "needs a host that runs while the test goes on; loader's upgrade tests, the example's e2e test and make demo-upgrade signal a running host",
	"go install -tags plugink_dynamic example.com/svc/cmd/svc@v1.0.0": "needs the service published at a version: thirdparty.txtar runs this story over a file:// module proxy",
	"go tool plugink build -host $(go env GOPATH)/bin/svc":            "the author's module of a published service: thirdparty.txtar and pinplugink.txtar",
	"MICRO_PLUGIN=$PWD/plugins/client_third.so svc --client=third":    "the operator's service, installed by version: thirdparty.txtar",
	"go tool plugink build -host ../svc/bin/svc -hostsrc ../svc":      "a plugin module beside the service's checkout: thirdparty.txtar builds with -hostsrc",
}

// readmeReplace are the README's words that mean something else in the
// test's throwaway module.
var readmeReplace = map[string]string{
	"github.com/plugink/plugink=../plugink": "github.com/plugink/plugink=$PLUGINK_ROOT", // this checkout
}

// readmeModule is what the story starts from, besides the files the README
// shows: the module's go.mod.
const readmeModule = "module example.com/svc\n\ngo 1.26\n"

// TestREADME runs the README's path as a testscript, in a throwaway module,
// as TestScripts runs testdata/script.
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs and plugins")
	}
	ar := readmeArchive(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "readme.txtar"), txtar.Format(ar), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: dir,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"readmelines": readmeLines,
			"readmekey":   readmeKey,
		},
		Setup: func(env *testscript.Env) error { // as TestScripts's
			env.Setenv("PLUGINK_ROOT", root)
			for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPROXY", "GOPATH", "CGO_ENABLED", "GOFLAGS"} {
				if v := goEnv(k); v != "" {
					env.Setenv(k, v)
				}
			}
			env.Setenv("GOWORK", "off")
			env.Setenv("PLUGINK_AS", "go tool plugink") // as the README's reader runs it
			return nil
		},
	})
}

// TestREADMEStory checks, without running it, that the README's story
// translates: every command has a known form, every skipped command is
// still in the README, every marker is followed by a block.
func TestREADMEStory(t *testing.T) {
	ar := readmeArchive(t)
	if n := strings.Count(string(ar.Comment), "\nexec ") + strings.Count(string(ar.Comment), "\n! exec "); n < 20 {
		t.Errorf("the README's story runs %d commands; want the whole path", n)
	}
}

// readmeLines checks that each non-empty line of file is in the last
// command's stdout or stderr:
//
//	readmelines stdout|stderr file
func readmeLines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 || args[0] != "stdout" && args[0] != "stderr" {
		ts.Fatalf("usage: readmelines stdout|stderr file")
	}
	got := ts.ReadFile(args[0])
	for _, line := range strings.Split(ts.ReadFile(args[1]), "\n") {
		if line != "" && !strings.Contains(got, line) {
			ts.Fatalf("the README shows %q, not in %s", line, args[0])
		}
	}
}

// readmeKey puts the public key of a .pub file in place of each key a
// file shows:
//
//	readmekey file.pub file
func readmeKey(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: readmekey file.pub file")
	}
	key := strings.TrimSpace(ts.ReadFile(args[0]))
	text := ts.ReadFile(args[1])
	keys := regexp.MustCompile(`plugink-ed25519 \S+`)
	if !keys.MatchString(text) {
		ts.Fatalf("%s shows no key", args[1])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(keys.ReplaceAllLiteralString(text, key)), 0o644))
}

// readmeArchive reads README.md and returns its story as a testscript
// archive: the script, the go.mod and the files the README shows.
func readmeArchive(t *testing.T) *txtar.Archive {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ar, err := readmeStory(string(data))
	if err != nil {
		t.Fatal(err)
	}
	return ar
}

// story is the testscript being written from the README.
type story struct {
	script  strings.Builder
	files   []txtar.File
	skipped map[string]bool // the skipped commands seen
	ran     bool            // a command ran since the last output check
}

var markerRE = regexp.MustCompile(`^<!-- test: (file|cmp) (\S+)(?: key (\S+))? -->$|^<!-- test: (stdout|stderr) -->$`)

// readmeStory translates the README (the text of README.md) into a
// testscript archive.
func readmeStory(readme string) (*txtar.Archive, error) {
	s := &story{skipped: map[string]bool{}}
	s.printf("# The path of README.md, as cmd/plugink/readme_test.go translates it.\n")
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		where := fmt.Sprintf("README.md:%d", i+1)
		var marker []string
		if strings.HasPrefix(line, "<!-- test:") {
			marker = markerRE.FindStringSubmatch(line)
			if marker == nil {
				return nil, fmt.Errorf("%s: unknown marker %q", where, line)
			}
			i++
			if i >= len(lines) || !strings.HasPrefix(lines[i], "```") {
				return nil, fmt.Errorf("%s: the marker is not followed by a ``` block", where)
			}
			line = lines[i]
		}
		if !strings.HasPrefix(line, "```") {
			continue
		}
		lang := strings.TrimPrefix(line, "```")
		start := i + 1
		for i++; i < len(lines) && lines[i] != "```"; i++ {
		}
		if i >= len(lines) {
			return nil, fmt.Errorf("%s: the block is not closed", where)
		}
		body := lines[start:i]
		var err error
		switch {
		case marker != nil && marker[1] == "file":
			err = s.file(body, marker[2], marker[3])
		case marker != nil && marker[1] == "cmp" && marker[3] == "":
			name := s.addFile(body)
			s.printf("cmp %s %s\n", marker[2], name)
		case marker != nil && marker[4] != "":
			err = s.output(body, marker[4])
		case marker != nil:
			err = fmt.Errorf("key goes with file only")
		case lang == "sh":
			err = s.commands(body, start)
		case lang == "bash" || lang == "shell" || lang == "console" || lang == "shell-session":
			err = fmt.Errorf("a ```%s block: write it as ```sh, so that the test runs it", lang)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
	}
	var stale []string
	for cmd := range readmeSkipped {
		if !s.skipped[cmd] {
			stale = append(stale, cmd)
		}
	}
	if len(stale) > 0 {
		return nil, fmt.Errorf("readmeSkipped lists commands the README does not have: %q", stale)
	}
	files := append([]txtar.File{{Name: "go.mod", Data: []byte(readmeModule)}}, s.files...)
	return &txtar.Archive{Comment: []byte(s.script.String()), Files: files}, nil
}

func (s *story) printf(format string, args ...any) { fmt.Fprintf(&s.script, format, args...) }

// addFile adds body to the archive and returns its name.
func (s *story) addFile(body []string) string {
	name := fmt.Sprintf("readme/%d", len(s.files)+1)
	s.files = append(s.files, txtar.File{Name: name, Data: []byte(strings.Join(body, "\n") + "\n")})
	return name
}

// file writes body to path, as the reader does when the README shows a
// file; with the public key of the file pub, if set.
func (s *story) file(body []string, path, pub string) error {
	if filepath.IsAbs(path) || strings.Contains(path, "..") {
		return fmt.Errorf("file %s: want a path in the module", path)
	}
	name := s.addFile(body)
	if dir := filepath.Dir(path); dir != "." {
		s.printf("mkdir %s\n", dir)
	}
	s.printf("cp %s %s\n", name, path)
	if pub != "" {
		s.printf("readmekey %s %s\n", pub, path)
	}
	return nil
}

// output checks the last command's stdout (exactly) or stderr (line by line).
func (s *story) output(body []string, stream string) error {
	if !s.ran {
		return fmt.Errorf("an output block that follows no command")
	}
	s.ran = false
	name := s.addFile(body)
	if stream == "stdout" {
		s.printf("cmp stdout %s\n", name)
	} else {
		s.printf("readmelines stderr %s\n", name)
	}
	return nil
}

var (
	subshellRE = regexp.MustCompile(`^\(cd (\S+) && (.*)\)$`)
	assignRE   = regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=(\S*)$`)
	unsafeRE   = regexp.MustCompile("[\"'`|;&<>\\\\*?]|\\$\\(")
)

// commands translates the lines of a ```sh block, which starts at line
// start (0-based) of the README.
func (s *story) commands(body []string, start int) error {
	for j, line := range body {
		cmd, comment, _ := strings.Cut(line, "#")
		cmd = strings.TrimSpace(cmd)
		if cmd == "" {
			continue
		}
		if _, ok := readmeSkipped[cmd]; ok {
			s.skipped[cmd] = true
			s.printf("# README.md:%d, skipped: %s\n", start+j+1, cmd)
			continue
		}
		fails := strings.HasPrefix(strings.TrimSpace(comment), "fails")
		s.printf("\n# README.md:%d: %s\n", start+j+1, cmd)
		if err := s.command(cmd, fails, ""); err != nil {
			return fmt.Errorf("line %q: %v", line, err)
		}
		s.ran = true
	}
	return nil
}

// command translates one command, run in dir ("" for the module root).
func (s *story) command(cmd string, fails bool, dir string) error {
	if m := subshellRE.FindStringSubmatch(cmd); m != nil && dir == "" {
		s.printf("cd %s\n", m[1])
		if err := s.command(m[2], fails, m[1]); err != nil {
			return err
		}
		s.printf("cd $WORK\n")
		return nil
	}
	if unsafeRE.MatchString(cmd) {
		return fmt.Errorf("shell syntax the test does not translate")
	}
	words := strings.Fields(cmd)
	var env []string
	for len(words) > 0 && assignRE.MatchString(words[0]) {
		env, words = append(env, words[0]), words[1:]
	}
	for i, w := range words {
		if r, ok := readmeReplace[w]; ok {
			w = r
		}
		here := "$WORK"
		if dir != "" {
			here += "/" + dir
		}
		w = strings.ReplaceAll(w, "$PWD", here)
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(w, "$WORK", ""), "$PLUGINK_ROOT", ""), "$") {
			return fmt.Errorf("a variable the test does not set: %s", w)
		}
		words[i] = w
	}
	switch {
	case len(words) >= 3 && words[0] == "go" && words[1] == "tool" && words[2] == "plugink":
		words = append([]string{"plugink"}, words[3:]...)
	case len(words) > 0 && (words[0] == "go" || strings.Contains(words[0], "/")):
	default:
		return fmt.Errorf("a program the test does not run (go, go tool plugink, or a path)")
	}
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		s.printf("env README_SAVED_%s=$%s\nenv %s\n", name, name, e)
	}
	neg := ""
	if fails {
		neg = "! "
	}
	s.printf("%sexec %s\n", neg, strings.Join(words, " "))
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		s.printf("env %s=$README_SAVED_%s\n", name, name)
	}
	return nil
}

// TestDocLinks: every relative link in README.md and docs/*.md names a file
// or directory that exists, and a #fragment names a heading of that file.
func TestDocLinks(t *testing.T) {
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, doc := range append([]string{"../../README.md"}, docs...) {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		inBlock := false
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "```") {
				inBlock = !inBlock
			}
			if inBlock {
				continue
			}
			for _, m := range link.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				file, frag, _ := strings.Cut(target, "#")
				path := doc
				if file != "" {
					path = filepath.Join(filepath.Dir(doc), filepath.FromSlash(file))
				}
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s:%d: link %s: %v", doc, i+1, target, err)
					continue
				}
				if frag != "" && !hasAnchor(t, path, frag) {
					t.Errorf("%s:%d: link %s: no heading #%s in %s", doc, i+1, target, frag, path)
				}
			}
		}
	}
}

// hasAnchor reports whether the Markdown file has a heading whose GitHub
// anchor is frag.
func hasAnchor(t *testing.T, path, frag string) bool {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	inBlock := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
		}
		if inBlock || !strings.HasPrefix(line, "#") {
			continue
		}
		if githubAnchor(strings.TrimLeft(line, "#")) == frag {
			return true
		}
	}
	return false
}

// githubAnchor is the anchor GitHub gives a heading: lower case, spaces to
// hyphens, and only letters, digits, hyphens and underscores kept.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
