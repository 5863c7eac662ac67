package emit

import (
	"fmt"

	"github.com/dave/jennifer/jen"
)

// Plugin directory settings of the dynamic file.
const (
	// DirFlag is the flag that overrides the plugin directory.
	DirFlag = "plugin_dir"
	// DirEnv is the environment variable that overrides it when the flag
	// is not set.
	DirEnv = "PLUGINK_DIR"
)

// Dynamic returns the dynamic file: at start-up it loads the manifest's
// plugins from the plugin directory, plus the files MICRO_PLUGIN names,
// through plugink's loader (preflight checks, and checksums when the
// directory has a plugink.sum).
func Dynamic(h Host) ([]byte, error) {
	f := h.newFile(DynamicTag)
	f.Commentf("pluginkDir is the directory of plugin files given by -%s.", DirFlag)
	f.Var().Id("pluginkDir").String()
	f.Line()
	f.Func().Id("init").Params().Block(
		jen.If(jen.Qual("flag", "Lookup").Call(jen.Lit(DirFlag)).Op("==").Nil()).Block(
			jen.Qual("flag", "StringVar").Call(jen.Op("&").Id("pluginkDir"), jen.Lit(DirFlag), jen.Lit(""),
				jen.Lit(fmt.Sprintf("directory of plugin .so files (default %q, or $%s)", h.DynamicDir, DirEnv))),
		),
	)
	f.Line()
	f.Commentf("%s loads the plugins of %s (%s) from the plugin directory", InitFunc, h.Manifest, h.summary()).Line().
		Commentf("(-%s, else $%s, else %q), then those $MICRO_PLUGIN names, and", DirFlag, DirEnv, h.DynamicDir).Line().
		Comment("registers them, all or none. A manifest plugin whose file is missing is").Line().
		Comment("an error, unless $MICRO_PLUGIN is set (it may name the file elsewhere).").Line().
		Comment("Call it once, after flag.Parse and before selecting implementations.")
	body := h.declareKinds()
	body = append(body,
		jen.Id("dir").Op(":=").Id("pluginkDir"),
		jen.If(jen.Id("dir").Op("==").Lit("")).Block(jen.Id("dir").Op("=").Qual("os", "Getenv").Call(jen.Lit(DirEnv))),
		jen.If(jen.Id("dir").Op("==").Lit("")).Block(jen.Id("dir").Op("=").Lit(h.DynamicDir)),
		jen.Var().Id("opts").Index().Qual(loaderPath, "Option"),
	)
	if keys := h.replaceKeys(); len(keys) > 0 {
		body = append(body, jen.Id("opts").Op("=").Append(jen.Id("opts"), jen.Qual(loaderPath, "WithReplace").Call(keys...)))
	}
	body = append(body,
		jen.List(jen.Id("sums"), jen.Err()).Op(":=").Qual(loaderPath, "ReadSums").Call(
			jen.Qual("path/filepath", "Join").Call(jen.Id("dir"), jen.Qual(loaderPath, "SumFile"))),
		jen.Switch().Block(
			jen.Case(jen.Err().Op("==").Nil()).Block(
				jen.Id("opts").Op("=").Append(jen.Id("opts"), jen.Qual(loaderPath, "WithSums").Call(jen.Id("sums")))),
			jen.Case(jen.Op("!").Qual("errors", "Is").Call(jen.Err(), jen.Qual("io/fs", "ErrNotExist"))).Block(
				jen.Return(jen.Err())),
		),
		jen.Id("l").Op(":=").Qual(loaderPath, "NewPlugin").Call(jen.Id("opts").Op("...")),
		jen.Id("env").Op(":=").Qual(loaderPath, "EnvPaths").Call(),
		jen.Var().Id("files").Index().String(),
		jen.For(jen.List(jen.Id("_"), jen.Id("name")).Op(":=").Range().Index().String().Custom(multiline, h.fileNames()...)).Block(
			jen.Id("file").Op(":=").Qual("path/filepath", "Join").Call(jen.Id("dir"), jen.Id("name")),
			jen.If(jen.Len(jen.Id("env")).Op(">").Lit(0)).Block(
				jen.If(jen.List(jen.Id("_"), jen.Err()).Op(":=").Qual("os", "Stat").Call(jen.Id("file")), jen.Err().Op("!=").Nil()).Block(
					jen.Continue().Comment("$MICRO_PLUGIN may provide it"),
				),
			),
			jen.Id("files").Op("=").Append(jen.Id("files"), jen.Id("file")),
		),
		jen.List(jen.Id("_"), jen.Err()).Op("=").Id("l").Dot("LoadAll").Call(jen.Append(jen.Id("files"), jen.Id("env").Op("..."))),
		jen.Return(jen.Err()),
	)
	f.Func().Id(InitFunc).Params().Error().Block(body...)
	return render(f, "dynamic file")
}

func (h Host) fileNames() []jen.Code {
	var out []jen.Code
	for _, p := range h.Plugins {
		out = append(out, jen.Lit(p.File))
	}
	return out
}

// replaceKeys returns "kind/name" of each plugin the manifest lets replace
// a registered implementation: only those may, not every file loaded.
func (h Host) replaceKeys() []jen.Code {
	var out []jen.Code
	for _, p := range h.Plugins {
		if p.Replace {
			out = append(out, jen.Lit(p.Type+"/"+p.Name))
		}
	}
	return out
}
