package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plugink/plugink/build"
	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/self"
	"github.com/plugink/plugink/internal/settings"
	"github.com/plugink/plugink/internal/signature"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/runtime"
)

// manifestFlags are the flags that locate the manifest.
type manifestFlags struct{ dir, manifest, tags string }

func (m *manifestFlags) register(fs *flag.FlagSet) {
	registerDir(fs, &m.dir)
	fs.StringVar(&m.manifest, "manifest", "", "the manifest's `file` (default plugink.yaml)")
}

// registerDir defines -C, which changes the directory first, as go -C
// does: every relative path the command gets is relative to it (what it
// prints is shown from where the user stands: see where).
func registerDir(fs *flag.FlagSet, dir *string) {
	fs.StringVar(dir, "C", "", "change to `dir` first, as go -C: the host package's directory, where plugink.yaml and the generated files are. Relative paths in other flags and arguments are read from there")
}

// start parses args into fs, refuses arguments unless takesArgs, and
// changes to dir (-C), returning the function that changes back.
func start(fs *flag.FlagSet, args []string, dir *string, takesArgs bool) (func(), error) {
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if !takesArgs {
		if err := noArgs(fs); err != nil {
			return nil, err
		}
	}
	return enter(*dir)
}

// enter changes to dir, if set, and returns a function that changes back.
func enter(dir string) (func(), error) {
	if dir == "" {
		return func() {}, nil
	}
	back, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if err := os.Chdir(dir); err != nil {
		return nil, runtime.WithHint(fmt.Errorf("-C: %w", err), "-C names the host package's directory, the one that holds plugink.yaml")
	}
	entered, _ = os.Getwd()
	return func() { os.Chdir(back) }, nil
}

// entered is the directory -C changed to in this run, "" if none: the
// directory the library's relative paths (a manifest's positions) are
// relative to, once the command has changed back.
var entered string

func (m *manifestFlags) options() gen.Options {
	o := gen.Options{Manifest: m.manifest}
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
	back, err := start(fs, args, &mf.dir, false)
	if err != nil {
		return err
	}
	defer back()
	w := here(ctx)
	files, _, err := gen.Generate(ctx, mf.options())
	if err != nil {
		return w.explainPath(fs, "-manifest", mf.manifest, err)
	}
	if !*check {
		return gen.WriteFiles(files)
	}
	if fromHere(w, files) {
		back() // the files' paths are now relative to where the user stands
	}
	stale, err := gen.Stale(files)
	if err != nil {
		return err
	}
	var paths []string
	for _, d := range stale {
		if _, err := fmt.Fprint(stdout, d.Diff); err != nil {
			return err
		}
		paths = append(paths, w.show(d.Path))
	}
	if len(stale) == 0 {
		return nil
	}
	fmt.Fprintf(fs.Output(), "%sgen -check: %s out of date: %s\n", prefix, count(len(stale), "generated file"), strings.Join(paths, ", "))
	fmt.Fprintf(fs.Output(), "%shint: regenerate them: %s\n", prefix, w.command(fs, "", dropFlags("check")))
	return errStale
}

// fromHere makes the paths of files relative to where the user stands, if
// they are all under it, so that a diff of them applies there (git apply);
// it reports whether it did.
func fromHere(w *where, files []gen.File) bool {
	rels := make([]string, len(files))
	for i, f := range files {
		rel, ok := w.rel(f.Path)
		if !ok || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return false
		}
		rels[i] = rel
	}
	for i := range files {
		files[i].Path = rels[i]
	}
	return true
}

// count returns "1 thing" or "n things".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func runBuild(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	w := here(ctx)
	var mf manifestFlags
	mf.register(fs)
	var hf hostFlags
	hf.register(fs, "build for this host `binary`: its settings, its module versions when the plugins' module is not the host's, and a check that every plugin loads into it (default: the settings of a plain go build, GOFLAGS included)")
	race := fs.Bool("race", false, "build with -race (for a host built with -race)")
	trimpath := fs.Bool("trimpath", false, "build with -trimpath (for a host built with -trimpath)")
	fs.StringVar(&mf.tags, "tags", "", "comma-separated build `tags` (with -host, the host's are used, and -tags may only repeat them)")
	jobs := fs.Int("j", 0, "plugins to build at once (default GOMAXPROCS)")
	force := fs.Bool("force", false, "rebuild plugins whose inputs did not change")
	sign := fs.String("sign", "", "sign each plugin file, built or kept, with the private key `keyfile` (plugink keygen): writes <file>.sig beside it, and signs again a kept file whose .sig is not this key's signature of it. Without -sign, the .sig of a rebuilt file is removed (it is another file's); a kept file's is left alone")
	verbose := fs.Bool("v", false, "print each plugin's go build command as it starts, after a line cd <dir> that says where it runs")
	goX := fs.Bool("x", false, "pass -x to go build, and print what it prints: every command it runs")
	process := fs.Bool("process", false, "build an executable (<kind>_<name>) for every plugin whose kind can cross a process, for a host built with -tags plugink_process, instead of a .so; a plugin with mode: process is built as one in any case. GOOS, GOARCH and CGO_ENABLED choose its platform")
	showProgress := fs.Bool("progress", w.terminal, "print a line on standard error as each plugin's build starts (its line on standard output says when it ends, with its time); the default when standard error is a terminal")
	back, err := start(fs, args, &mf.dir, true)
	if err != nil {
		return err
	}
	defer back()
	if *jobs < 0 {
		fmt.Fprintf(fs.Output(), "%sbuild: -j %d: want a number of plugins, or 0 for GOMAXPROCS\n", prefix, *jobs)
		return errUsage
	}
	m, err := gen.ReadManifest(mf.options().ManifestPath())
	if err != nil {
		return w.explainPath(fs, "-manifest", mf.manifest, err)
	}
	stderr := &syncWriter{w: fs.Output()}
	o := build.Options{Names: fs.Args(), Jobs: *jobs, Force: *force, Tags: mf.options().Tags, Progress: progress(stdout, w), Sign: *sign, Process: *process,
		Warn: func(msg string) { fmt.Fprintf(stdout, "%swarning: %s\n", prefix, msg) }}
	if *showProgress {
		o.Started = progressLines(stderr)
	}
	if *verbose || *goX {
		o.Loader.Verbose = stderr
	}
	if *goX {
		o.Loader.Flags = append(o.Loader.Flags, "-x")
	}
	if err := hf.read(fs, w, "build", mf.tags, &o); err != nil {
		return err
	}
	if hf.host != "" {
		mf.tags = "" // the host's, in o.Tags and the host's settings
	}
	if *race {
		o.Loader.Flags = append(o.Loader.Flags, "-race")
	}
	if *trimpath {
		o.Loader.Flags = append(o.Loader.Flags, "-trimpath")
	}
	if mf.tags != "" {
		o.Loader.Flags = append(o.Loader.Flags, "-tags="+mf.tags)
	}
	_, err = build.Plugins(ctx, m, o)
	err = w.explainPath(fs, "-sign", *sign, err)
	return buildHint(fs, w, hf.host, err)
}

// buildHint gives err, from building for the host binary host (if any), a
// hint that names the host, where the library's hint cannot.
func buildHint(fs *flag.FlagSet, w *where, host string, err error) error {
	var me *loader.MismatchError
	var he *build.HostInfoError
	switch {
	case err == nil || host == "":
		return err
	case errors.As(err, &he):
		return replaceHint(err, he.ErrorHint(), "the host binary is damaged or was not built by the go command; see what it records: go version -m "+shellQuote(w.show(host)))
	case !errors.As(err, &me):
		return err
	case !settingDiffers(me):
		// Only packages (or modules) differ, and the plugin was just built
		// from the sources here: the host binary is the one built from
		// others.
		return replaceHint(err, me.ErrorHint(), fmt.Sprintf("the plugins were built from the sources here, and %s from other sources of the packages named (an older or newer build): rebuild the host from these sources, then %s; or build the plugins from the host's own sources with -hostsrc",
			w.show(host), w.command(fs, "", nil)))
	case settingIn(me, os.Getenv("GOFLAGS")):
		return replaceHint(err, me.ErrorHint(), fmt.Sprintf("GOFLAGS adds %s to the host's settings: GOFLAGS= %s", os.Getenv("GOFLAGS"), w.command(fs, "", nil)))
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "race" || f.Name == "trimpath" || f.Name == "tags" })
	if given {
		return replaceHint(err, me.ErrorHint(), "-host gives the host's settings, and -race, -trimpath and -tags add to them: "+w.command(fs, "", dropFlags("race", "trimpath", "tags")))
	}
	return replaceHint(err, me.ErrorHint(), "the settings come from the host and the go environment (go env): compare the two files' builds: go version -m "+shellQuote(w.show(host))+" "+shellQuote(w.show(me.Path)))
}

// settingIn reports whether goflags (GOFLAGS) gives a setting that differs
// in me.
func settingIn(me *loader.MismatchError, goflags string) bool {
	for _, f := range strings.Fields(goflags) {
		name, _, _ := strings.Cut(f, "=")
		for _, d := range me.Diffs {
			if d.What == "-"+strings.TrimLeft(name, "-") {
				return true
			}
		}
	}
	return false
}

// settingDiffers reports whether the Go version or a build setting is
// among me's differences (not only modules and packages).
func settingDiffers(me *loader.MismatchError) bool {
	for _, d := range me.Diffs {
		if !strings.HasPrefix(d.What, "package ") && !strings.HasPrefix(d.What, "module ") {
			return true
		}
	}
	return false
}

// hostFlags are -host and -hostsrc, of build and list.
type hostFlags struct{ host, hostSrc string }

func (h *hostFlags) register(fs *flag.FlagSet, hostUsage string) {
	fs.StringVar(&h.host, "host", "", hostUsage)
	fs.StringVar(&h.hostSrc, "hostsrc", "", "the `dir`ectory of the host's main module, for a host built from source (version (devel)) that the plugins' module is not")
}

// read reads the -host binary, if any, into o: the host, its source, and
// its build tags to type-check the plugins with. A plugin loads only with
// its host's build tags, which the build takes from the host: tags (the
// -tags flag of cmd) may only repeat them.
func (h *hostFlags) read(fs *flag.FlagSet, w *where, cmd, tags string, o *build.Options) error {
	if h.host == "" {
		if h.hostSrc != "" {
			fmt.Fprintf(fs.Output(), "%s%s: -hostsrc without -host: it is the source of the -host binary\n", prefix, cmd)
			return errUsage
		}
		return nil
	}
	var err error
	if o.Host, err = loader.ReadHost(h.host); err != nil {
		return w.explainPath(fs, "-host", h.host, err)
	}
	o.Host.Path = w.show(h.host) // for messages
	if h.hostSrc != "" {
		if _, err := os.Stat(h.hostSrc); err != nil {
			return w.explainPath(fs, "-hostsrc", h.hostSrc, fmt.Errorf("-hostsrc: %w", err))
		}
	}
	o.HostSource = h.hostSrc
	hostTags := settings.Get(o.Host.BuildInfo, "-tags")
	if tags != "" && !sameTags(tags, hostTags) {
		fmt.Fprintf(fs.Output(), "%s%s: -tags %s: the plugins are built with the host's build tags (%s), as a plugin built with others does not load into it\n", prefix, cmd, runtime.Quote(tags), runtime.Quote(hostTags))
		return errUsage
	}
	o.Tags = nil
	if hostTags != "" {
		o.Tags = strings.Split(hostTags, ",")
	}
	return nil
}

// sameTags reports whether the comma-separated tag lists a and b hold the
// same tags.
func sameTags(a, b string) bool {
	set := func(s string) []string {
		tags := slices.DeleteFunc(strings.Split(s, ","), func(t string) bool { return t == "" })
		slices.Sort(tags)
		return slices.Compact(tags)
	}
	return slices.Equal(set(a), set(b))
}

// progress prints one line per plugin built, its file as the user can
// use it from where they stand.
func progress(w io.Writer, from *where) func(build.Result) {
	return func(r build.Result) {
		if r.Removed {
			fmt.Fprintf(w, "%-10s %s (no longer in the manifest)\n", "removed", from.show(r.File))
			return
		}
		state := "built"
		switch {
		case r.Err != nil:
			state = "FAILED"
		case r.Cached:
			state = "up to date"
		}
		fmt.Fprintf(w, "%-10s %s -> %s (%s)%s\n", state, r.Plugin, from.show(r.File), r.Duration.Round(time.Millisecond), signed(r))
	}
}

// progressLines returns the function of build.Options that prints, on w,
// a line as each plugin's build starts: the line on standard output says
// when it ends, and in what time.
func progressLines(w io.Writer) func(*gen.PluginDecl) {
	return func(p *gen.PluginDecl) { fmt.Fprintf(w, "building %s...\n", p) }
}

// signed says what a build did to a plugin file's signature, if anything.
func signed(r build.Result) string {
	switch {
	case r.Err != nil:
		return ""
	case r.SignedBy != "" && r.SigChanged:
		return ", signed by key " + r.SignedBy
	case r.SignedBy != "":
		return ", signature by key " + r.SignedBy + " current"
	case r.SigChanged:
		return ", its old .sig removed"
	}
	return ""
}

func runKeygen(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var dir string
	registerDir(fs, &dir)
	name := fs.String("o", "", "write the key pair to `name`.key (the private key, mode 0600: keep it secret and out of version control) and name.pub; neither may exist")
	back, err := start(fs, args, &dir, false)
	if err != nil {
		return err
	}
	defer back()
	if *name == "" {
		fmt.Fprintf(fs.Output(), "%skeygen: -o is required: the name of the key files to write\n", prefix)
		fs.Usage()
		return errUsage
	}
	w := here(ctx)
	kf, err := signature.WriteKeyPair(*name)
	if err != nil {
		return runtime.WithHint(err, fmt.Sprintf("choose another name, or remove %[1]s.key and %[1]s.pub first (hosts that pin the old key then refuse what a new one signs)", *name))
	}
	manifest, gen, sign := "plugink.yaml", "plugink gen", "plugink build -sign "+shellQuote(w.show(kf.Private))
	if dir != "" { // commands to paste where the user stands: -sign is read relative to -C, as -o was
		manifest, gen = w.show("plugink.yaml"), "plugink gen -C "+shellQuote(dir)
		sign = "plugink build -C " + shellQuote(dir) + " -sign " + shellQuote(kf.Private)
	}
	_, err = fmt.Fprintf(stdout, `wrote %s (the private key: keep it secret, out of version control) and %s (key ID %s)

Next: pin the public key in %s, then regenerate (%s):

dynamic:
  trusted_keys:
    - %s

and sign the plugins as you build them:

%s
`, w.show(kf.Private), w.show(kf.Public), kf.KeyID, manifest, gen, kf.PublicKey, sign)
	return err
}

func runList(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var mf manifestFlags
	mf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	var hf hostFlags
	hf.register(fs, "also check whether each plugin file would load into this host `binary`, and compare inputs with what a build for it would use (list exits 0 whatever it finds, unless -check)")
	check := fs.Bool("check", false, "exit 1 unless every enabled plugin is built, recorded in plugink.sum, built from its current inputs (sources and settings) and, with -host, fits the host: print each plugin that is not, and why, on standard error; else one line")
	process := fs.Bool("process", false, "list the executable of each plugin whose kind can cross a process, as plugink build -process makes them for a host built with -tags plugink_process (a plugin with mode: process is listed so in any case)")
	back, err := start(fs, args, &mf.dir, false)
	if err != nil {
		return err
	}
	defer back()
	w := here(ctx)
	m, err := gen.ReadManifest(mf.options().ManifestPath())
	if err != nil {
		return w.explainPath(fs, "-manifest", mf.manifest, err)
	}
	o := build.Options{Process: *process}
	if err := hf.read(fs, w, "list", "", &o); err != nil {
		return err
	}
	st, err := build.List(ctx, m, o)
	if err != nil {
		return err
	}
	st.Manifest = w.show(st.Manifest) // paths as the user can use them from where they stand
	for i := range st.Plugins {
		st.Plugins[i].File = w.show(st.Plugins[i].File)
	}
	switch {
	case *asJSON:
		err = writeJSON(stdout, st)
	case !*check:
		err = writeList(stdout, st, hf.host != "")
	}
	if err != nil || !*check {
		return err
	}
	return checkList(fs, w, stdout, st, o.Host, *asJSON)
}

// checkList is list -check: it prints each enabled plugin of st that is
// not built, recorded, current and fit for host (if any), and why, and
// returns errStale; else, unless quiet, it prints one line.
func checkList(fs *flag.FlagSet, w *where, stdout io.Writer, st *build.Status, host *loader.Host, quiet bool) error {
	enabled, current, processes := 0, 0, 0
	for _, p := range st.Plugins {
		if p.Disabled {
			continue
		}
		enabled++
		if p.Process {
			processes++
		}
		var why []string
		switch {
		case p.Package != "ok":
			why = append(why, fmt.Sprintf("package %s: %s", p.Path, p.Package))
		case !p.Built:
			why = append(why, "not built: no "+p.File)
		}
		switch p.Checksum {
		case "", "ok":
		case "modified":
			why = append(why, p.File+" is not the file plugink.sum records (modified since it was built)")
		case "unrecorded":
			why = append(why, "no plugink.sum lists "+p.File)
		default:
			why = append(why, fmt.Sprintf("%s: checksum %s", p.File, p.Checksum))
		}
		if p.Inputs == "changed" {
			why = append(why, "its inputs changed since "+p.File+" was built (sources or settings)")
		}
		if p.Fits != "" && p.Fits != "yes" {
			why = append(why, fmt.Sprintf("would not load into %s: %s", host.Path, p.Fits))
		}
		if len(why) == 0 {
			current++
			continue
		}
		fmt.Fprintf(fs.Output(), "%s%s/%s: %s\n", prefix, p.Type, p.Name, strings.Join(why, "; "))
	}
	if current < enabled {
		fmt.Fprintf(fs.Output(), "%shint: %s\n", prefix, w.command(fs, "build", dropFlags("json", "check")))
		return errStale
	}
	if quiet {
		return nil
	}
	fits := ""
	if host != nil {
		fits = ", fits " + host.Path
	}
	exec := ""
	if processes > 0 {
		// An executable records no inputs, and fits any host of its
		// interface's shape, which only its start checks.
		exec = fmt.Sprintf(" (%s run as processes: built and recorded; their inputs and shape are checked when they start, not here)", count(processes, "plugin"))
	}
	_, err := fmt.Fprintf(stdout, "list -check: %s current: built, recorded in plugink.sum, inputs unchanged%s%s\n", count(current, "plugin"), fits, exec)
	return err
}

// writeList prints st as two tables, kinds and plugins.
func writeList(w io.Writer, st *build.Status, fits bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tBINDS")
	for _, k := range st.Kinds {
		fmt.Fprintf(tw, "%s\t%s\n", k.Name, k.Var)
	}
	fmt.Fprint(tw, "\nPLUGIN\tPACKAGE\tSO\tCHECKSUM\tINPUTS")
	if fits {
		fmt.Fprint(tw, "\tFITS HOST")
	}
	fmt.Fprintln(tw)
	for _, p := range st.Plugins {
		so := "not built"
		if p.Built {
			so = p.File
		}
		if p.Process {
			so += " (executable)"
		}
		name := p.Type + "/" + p.Name
		if p.Disabled {
			name += " (disabled)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s", name, p.Package, so, orDash(p.Checksum), orDash(p.Inputs))
		if fits {
			fmt.Fprintf(tw, "\t%s", orDash(p.Fits))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runVersion(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	v := self.PluginkVersion()
	if v == "" {
		v = "(devel)"
	}
	_, err := fmt.Fprintf(stdout, "plugink %s %s\n", v, goruntime.Version())
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
