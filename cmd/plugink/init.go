package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/gen/emit"
	"github.com/plugink/plugink/gen/scaffold"
)

// kindFlags are init's -kind flags.
type kindFlags []scaffold.KindSpec

func (k *kindFlags) String() string {
	var s []string
	for _, spec := range *k {
		s = append(s, spec.String())
	}
	return strings.Join(s, " ")
}

func (k *kindFlags) Set(s string) error {
	spec, err := scaffold.ParseKindSpec(s)
	if err != nil {
		return err
	}
	*k = append(*k, spec)
	return nil
}

func runInit(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer) error {
	var dir string
	registerDir(fs, &dir)
	var kinds kindFlags
	fs.Var(&kinds, "kind", "declare the kind `name=import/path.Var` (repeat for more) instead of each kind init finds; for a variable init finds, package.Var will do (-kind rpc=client.DefaultClients)")
	w := here(ctx)
	back, err := start(fs, args, &dir, false)
	if err != nil {
		return err
	}
	defer back()
	res, err := scaffold.Init(ctx, scaffold.InitOptions{Kinds: kinds, HintDir: dir})
	if err == nil {
		err = res.Write()
	}
	if err != nil {
		return existing(w, err)
	}
	return writeInit(stdout, res, dir, w)
}

// existing shows the path of an ExistsError in err as the user can use it
// from where they stand.
func existing(w *where, err error) error {
	var e *scaffold.ExistsError
	if errors.As(err, &e) {
		e.Path = w.show(e.Path)
	}
	return err
}

// writeInit says what init wrote and what to do next.
func writeInit(out io.Writer, res *scaffold.InitResult, dir string, w *where) error {
	var b strings.Builder
	var names []string
	for _, f := range res.Files {
		name := w.show(f.Path)
		if f.Path == res.GenerateFile {
			name += " (" + emit.GenerateDirective + ")"
		}
		names = append(names, name)
	}
	fmt.Fprintf(&b, "wrote %s\n", strings.Join(names, ", "))
	var flags []string
	for _, k := range res.Checked.Kinds {
		fmt.Fprintf(&b, "kind %s: %s.%s (constructors: %s)\n", k.Name, k.Pkg, k.Var, gen.TypeString(k.Constructor))
		flags = append(flags, "-kind", k.Name+"="+k.Pkg+"."+k.Var)
	}
	if res.Found > 1 {
		fmt.Fprintf(&b, "to declare only some, remove the others from %s; or remove the file and choose: %s\n", w.show(res.Files[0].Path), scaffold.Command(dir, "init", flags...))
	}
	b.WriteString("\nNext: ")
	if !res.CallsInit {
		fmt.Fprintf(&b, `call %[1]s in main, after flag.Parse and before it selects an implementation
(it registers the plugins: compiled in; loaded from .so files with -tags plugink_dynamic;
or run as child processes with -tags plugink_process, or for those with mode: process):

	if err := %[1]s(); err != nil {
		log.Fatal(runtime.Explain(err)) // runtime: github.com/plugink/plugink/runtime
	}

then `, emit.InitFunc)
	}
	fmt.Fprintf(&b, "add a plugin:\n\n%s\n", scaffold.Command(dir, "new", res.Checked.Kinds[0].Name, "<name>"))
	_, err := io.WriteString(out, b.String())
	return err
}
