package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/safetext"
)

// Exit codes.
const (
	exitOK    = 0
	exitStale = 1
	exitError = 2
)

// errStale marks an outcome that is not an error but exits 1.
var errStale = errors.New("stale")

// errUsage marks a usage error, already reported.
var errUsage = errors.New("usage")

// prefix starts every line plugink writes about an error.
const prefix = "plugink: "

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error
}

var commands = []command{
	{"init", "[-C dir] [-kind name=import/path.Var]...", "start plugink in a host package: write plugink.yaml declaring its kinds, the go:generate line, and generate", runInit},
	{"new", "[-C dir] [-manifest file] [-dir path] kind name", "add a plugin: a package whose constructor has the kind's type, its manifest entry, and generate", runNew},
	{"gen", "[-C dir] [-manifest file] [-tags t,...] [-check]", "validate the manifest and write the static and dynamic registration files", runGen},
	{"build", "[-C dir] [-manifest file] [-host binary [-hostsrc dir]] [-race] [-trimpath] [-tags t,...] [-j n] [-force] [-sign keyfile] [-v] [-x] [-progress] [name|kind/name...]", "build the manifest's plugins as .so files, record their checksums, and sign them", runBuild},
	{"list", "[-C dir] [-manifest file] [-host binary [-hostsrc dir]] [-json] [-check]", "show kinds and plugins with their status", runList},
	{"inspect", "[-C dir] [-json] [-host binary] file.so", "show a plugin file's Config and build, and whether it fits a host", runInspect},
	{"keygen", "[-C dir] -o name", "make a key pair to sign plugins with: name.key (private) and name.pub", runKeygen},
	{"version", "", "print plugink's version and Go's (also plugink --version)", runVersion},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; it never panics out. What it writes is
// escaped (safetext): plugin files and manifests are untrusted, and what
// they hold must not reach a terminal as control sequences.
func run(args []string, stdout, stderr io.Writer) (code int) {
	entered = ""
	where := newWhere(args, stderr)
	stdout, stderr = safetext.Writer(stdout), safetext.Writer(stderr)
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "%sinternal error (please report): %v\n%s", prefix, r, debug.Stack())
			code = exitError
		}
	}()
	if len(args) == 0 {
		usage(stderr)
		return exitError
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return exitOK
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = append([]string{"version"}, args[1:]...)
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "%sunknown command %q\n", prefix, args[0])
		usage(stderr)
		return exitError
	}
	fs := flag.NewFlagSet("plugink "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: plugink %s %s\n\n%s.\n\n%s\n\nFlags:\n", cmd.name, cmd.args, cmd.summary, flagsAnywhere)
		fs.PrintDefaults()
	}
	ctx, stop := signal.NotifyContext(context.WithValue(context.Background(), whereKey{}, where), os.Interrupt)
	defer stop()
	if cmd.name == "init" || cmd.name == "new" || cmd.name == "keygen" { // they print next steps to type
		stdout = typedWriter{stdout}
	}
	err := cmd.run(ctx, fs, args[1:], stdout)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errStale):
		return exitStale
	case errors.Is(err, errUsage):
		return exitError
	}
	report(stderr, err, where)
	return exitError
}

// flagsAnywhere is what every command's usage says of where its flags go.
const flagsAnywhere = "Flags may come before or after the arguments; -- ends the flags. A relative path in a flag or an argument is read from -C's directory."

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// report prints err, then its hints (see runtime.Hints). A manifest's
// errors are printed as compilers print theirs, file:line:col: message, at
// most maxErrors of them, the file as the user can open it from where
// they stand.
func report(w io.Writer, err error, from *where) {
	var list gen.ErrorList
	if errors.As(err, &list) {
		shown := make(gen.ErrorList, 0, len(list))
		for _, e := range list.Limit(maxErrors) {
			if file := e.Pos.Filename; file != "" {
				if !filepath.IsAbs(file) && entered != "" {
					file = filepath.Join(entered, file) // relative to -C's directory
				}
				e2 := *e
				e2.Pos.Filename = from.show(file) // clickable from where the user stands
				e = &e2
			}
			shown = append(shown, e)
		}
		fmt.Fprintln(w, shown.Error())
	} else {
		fmt.Fprintf(w, "%s%s\n", prefix, err)
	}
	for _, h := range hints(err) {
		fmt.Fprintf(w, "%shint: %s\n", prefix, asTyped(h))
	}
}

// maxErrors is how many of a manifest's errors plugink prints.
const maxErrors = 20

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: plugink <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'plugink <command> -h' for a command's flags. "+flagsAnywhere)
}

// parse parses args into fs, flags before, between or after the
// arguments, as go test takes its own; "--" ends the flags. A bad flag is
// a usage error (already printed). fs.Args() are then the arguments.
func parse(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard) // the flag package's own words and usage: said below instead
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = usage }()
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				usage()
				return err
			}
			badFlag(out, fs, err)
			return errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// fs.Parse stops at an argument, or past "--": then all the rest
		// are arguments (a rest that starts with "-" is past it).
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" || len(rest[0]) > 1 && rest[0][0] == '-' {
			positional = append(positional, rest...)
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

// badFlag says what was wrong with a flag, the flag meant if one is close
// to the one given, and how to list the command's flags.
func badFlag(w io.Writer, fs *flag.FlagSet, err error) {
	name := strings.TrimPrefix(fs.Name(), "plugink ")
	fmt.Fprintf(w, "%s%s: %v\n", prefix, name, err)
	if given, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		best, bestDist := "", 3
		fs.VisitAll(func(f *flag.Flag) {
			if d := editDistance(given, f.Name); d < bestDist {
				best, bestDist = f.Name, d
			}
		})
		if best != "" {
			fmt.Fprintf(w, "%shint: did you mean -%s?\n", prefix, best)
		}
	}
	fmt.Fprintf(w, "%shint: %s %s -h lists its flags\n", prefix, invokedAs(), name)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// noArgs reports arguments after the flags of a command that takes none as
// a usage error.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s%s: unexpected argument %q\n", prefix, strings.TrimPrefix(fs.Name(), "plugink "), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}
