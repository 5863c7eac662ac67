package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/gen/scaffold"
	"github.com/plugink/plugink/runtime"
)

func runNew(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var mf manifestFlags
	mf.register(fs)
	dir := fs.String("dir", "", "the new package's directory `path` (default <kind>/<name> beside the manifest); it must not exist, and must be in the host's module")
	w := here(ctx)
	back, err := start(fs, args, &mf.dir, true)
	if err != nil {
		return err
	}
	defer back()
	if fs.NArg() != 2 {
		fs.Usage()
		return errUsage
	}
	res, err := scaffold.NewPlugin(ctx, scaffold.NewOptions{Options: mf.options(), Kind: fs.Arg(0), Name: fs.Arg(1), PkgDir: *dir, HintDir: mf.dir})
	if err == nil {
		err = res.Write()
	}
	if err != nil {
		return existing(w, w.explainPath(fs, "-manifest", mf.manifest, err))
	}
	return writeNew(stdout, res, w)
}

// writeNew says what new wrote, and how to build and select the plugin.
func writeNew(out io.Writer, res *scaffold.NewResult, w *where) error {
	p, k := res.Plugin, res.Kind
	var b strings.Builder
	fmt.Fprintf(&b, "wrote %s (package %s, %s): %s, of type %s\n", w.show(res.GoFile), res.Package, p.Path, p.NewFunc, gen.TypeString(k.Constructor))
	var generated []string
	for _, f := range res.Files[2:] {
		generated = append(generated, w.show(f.Path))
	}
	if len(generated) == 0 { // a manifest only to build plugins from
		fmt.Fprintf(&b, "added plugin %s (%s) to %s (no Go package beside it: nothing generated)\n\n", p.Name, p.Type, w.show(res.Manifest.File))
		fmt.Fprintf(&b, "Next: fill in the stubs in %s; then build its .so: plugink build", w.show(res.GoFile))
		if dir := w.show("."); dir != "." {
			fmt.Fprintf(&b, " -C %s", shellQuote(dir))
		}
		fmt.Fprintf(&b, " %s/%s\n", p.Type, p.Name)
		_, err := io.WriteString(out, b.String())
		return err
	}
	fmt.Fprintf(&b, "added plugin %s (%s) to %s; regenerated %s\n\n", p.Name, p.Type, w.show(res.Manifest.File), strings.Join(generated, ", "))
	fmt.Fprintf(&b, "Next: fill in the stubs in %s; then build the program and select %s\n", w.show(res.GoFile), p.Name)
	if k.IsMap {
		fmt.Fprintf(&b, "as it selects a key of %s.%s (--%s=%s, if its flag is --%s):\n\n", k.PkgName, k.Var, k.Name, p.Name, k.Name)
	} else {
		fmt.Fprintf(&b, "with --%s=%s or %s=%s (%s.%s.RegisterFlag and Select):\n\n", k.Name, p.Name, runtime.EnvVar(k.Name), p.Name, k.PkgName, k.Var)
	}
	if dir := w.show("."); dir != "." {
		fmt.Fprintf(&b, "cd %s\n", shellQuote(dir))
	}
	bin := "svc"
	if wd, err := os.Getwd(); err == nil && filepath.Base(wd) != string(filepath.Separator) {
		bin = filepath.Base(wd)
	}
	run := fmt.Sprintf("./%s --%s=%s", bin, k.Name, p.Name)
	static := fmt.Sprintf("go build -o %s . && %s", bin, run)
	dynamic := fmt.Sprintf("go build -tags %s -o %s . && %s build -host %s && %s", runtime.DynamicTag, bin, invokedAs(), bin, run)
	lines := [][2]string{{static, "compiled in"}, {dynamic, "loaded from " + path.Join(res.Manifest.DynamicDir, p.FileName())}}
	if k.Glue != nil {
		process := fmt.Sprintf("go mod tidy && go build -tags %s -o %s . && %s build -process && %s", runtime.ProcessTag, bin, invokedAs(), run)
		lines = append(lines, [2]string{process, "a child process: " + path.Join(res.Manifest.DynamicDir, p.ExecutableName(""))})
	}
	width := 0
	for _, l := range lines {
		width = max(width, len(l[0]))
	}
	for _, l := range lines {
		fmt.Fprintf(&b, "%-*s  # %s\n", width, l[0], l[1])
	}
	_, err := io.WriteString(out, b.String())
	return err
}
