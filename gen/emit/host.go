package emit

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/plugink/plugink/runtime"
)

// Names of the generated host files.
const (
	// DynamicTag is the build tag that selects the dynamic file.
	DynamicTag = runtime.DynamicTag
	// StaticFile and DynamicFile are the generated files' names.
	StaticFile  = "zz_plugink_static.go"
	DynamicFile = "zz_plugink_dynamic.go"
	// InitFunc is the function both files declare; the host calls it once,
	// after flag.Parse and before selecting implementations.
	InitFunc = "initPlugins"
	// manifestVar is the dynamic file's variable holding the manifest.
	manifestVar = "pluginkManifest"
)

const (
	runtimePath = "github.com/plugink/plugink/runtime"
	loaderPath  = "github.com/plugink/plugink/loader"
	dynamicPath = "github.com/plugink/plugink/loader/dynamic"
)

// Host is what the host-side emitters need: the package to write into, its
// kinds and its enabled plugins, sorted.
type Host struct {
	// Package is the name of the package holding the generated files.
	Package string
	// Manifest is the manifest's base name, for comments and errors.
	Manifest string
	// Kinds are the manifest's kinds, sorted by name.
	Kinds []Kind
	// Plugins are the enabled plugins, sorted by kind then name.
	Plugins []Plugin
	// DynamicDir is the default directory of the plugin files, relative to
	// the working directory at run time.
	DynamicDir string
	// RequireSums makes the dynamic host refuse unverified plugin files.
	RequireSums bool
	// UpgradeSignal, if set, is the signal on which the dynamic host
	// upgrades its plugins whose files changed.
	UpgradeSignal string
	// TrustedKeys are public keys in their text form ("plugink-ed25519
	// <base64>"): if any, the dynamic host loads only files one of them
	// signed. The keys are written into the host binary.
	TrustedKeys []string
	// Declared are the names the host package declares at package level
	// in its own files. An import name may not be one of them, so the
	// import aliases avoid them.
	Declared []string
}

// Kind is a kind bound to the variable Pkg.Var: a map[string]F when IsMap,
// else a *runtime.Kind[F].
type Kind struct {
	// Name is the kind's name ("client").
	Name string
	// Pkg is the import path of the package that declares Var, and
	// PkgName its declared name.
	Pkg, PkgName string
	// Var is the variable the kind is bound to ("DefaultClients").
	Var string
	// IsMap says Var is a plain map[string]F, which the generated code
	// declares as a kind; else it is a *runtime.Kind[F].
	IsMap bool
	// Glue is the kind's process glue; nil if the kind cannot cross a
	// process.
	Glue KindGlue
}

// Plugin is a plugin's Config (NewFunc being the constructor's name), with
// the declared name of its package.
type Plugin struct {
	runtime.Config
	// PkgName is the declared name of the package at Path.
	PkgName string
	// Replace lets the plugin replace a registered implementation.
	Replace bool
	// Process (mode: process) runs the plugin as a child process in every
	// build.
	Process bool
}

// newFunc returns the constructor's name.
func (p Plugin) newFunc() string {
	s, _ := p.NewFunc.(string)
	return s
}

// names the generated files import or declare; aliases avoid them.
var reservedHostNames = []string{"plugink", "pluginkloader", "pluginkdynamic", "pluginkprocess", InitFunc, manifestVar, specFunc, shapesVar, "init", "main",
	// the locals of the glue's generated code (package gen/glue)
	"a", "c", "f", "i", "p", "r", "ctx", "err", "spec"}

// aliases assigns each imported package an explicit, collision-free alias,
// derived from its declared name, in import-path order.
func (h Host) aliases() map[string]string {
	names := map[string]string{}
	for _, k := range h.Kinds {
		names[k.Pkg] = k.PkgName
	}
	for _, p := range h.Plugins {
		names[p.Path] = p.PkgName
	}
	paths := make([]string, 0, len(names))
	for p := range names {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	taken := map[string]bool{}
	for _, n := range slices.Concat(reservedHostNames, h.Declared) {
		taken[n] = true
	}
	out := map[string]string{}
	for _, path := range paths {
		base := names[path]
		if base == "" || reservedAlias(base) {
			base = PluginAlias(path)
		}
		alias := base
		for i := 2; taken[alias] || reservedAlias(alias); i++ {
			alias = base + strconv.Itoa(i)
		}
		taken[alias] = true
		out[path] = alias
	}
	return out
}

// check reports every name of h that breaks the rules of package runtime:
// the emitters take validated data, but write nothing that could not be
// read back as it was meant.
func (h Host) check() error {
	var errs []error
	add := func(what, value string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s %w", what, runtime.Quote(value), err))
		}
	}
	for _, k := range h.Kinds {
		add("kind name", k.Name, runtime.CheckKindName(k.Name))
		add("kind package", k.Pkg, runtime.CheckImportPath(k.Pkg))
	}
	for _, p := range h.Plugins {
		add("plugin name", p.Name, runtime.CheckPluginName(p.Name))
		add("plugin kind", p.Type, runtime.CheckKindName(p.Type))
		add("plugin path", p.Path, runtime.CheckImportPath(p.Path))
		add("plugin newfunc", p.newFunc(), runtime.CheckFuncName(p.newFunc()))
	}
	if h.UpgradeSignal != "" {
		add("upgrade signal", h.UpgradeSignal, runtime.CheckUpgradeSignal(h.UpgradeSignal))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("emit: %w", err)
	}
	return nil
}

// newFile starts a generated host file with its header and constraint.
func (h Host) newFile(constraint string) *jen.File {
	f := jen.NewFile(h.Package)
	f.HeaderComment("Code generated by plugink from " + h.Manifest + ". DO NOT EDIT.")
	if constraint != "" {
		f.HeaderComment("")
		f.HeaderComment("//go:build " + constraint)
	}
	f.ImportAlias(runtimePath, "plugink")
	f.ImportAlias(loaderPath, "pluginkloader")
	f.ImportAlias(dynamicPath, "pluginkdynamic")
	f.ImportAlias(processPath, "pluginkprocess")
	for path, alias := range h.aliases() {
		f.ImportAlias(path, alias)
	}
	return f
}

func render(f *jen.File, what string) ([]byte, error) {
	var buf bytes.Buffer
	if err := f.Render(&buf); err != nil {
		return nil, fmt.Errorf("render %s: %w", what, err)
	}
	return buf.Bytes(), nil
}

// declareKinds returns the statements that declare the map-bound kinds
// (idempotent in runtime), returning the first error.
func (h Host) declareKinds() []jen.Code {
	var out []jen.Code
	for _, k := range h.Kinds {
		if !k.IsMap {
			continue
		}
		out = append(out, jen.If(
			jen.List(jen.Id("_"), jen.Err()).Op(":=").Qual(runtimePath, "Declare").Call(jen.Lit(k.Name), jen.Qual(k.Pkg, k.Var)),
			jen.Err().Op("!=").Nil(),
		).Block(jen.Return(jen.Err())))
	}
	return out
}

// kindByName returns the kind called name.
func (h Host) kindByName(name string) Kind {
	for _, k := range h.Kinds {
		if k.Name == name {
			return k
		}
	}
	return Kind{}
}

// replaceKeys returns "kind/name" of each plugin the manifest lets replace
// a registered implementation: only those may, not every plugin.
func (h Host) replaceKeys() []jen.Code {
	var out []jen.Code
	for _, p := range h.Plugins {
		if p.Replace {
			out = append(out, jen.Lit(p.String()))
		}
	}
	return out
}

// config returns a runtime.Config literal for p, with newFunc as NewFunc.
func config(p Plugin, newFunc jen.Code) jen.Code {
	return fields(
		jen.Id("Name").Op(":").Lit(p.Name),
		jen.Id("Type").Op(":").Lit(p.Type),
		jen.Id("Path").Op(":").Lit(p.Path),
		jen.Id("NewFunc").Op(":").Add(newFunc),
	)
}

// fields renders a composite literal's fields between braces, one per
// line, in the order given.
func fields(items ...jen.Code) *jen.Statement {
	return jen.Custom(jen.Options{Open: "{", Close: "}", Separator: ",", Multi: true}, items...)
}

// summary lists the plugins for a doc comment.
func (h Host) summary() string {
	if len(h.Plugins) == 0 {
		return "no plugins"
	}
	var parts []string
	for _, p := range h.Plugins {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ", ")
}
