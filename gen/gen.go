package gen

import (
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/plugink/plugink/gen/emit"
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

// File is a generated file: its path and its whole content.
type File struct {
	Path string
	Data []byte
}

// Generate parses the manifest, type-checks it against the code it names,
// and returns the static and dynamic files for the host package in o.Dir.
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
	pkg, err := hostPackage(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	h := hostSpec(pkg, ch)
	static, err := emit.Static(h)
	if err != nil {
		return nil, nil, err
	}
	dynamic, err := emit.Dynamic(h)
	if err != nil {
		return nil, nil, err
	}
	dir := o.dir()
	return []File{
		{Path: filepath.Join(dir, emit.StaticFile), Data: static},
		{Path: filepath.Join(dir, emit.DynamicFile), Data: dynamic},
	}, ch, nil
}

// hostPackage returns the name of the package in o.Dir, reading only its
// package clauses (generated files excluded, so a broken one cannot stop
// its own regeneration).
func hostPackage(ctx context.Context, o Options) (string, error) {
	dir, err := filepath.Abs(o.dir())
	if err != nil {
		return "", err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("read host package: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || filepath.Ext(name) != ".go" || name == emit.StaticFile || name == emit.DynamicFile || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.PackageClauseOnly); err == nil && f.Name.Name != "" {
			return f.Name.Name, nil
		}
	}
	cfg := &packages.Config{Context: ctx, Mode: packages.NeedName, Dir: dir}
	list, err := packages.Load(cfg, ".")
	if err == nil && len(list) == 1 && list[0].Name != "" {
		return list[0].Name, nil
	}
	return "", fmt.Errorf("%s: no Go package to generate into; put plugink.yaml next to the package (usually main) that calls %s", dir, emit.InitFunc)
}

func hostSpec(pkg string, ch *Checked) emit.Host {
	h := emit.Host{Package: pkg, Manifest: filepath.Base(ch.Manifest.File), DynamicDir: ch.Manifest.DynamicDir}
	for _, k := range ch.Kinds {
		h.Kinds = append(h.Kinds, emit.Kind{Name: k.Name, Pkg: k.Pkg, PkgName: k.PkgName, Var: k.Var, IsMap: k.IsMap})
	}
	for _, p := range ch.Plugins {
		h.Plugins = append(h.Plugins, emit.Plugin{Name: p.Name, Type: p.Type, Path: p.Path, NewFunc: p.NewFunc,
			PkgName: p.PkgName, Replace: p.Replace, File: p.SOName()})
	}
	return h
}

// WriteFiles writes each file atomically: to a temporary file in the same
// directory, then renamed over the old one. A file whose content is
// unchanged is not touched, so its modification time stays.
func WriteFiles(files []File) error {
	var errs []error
	for _, f := range files {
		if old, err := os.ReadFile(f.Path); err == nil && string(old) == string(f.Data) {
			continue
		}
		errs = append(errs, writeAtomic(f.Path, f.Data))
	}
	return errors.Join(errs...)
}

func writeAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
