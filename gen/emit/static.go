package emit

import "github.com/dave/jennifer/jen"

// Static returns the static registration file: it imports every plugin
// package under an explicit alias and registers each plugin's Config, with
// NewFunc checked by the compiler against the kind's constructor type.
func Static(h Host) ([]byte, error) {
	f := h.newFile("!" + DynamicTag)
	f.Commentf("%s registers the plugins compiled into this program by %s (%s).", InitFunc, h.Manifest, h.summary()).Line().
		Comment("Call it once, after flag.Parse and before selecting implementations.").Line().
		Commentf("Built with -tags %s, the program loads them as .so files instead.", DynamicTag)
	body := h.declareKinds()
	var inits []jen.Code
	for _, p := range h.Plugins {
		inits = append(inits, h.staticInit(p))
	}
	switch len(inits) {
	case 0:
		body = append(body, jen.Return(jen.Nil()))
	default:
		body = append(body, jen.Return(jen.Qual("errors", "Join").Custom(multilineCall, inits...)))
	}
	f.Func().Id(InitFunc).Params().Error().Block(body...)
	return render(f, "static file")
}

// staticInit returns runtime.Init(&runtime.Config{...}) for p, its NewFunc
// wrapped so that the compiler checks its type against the kind's.
func (h Host) staticInit(p Plugin) jen.Code {
	k := h.kindByName(p.Type)
	fn := jen.Qual(p.Path, p.NewFunc)
	var checked jen.Code
	if k.IsMap {
		checked = jen.Qual(pluginRuntimePath, "Func").Call(jen.Qual(k.Pkg, k.Var), fn)
	} else {
		checked = jen.Qual(k.Pkg, k.Var).Dot("Func").Call(fn)
	}
	args := []jen.Code{jen.Op("&").Qual(pluginRuntimePath, "Config").Custom(multiline,
		jen.Id("Name").Op(":").Lit(p.Name),
		jen.Id("Type").Op(":").Lit(p.Type),
		jen.Id("Path").Op(":").Lit(p.Path),
		jen.Id("NewFunc").Op(":").Add(checked),
	)}
	if p.Replace {
		args = append(args, jen.Qual(pluginRuntimePath, "Replace").Call())
	}
	return jen.Qual(pluginRuntimePath, "Init").Call(args...)
}

// multilineCall renders call arguments one per line.
var multilineCall = jen.Options{Open: "(", Close: ")", Separator: ",", Multi: true}
