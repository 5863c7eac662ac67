package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plugink/plugink/build"
	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/self"
	"github.com/plugink/plugink/internal/settings"
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
// does: every relative path the command gets or prints is relative to it.
func registerDir(fs *flag.FlagSet, dir *string) {
	fs.StringVar(dir, "C", "", "change to `dir` first, as go -C: the host package's directory, where plugink.yaml and the generated files are")
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
	return func() { os.Chdir(back) }, nil
}

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
		if _, err := fmt.Fprint(stdout, d.Diff); err != nil {
			return err
		}
	}
	if len(stale) > 0 {
		fmt.Fprintf(stdout, "%s%d generated file(s) out of date; run go generate (plugink gen)\n", prefix, len(stale))
		return errStale
	}
	return nil
}

func runBuild(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
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
		return err
	}
	o := build.Options{Names: fs.Args(), Jobs: *jobs, Force: *force, Tags: mf.options().Tags, Progress: progress(stdout), Sign: *sign,
		Warn: func(msg string) { fmt.Fprintf(stdout, "%swarning: %s\n", prefix, msg) }}
	if err := hf.read(fs, "build", mf.tags, &o); err != nil {
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
	return err
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
func (h *hostFlags) read(fs *flag.FlagSet, cmd, tags string, o *build.Options) error {
	if h.host == "" {
		if h.hostSrc != "" {
			fmt.Fprintf(fs.Output(), "%s%s: -hostsrc without -host: it is the source of the -host binary\n", prefix, cmd)
			return errUsage
		}
		return nil
	}
	var err error
	if o.Host, err = loader.ReadHost(h.host); err != nil {
		return err
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

// progress prints one line per plugin built.
func progress(w io.Writer) func(build.Result) {
	return func(r build.Result) {
		if r.Removed {
			fmt.Fprintf(w, "%-10s %s (no longer in the manifest)\n", "removed", r.File)
			return
		}
		state := "built"
		switch {
		case r.Err != nil:
			state = "FAILED"
		case r.Cached:
			state = "up to date"
		}
		fmt.Fprintf(w, "%-10s %s -> %s (%s)%s\n", state, r.Plugin, r.File, r.Duration.Round(time.Millisecond), signed(r))
	}
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
	kf, err := build.GenerateKey(*name)
	if err != nil {
		return runtime.WithHint(err, fmt.Sprintf("choose another name, or remove %[1]s.key and %[1]s.pub first (hosts that pin the old key then refuse what a new one signs)", *name))
	}
	_, err = fmt.Fprintf(stdout, `wrote %s (the private key: keep it secret, out of version control) and %s (key ID %s)

Next: pin the public key in plugink.yaml, then regenerate (plugink gen):

dynamic:
  trusted_keys:
    - %s

and sign the plugins as you build them:

plugink build -sign %s
`, kf.Private, kf.Public, kf.KeyID, kf.PublicKey, kf.Private)
	return err
}

func runList(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var mf manifestFlags
	mf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	var hf hostFlags
	hf.register(fs, "also check whether each plugin file would load into this host `binary`, and compare inputs with what a build for it would use")
	back, err := start(fs, args, &mf.dir, false)
	if err != nil {
		return err
	}
	defer back()
	m, err := gen.ReadManifest(mf.options().ManifestPath())
	if err != nil {
		return err
	}
	var o build.Options
	if err := hf.read(fs, "list", "", &o); err != nil {
		return err
	}
	st, err := build.List(ctx, m, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, st)
	}
	return writeList(stdout, st, hf.host != "")
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
			so = filepath.Base(p.File)
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
	goVersion := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	_, err := fmt.Fprintf(stdout, "plugink %s %s\n", v, goVersion)
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
