package emit

import "github.com/dave/jennifer/jen"

// Static returns the static registration file: it imports every plugin
// package under an explicit alias and registers every plugin's Config with
// one runtime.InitAll (all or none), each NewFunc checked by the compiler
// against its kind's constructor type.
func Static(h Host) ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	f := h.newFile("!" + DynamicTag + " && !" + ProcessTag)
	f.Commentf("%s registers the plugins compiled into this program by %s, all", InitFunc, h.Manifest).Line().
		Commentf("or none: %s.", h.summary()).Line().
		Comment("Call it once, after flag.Parse and before selecting implementations.").Line().
		Commentf("Built with -tags %s, the program loads them as .so files instead; with", DynamicTag).Line().
		Commentf("-tags %s, it runs them as child processes.", ProcessTag)
	if procs := h.processes(); procs != "" {
		f.Commentf("Those with mode: process run as child processes in every build: %s.", procs)
	}
	var configs []jen.Code
	for _, p := range h.Plugins {
		if p.Process {
			configs = append(configs, config(p, h.processConstructor(p)))
		} else {
			configs = append(configs, config(p, h.typeChecked(p)))
		}
	}
	opts := []jen.Code{jen.Qual(runtimePath, "FromManifest").Call(jen.Lit(h.Manifest)), jen.Qual(runtimePath, "CompiledIn").Call()}
	if keys := h.replaceKeys(); len(keys) > 0 {
		opts = append(opts, jen.Qual(runtimePath, "ReplaceOnly").Call(keys...))
	}
	list := jen.Index().Op("*").Qual(runtimePath, "Config").Add(fields(configs...))
	body := append(h.declareKinds(), jen.Return(jen.Qual(runtimePath, "InitAll").Call(append([]jen.Code{list}, opts...)...)))
	f.Func().Id(InitFunc).Params().Error().Block(body...)
	return render(f, "static file")
}

// typeChecked returns p's constructor wrapped in the kind's TypeCheck, so
// that the compiler checks its type against the kind's: if the plugin's
// constructor changes type, this file stops compiling at that plugin.
func (h Host) typeChecked(p Plugin) jen.Code {
	k := h.kindByName(p.Type)
	fn := jen.Qual(p.Path, p.newFunc())
	if k.IsMap {
		return jen.Qual(runtimePath, "TypeCheck").Call(jen.Qual(k.Pkg, k.Var), fn)
	}
	return jen.Qual(k.Pkg, k.Var).Dot("TypeCheck").Call(fn)
}
