package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/gocmd"
	"github.com/plugink/plugink/internal/layout"
	"github.com/plugink/plugink/internal/pluginbuild"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/runtime"
)

// Every build of a plugin is a generation of it, which a process can load
// beside the generations it holds: the generated main package, and so the
// pluginpath, is <module>/_plugink/<type>/<name>/<generation>
// (loader.BuildOptions.Generation), and the packages of the plugin that
// may change between generations are compiled as copies of their own,
// <package>/_plugink/<generation> (see renamed), so that a changed package
// never meets the fingerprint of its earlier build in a process.

// plan is how one plugin is built: its cache key, its generation, and the
// packages its generation compiles as copies of their own.
type plan struct {
	key        string
	generation string
	module     *pluginbuild.Module // the module the plugins are built in
	// renamed are the packages copied, sorted by import path: the
	// plugin's package and those it depends on from the main module that
	// the host does not link.
	renamed []*listedPackage
}

// genPath returns the import path of the generation's main package.
func (pl *plan) genPath(p *gen.PluginDecl) string {
	return layout.MainPackage(pl.module.Path, &p.Config, pl.generation)
}

// copyPath returns the import path of the generation's copy of pkg, a
// package of the main module: <pkg>/_plugink/<generation>. Under the
// original's own directory, the copy may import every internal package
// the original may, the host's (which are not copied) included.
func (pl *plan) copyPath(pkg string) string {
	return layout.CopyPath(pkg, pl.generation)
}

// copyDir returns the directory the go command sees the copy of pkg in.
func (pl *plan) copyDir(pkg string) string {
	rel := strings.TrimPrefix(pl.copyPath(pkg), pl.module.Path+"/")
	return filepath.Join(pl.module.Dir, filepath.FromSlash(rel))
}

// renamed returns the packages that each generation of the plugin at path
// compiles as a copy of its own, sorted: path and the packages it depends
// on that belong to mod (not another module of a workspace) and that the
// host does not link (hostLinks), except those that cannot be copied (see
// copyable) and what they depend on. What the host links cannot be copied:
// the plugin shares those types with it (the kind's constructor type).
// What another module provides is not copied either: one version of it is
// what every generation links.
func renamed(path string, pkgs map[string]*listedPackage, mod *pluginbuild.Module, hostLinks map[string]bool) []*listedPackage {
	root := pkgs[path]
	if root == nil {
		return nil
	}
	closure := append([]string{path}, root.Deps...)
	keep := map[string]bool{} // what a package that is not copied imports is not copied either
	for _, dep := range closure {
		if p := pkgs[dep]; p != nil && !p.copyable() {
			keep[dep] = true
			for _, d := range p.Deps {
				keep[d] = true
			}
		}
	}
	var out []*listedPackage
	for _, dep := range closure {
		p := pkgs[dep]
		if p == nil || p.Standard || hostLinks[dep] || keep[dep] || !inModule(mod, p) {
			continue
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *listedPackage) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	return out
}

// copyable reports whether p can be compiled from a copy that exists only
// in the go command's view (-overlay): Go files, header and embedded files.
// The go command runs cgo, the assembler and SWIG in the package's
// directory, which a copy does not have, and links .syso files from there.
func (p *listedPackage) copyable() bool {
	for _, files := range [][]string{p.CgoFiles, p.CFiles, p.CXXFiles, p.MFiles, p.FFiles, p.SFiles,
		p.SwigFiles, p.SwigCXXFiles, p.SysoFiles} {
		if len(files) > 0 {
			return false
		}
	}
	return true
}

// inModule reports whether p belongs to the main module m (nil: none).
func inModule(m *pluginbuild.Module, p *listedPackage) bool {
	return m != nil && p.Module != nil && p.Module.Main && filepath.Clean(p.Module.Dir) == filepath.Clean(m.Dir) &&
		(p.ImportPath == m.Path || strings.HasPrefix(p.ImportPath, m.Path+"/"))
}

// checkCopies reports a package whose copy's directory exists on disk: the
// copy exists only in the go command's view (-overlay), and would mix with
// the files there.
func (pl *plan) checkCopies() error {
	for _, r := range pl.renamed {
		if dir := pl.copyDir(r.ImportPath); exists(dir) {
			return fmt.Errorf("package %s: the directory %s exists, where the build compiles a copy of the package (through -overlay): remove it", r.ImportPath, dir)
		}
	}
	return nil
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// hostLinks returns, as a set, the import paths of the packages the host
// links: those whose fingerprints host records, when they are known; else
// the dependencies of the host package in the manifest's directory (where
// goCmd runs) and of the kinds' packages (which a host links whatever else
// it does; a manifest only to build plugins from has no host package), as
// go list lists them with flags, tags and the dynamic host's tag.
func hostLinks(ctx context.Context, goCmd gocmd.Cmd, flags []string, tags string, m *gen.Manifest, host *loader.Host) (map[string]bool, error) {
	links := map[string]bool{}
	if host != nil {
		for _, p := range host.Packages() {
			links[p] = true
		}
		if len(links) > 0 {
			return links, nil
		}
	}
	args := []string{"list", "-e", "-deps", "-json=ImportPath", "-tags=" + strings.Trim(tags+","+runtime.DynamicTag, ",")}
	for _, f := range flags {
		if !strings.HasPrefix(f, "-tags=") {
			args = append(args, f)
		}
	}
	args = append(args, ".") // goCmd runs in the manifest's directory
	for _, k := range m.Kinds {
		args = append(args, k.Pkg)
	}
	out, err := goCmd.Output(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("list the host's packages: %w", err)
	}
	if err := decodeEach(out, "go list", func(p *struct{ ImportPath string }) { links[p.ImportPath] = true }); err != nil {
		return nil, fmt.Errorf("list the host's packages: %w", err)
	}
	return links, nil
}
