package gen

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/plugink/plugink/gen/emit"
	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/runtime"
)

// Options says where the manifest is and how to load the packages it names.
type Options struct {
	// Dir is the directory of the manifest and of the generated files: the
	// host package's directory. "" means the current directory.
	Dir string
	// Manifest is the manifest's path; "" means Dir/plugink.yaml.
	Manifest string
	// Tags are build tags to load packages with.
	Tags []string
	// BuildFlags are more go command flags to load packages with (such as
	// the -modfile of an out-of-module plugin build); Env, environment
	// variables over the inherited ones.
	BuildFlags, Env []string
	// Overlay maps absolute file paths to contents that replace (or add)
	// them when packages are loaded, as go build -overlay does.
	Overlay map[string][]byte
}

func (o Options) dir() string {
	if o.Dir == "" {
		return "."
	}
	return o.Dir
}

// ManifestPath returns the manifest's path.
func (o Options) ManifestPath() string {
	if o.Manifest != "" {
		return o.Manifest
	}
	return filepath.Join(o.dir(), ManifestFile)
}

// ErrNoHostPackage reports a manifest directory without a Go package to
// write the generated files into.
var ErrNoHostPackage = errors.New("no Go package to generate into")

// File is a generated file: its path and its whole content.
type File struct {
	// Path is where the file goes: the host package's directory and the
	// generated file's name.
	Path string
	// Data is the file's whole content.
	Data []byte
}

// Generate parses the manifest, type-checks it against the code it names,
// and returns the generated files for the host package in o.Dir (static,
// dynamic, process, and the process glue).
// It writes nothing; on error (an [ErrorList] for problems in the manifest
// or the code it names) no file is returned.
func Generate(ctx context.Context, o Options) ([]File, *Checked, error) {
	m, err := ReadManifest(o.ManifestPath())
	if err != nil {
		return nil, nil, err
	}
	ch, err := Check(ctx, m, o)
	if err != nil {
		return nil, nil, err
	}
	files, err := Emit(ctx, ch, o)
	if err != nil {
		return nil, nil, err
	}
	return files, ch, nil
}

// Emit returns the static and dynamic files for the host package in o.Dir
// from a manifest Check accepted. It writes nothing.
func Emit(ctx context.Context, ch *Checked, o Options) ([]File, error) {
	pkg, declared, err := hostPackage(ctx, o)
	if err != nil {
		return nil, err
	}
	h := hostSpec(pkg, ch)
	h.Declared = declared
	static, err := emit.Static(h)
	if err != nil {
		return nil, err
	}
	dynamic, err := emit.Dynamic(h)
	if err != nil {
		return nil, err
	}
	process, err := emit.Process(h)
	if err != nil {
		return nil, err
	}
	glue, err := emit.Glue(h)
	if err != nil {
		return nil, err
	}
	dir := o.dir()
	return []File{
		{Path: filepath.Join(dir, emit.StaticFile), Data: static},
		{Path: filepath.Join(dir, emit.DynamicFile), Data: dynamic},
		{Path: filepath.Join(dir, emit.ProcessFile), Data: process},
		{Path: filepath.Join(dir, emit.GlueFile), Data: glue},
	}, nil
}

// hostPackage returns the name of the package in o.Dir and the names its
// files declare at package level (which import aliases must avoid), parsing
// only the host's own files: generated files are excluded, so a broken one
// cannot stop its own regeneration.
func hostPackage(ctx context.Context, o Options) (string, []string, error) {
	dir, err := filepath.Abs(o.dir())
	if err != nil {
		return "", nil, fmt.Errorf("read host package: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", nil, fmt.Errorf("read host package: %w", err)
	}
	pkg, declared := "", map[string]bool{}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || filepath.Ext(name) != ".go" || slices.Contains(emit.Files, name) || strings.HasSuffix(name, "_test.go") {
			continue
		}
		// A file with a syntax error still yields its package clause and
		// the declarations before the error.
		f, _ := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if f == nil || f.Name == nil || f.Name.Name == "" || pkg != "" && f.Name.Name != pkg {
			continue
		}
		pkg = f.Name.Name
		for _, n := range packageLevelNames(f) {
			declared[n] = true
		}
	}
	if pkg != "" {
		return pkg, slices.Sorted(maps.Keys(declared)), nil
	}
	cfg := &packages.Config{Context: ctx, Mode: packages.NeedName, Dir: dir}
	list, err := packages.Load(cfg, ".")
	if err == nil && len(list) == 1 && list[0].Name != "" {
		return list[0].Name, nil, nil
	}
	return "", nil, runtime.WithHint(fmt.Errorf("%s: %w", dir, ErrNoHostPackage),
		fmt.Sprintf("put plugink.yaml next to the package (usually main) that calls %s", emit.InitFunc))
}

// packageLevelNames returns the names f declares in its package's scope:
// functions (not methods), types, variables and constants.
func packageLevelNames(f *ast.File) []string {
	var out []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				out = append(out, d.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch spec := spec.(type) {
				case *ast.TypeSpec:
					out = append(out, spec.Name.Name)
				case *ast.ValueSpec:
					for _, n := range spec.Names {
						out = append(out, n.Name)
					}
				}
			}
		}
	}
	return out
}

func hostSpec(pkg string, ch *Checked) emit.Host {
	h := emit.Host{Package: pkg, Manifest: filepath.Base(ch.Manifest.File), DynamicDir: ch.Manifest.DynamicDir, RequireSums: ch.Manifest.RequireSums, UpgradeSignal: ch.Manifest.UpgradeSignal,
		TrustedKeys: ch.Manifest.TrustedKeys}
	for _, k := range ch.Kinds {
		ek := emit.Kind{Name: k.Name, Pkg: k.Pkg, PkgName: k.PkgName, Var: k.Var, IsMap: k.IsMap}
		if k.Glue != nil {
			ek.Glue = k.Glue
		}
		h.Kinds = append(h.Kinds, ek)
	}
	for _, p := range ch.Plugins {
		h.Plugins = append(h.Plugins, emit.Plugin{Config: p.Config, PkgName: p.PkgName, Replace: p.Replace, Process: p.Process})
	}
	return h
}

// WriteFiles writes the files together: each to a temporary file in its
// directory first, and only when all are written, renamed over the old
// ones. On error the files on disk are as they were (a rename that fails
// part way through puts back the files already renamed) and no temporary
// file is left. A file whose content is unchanged is not touched, so its
// modification time stays.
func WriteFiles(files []File) error {
	out := make([]fsx.File, len(files))
	for i, f := range files {
		out[i] = fsx.File{Path: f.Path, Data: f.Data}
	}
	return fsx.WriteFiles(out...)
}
