package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/loader"
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

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error
}

var commands = []command{
	{"gen", "[-C dir] [-manifest file] [-tags t,...] [-check]", "validate the manifest and write the static and dynamic registration files", runGen},
	{"build", "[-C dir] [-manifest file] [-host binary] [-race] [-trimpath] [-tags t,...] [-j n] [-force] [name|kind/name...]", "build the manifest's plugins as .so files and record their checksums", runBuild},
	{"list", "[-C dir] [-manifest file] [-json]", "show kinds and plugins with their status", runList},
	{"inspect", "[-json] [-host binary] file.so", "show a plugin file's Config and build, and whether it fits a host", runInspect},
	{"version", "", "print plugink's version", runVersion},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; it never panics out.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "plugink: internal error (please report): %v\n%s", r, debug.Stack())
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
	var cmd *command
	for i := range commands {
		if commands[i].name == args[0] {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "plugink: unknown command %q\n", args[0])
		usage(stderr)
		return exitError
	}
	fs := flag.NewFlagSet("plugink "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: plugink %s %s\n\n%s.\n\nFlags:\n", cmd.name, cmd.args, cmd.summary)
		fs.PrintDefaults()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := cmd.run(ctx, fs, args[1:], stdout)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errStale):
		return exitStale
	case errors.Is(err, errUsage):
		return exitError
	}
	var list gen.ErrorList
	if errors.As(err, &list) {
		fmt.Fprintln(stderr, list.Error()) // file:line:col: message, one a line
	} else if msg := err.Error(); strings.HasPrefix(msg, "plugink: ") {
		fmt.Fprintln(stderr, msg) // the library's error names its operation
	} else {
		fmt.Fprintf(stderr, "plugink %s: %s\n", cmd.name, msg)
	}
	return exitError
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: plugink <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'plugink <command> -h' for a command's flags.")
}

// parse parses args into fs; a bad flag is a usage error (already printed).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// noArgs reports arguments after the flags of a command that takes none as
// a usage error.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "plugink %s: unexpected argument %q\n", strings.TrimPrefix(fs.Name(), "plugink "), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// manifestFlags are the flags that locate the manifest.
type manifestFlags struct{ dir, manifest, tags string }

func (m *manifestFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.dir, "C", ".", "the host package's `dir`ectory: where plugink.yaml and the generated files are")
	fs.StringVar(&m.manifest, "manifest", "", "the manifest's `file`, relative to -C's dir (default plugink.yaml)")
}

func (m *manifestFlags) options() gen.Options {
	o := gen.Options{Dir: m.dir, Manifest: m.manifest}
	if o.Manifest != "" && !filepath.IsAbs(o.Manifest) {
		o.Manifest = filepath.Join(m.dir, o.Manifest) // as go -C: paths are relative to dir
	}
	if m.tags != "" {
		o.Tags = strings.Split(m.tags, ",")
	}
	return o
}

func runGen(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var mf manifestFlags
	mf.register(fs)
	fs.StringVar(&mf.tags, "tags", "", "comma-separated build `tags` to load packages with")
	check := fs.Bool("check", false, "write nothing; exit 1 with a diff if the generated files are not current")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	files, _, err := gen.Generate(ctx, mf.options())
	if err != nil {
		return err
	}
	if !*check {
		return gen.WriteFiles(files)
	}
	stale, err := gen.Stale(files)
	if err != nil {
		return err
	}
	for _, d := range stale {
		fmt.Fprint(stdout, d.Diff)
	}
	if len(stale) > 0 {
		fmt.Fprintf(stdout, "plugink: %d generated file(s) out of date; run go generate (plugink gen)\n", len(stale))
		return errStale
	}
	return nil
}

func runBuild(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var mf manifestFlags
	mf.register(fs)
	host := fs.String("host", "", "build for this host `binary`'s settings (default: plugink's own, which match a plain go build)")
	race := fs.Bool("race", false, "build with -race (for a host built with -race)")
	trimpath := fs.Bool("trimpath", false, "build with -trimpath (for a host built with -trimpath)")
	tags := fs.String("tags", "", "extra comma-separated build `tags`")
	jobs := fs.Int("j", 0, "plugins to build at once (default GOMAXPROCS)")
	force := fs.Bool("force", false, "rebuild plugins whose inputs did not change")
	if err := parse(fs, args); err != nil {
		return err
	}
	m, err := gen.ReadManifest(mf.options().ManifestPath())
	if err != nil {
		return err
	}
	bo := gen.BuildOptions{Names: fs.Args(), Jobs: *jobs, Force: *force}
	if *host != "" {
		if bo.Loader.Host, err = loader.ReadBuildInfo(*host); err != nil {
			return err
		}
	}
	if *race {
		bo.Loader.Flags = append(bo.Loader.Flags, "-race")
	}
	if *trimpath {
		bo.Loader.Flags = append(bo.Loader.Flags, "-trimpath")
	}
	if *tags != "" {
		bo.Loader.Flags = append(bo.Loader.Flags, "-tags="+*tags)
	}
	bo.Progress = func(r gen.BuildResult) {
		state := "built"
		switch {
		case r.Err != nil:
			state = "FAILED"
		case r.Cached:
			state = "up to date"
		}
		fmt.Fprintf(stdout, "%-10s %s/%s -> %s (%s)\n", state, r.Plugin.Type, r.Plugin.Name, r.File, r.Duration.Round(time.Millisecond))
	}
	_, err = gen.BuildPlugins(ctx, m, bo)
	return err
}

func runList(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var mf manifestFlags
	mf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	m, err := gen.ReadManifest(mf.options().ManifestPath())
	if err != nil {
		return err
	}
	st, err := gen.ListStatus(ctx, m, "")
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, st)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	stdout = tw
	fmt.Fprintln(stdout, "KIND\tBINDS")
	for _, k := range st.Kinds {
		fmt.Fprintf(stdout, "%s\t%s\n", k.Name, k.Var)
	}
	fmt.Fprintln(stdout, "\nPLUGIN\tPACKAGE\tSO\tCHECKSUM")
	for _, p := range st.Plugins {
		so := "not built"
		if p.Built {
			so = filepath.Base(p.File)
		}
		name := p.Type + "/" + p.Name
		if p.Disabled {
			name += " (disabled)"
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", name, p.Package, so, orDash(p.Checksum))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runInspect(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	asJSON := fs.Bool("json", false, "print JSON")
	host := fs.String("host", "", "check whether the plugin fits this host `binary`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	info, err := loader.Inspect(fs.Arg(0))
	if err != nil {
		return err
	}
	var fit error
	fits := ""
	if *host != "" {
		bi, err := loader.ReadBuildInfo(*host)
		if err != nil {
			return err
		}
		fit = loader.Preflight(fs.Arg(0), bi)
		fits = "yes"
		if fit != nil {
			fits = fit.Error()
		}
	}
	if *asJSON {
		type config struct {
			Name    string `json:"name"`
			Type    string `json:"type"`
			Path    string `json:"path"`
			NewFunc any    `json:"newfunc"`
		}
		out := struct {
			File       string            `json:"file"`
			PluginPath string            `json:"pluginpath"`
			SHA256     string            `json:"sha256"`
			Plugink    string            `json:"plugink,omitempty"`
			Config     *config           `json:"config"`
			GoVersion  string            `json:"goversion,omitempty"`
			Settings   map[string]string `json:"settings,omitempty"`
			Fits       string            `json:"fits,omitempty"`
		}{File: info.File, PluginPath: info.PluginPath, SHA256: info.SHA256, Plugink: info.Plugink, Fits: fits}
		if c := info.Config; c != nil {
			out.Config = &config{Name: c.Name, Type: c.Type, Path: c.Path, NewFunc: c.NewFunc}
		}
		if info.BuildInfo != nil {
			out.GoVersion = info.BuildInfo.GoVersion
			out.Settings = map[string]string{}
			for _, s := range info.BuildInfo.Settings {
				out.Settings[s.Key] = s.Value
			}
		}
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "file:       %s\npluginpath: %s\nsha256:     %s\n", info.File, info.PluginPath, info.SHA256)
		if c := info.Config; c != nil {
			fmt.Fprintf(stdout, "config:     Name=%q Type=%q Path=%q NewFunc=%v (plugink %s)\n", c.Name, c.Type, c.Path, c.NewFunc, info.Plugink)
		} else {
			fmt.Fprintln(stdout, "config:     none (not built by plugink)")
		}
		if info.BuildInfo != nil {
			fmt.Fprintf(stdout, "build:\n%s", indent(info.BuildInfo.String()))
		}
		switch {
		case *host == "":
			fmt.Fprintln(stdout, "fits host:  (no -host given)")
		case fit == nil:
			fmt.Fprintf(stdout, "fits host:  yes (%s)\n", *host)
		default:
			fmt.Fprintf(stdout, "fits host:  no\n%s\n", indent(fit.Error()))
		}
	}
	if fit != nil {
		return errStale
	}
	return nil
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

func runVersion(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	v := loader.Version()
	if v == "" {
		v = "(devel)"
	}
	bi, _ := debug.ReadBuildInfo()
	goVersion := ""
	if bi != nil {
		goVersion = bi.GoVersion
	}
	fmt.Fprintf(stdout, "plugink %s %s\n", v, goVersion)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
