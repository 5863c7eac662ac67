package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/runtime"
)

// inspectView is what `plugink inspect` shows of a plugin file; its JSON
// form is the -json output.
type inspectView struct {
	File       string `json:"file"`
	PluginPath string `json:"pluginpath"`
	SHA256     string `json:"sha256"`
	// Checksum is how the file stands against the plugink.sum beside it:
	// ok, modified, unrecorded.
	Checksum  string            `json:"checksum"`
	Plugink   string            `json:"plugink,omitempty"`
	Config    *configView       `json:"config"`
	GoVersion string            `json:"goversion,omitempty"`
	Settings  map[string]string `json:"settings,omitempty"`
	// Fits is "" without -host, "yes", or why the plugin does not fit.
	Fits string `json:"fits,omitempty"`

	host  string // the -host binary
	build string // the build information, as go version -m prints it
	fit   error  // the preflight's verdict
}

// configView is a plugin's Config as inspect shows it.
type configView struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Path    string `json:"path"`
	NewFunc any    `json:"newfunc"`
}

func runInspect(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var dir string
	registerDir(fs, &dir)
	asJSON := fs.Bool("json", false, "print JSON")
	host := fs.String("host", "", "check whether the plugin fits this host `binary`")
	back, err := start(fs, args, &dir, true)
	if err != nil {
		return err
	}
	defer back()
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	w := here(ctx)
	v, err := inspect(fs.Arg(0), *host)
	if err != nil {
		return w.explainPath(fs, "inspect", fs.Arg(0), w.explainPath(fs, "-host", *host, err))
	}
	v.File, v.host = w.show(v.File), w.show(v.host) // as the user can use them from where they stand
	render := renderInspectText
	if *asJSON {
		render = func(w io.Writer, v *inspectView) error { return writeJSON(w, v) }
	}
	if err := render(stdout, v); err != nil {
		return err
	}
	if v.fit != nil {
		for _, h := range rebuildHint(w, fs.Arg(0), *host, v.fit) {
			fmt.Fprintf(fs.Output(), "%shint: %s\n", prefix, h)
		}
		return errStale
	}
	return nil
}

// rebuildHint returns the hints after inspect -host found that file does
// not fit host: the command that rebuilds it for host, if file is in the
// plugin directory beside a manifest (plugins/ next to plugink.yaml); else
// fit's own.
func rebuildHint(w *where, file, host string, fit error) []string {
	dir := filepath.Dir(filepath.Dir(file))
	if _, err := os.Stat(filepath.Join(dir, gen.ManifestFile)); err != nil {
		return runtime.Hints(fit)
	}
	hostFromDir, err := filepath.Rel(absPath(dir), absPath(host))
	if err != nil {
		return runtime.Hints(fit)
	}
	cmd := "plugink build"
	if shown := w.show(dir); shown != "." {
		cmd += " -C " + shellQuote(shown)
	}
	return []string{"rebuild it for this host: " + cmd + " -host " + shellQuote(hostFromDir)}
}

// absPath returns path made absolute, or as it is if it cannot be.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// inspect reads the plugin file and, with a host binary, checks the fit.
func inspect(file, host string) (*inspectView, error) {
	info, err := loader.Inspect(file)
	if err != nil {
		return nil, err
	}
	v := &inspectView{File: info.File, PluginPath: info.PluginPath, SHA256: info.SHA256, Plugink: info.Plugink, host: host}
	sums, err := sums.Read(filepath.Join(filepath.Dir(file), sums.FileName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	v.Checksum = sums.Status(file)
	if c := info.Config; c != nil {
		v.Config = &configView{Name: c.Name, Type: c.Type, Path: c.Path, NewFunc: c.NewFunc}
	}
	if bi := info.BuildInfo; bi != nil {
		v.GoVersion, v.build, v.Settings = bi.GoVersion, bi.String(), map[string]string{}
		for _, s := range bi.Settings {
			v.Settings[s.Key] = s.Value
		}
	}
	if host == "" {
		return v, nil
	}
	h, err := loader.ReadHost(host)
	if err != nil {
		return nil, err
	}
	v.fit, v.Fits = loader.Preflight(file, h), "yes"
	if v.fit != nil {
		v.Fits = v.fit.Error()
	}
	return v, nil
}

// renderInspectText prints v for a person.
func renderInspectText(w io.Writer, v *inspectView) error {
	var b strings.Builder
	fmt.Fprintf(&b, "file:       %s\npluginpath: %s\nsha256:     %s\nchecksum:   %s (against the plugink.sum beside it)\n", v.File, v.PluginPath, v.SHA256, v.Checksum)
	if c := v.Config; c != nil {
		fmt.Fprintf(&b, "config:     Name=%q Type=%q Path=%q NewFunc=%v (plugink %s)\n", c.Name, c.Type, c.Path, c.NewFunc, v.Plugink)
	} else {
		b.WriteString("config:     none (not built by plugink)\n")
	}
	if v.build != "" {
		fmt.Fprintf(&b, "build:\n%s", indent(v.build))
	}
	switch {
	case v.host == "":
		b.WriteString("fits host:  (no -host given)\n")
	case v.fit == nil:
		fmt.Fprintf(&b, "fits host:  yes (%s)\n", v.host)
	default:
		fmt.Fprintf(&b, "fits host:  no\n%s", indent(v.fit.Error()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}
