package emit

import (
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/plugink/plugink/runtime"
)

// Names of the process mode's files and tag.
const (
	// ProcessTag is the build tag that runs every plugin that can cross a
	// process as one.
	ProcessTag = runtime.ProcessTag
	// ProcessFile is the registration file of a host built with ProcessTag.
	ProcessFile = "zz_plugink_process.go"
	// GlueFile holds the generated clients of the kinds whose plugins may
	// run as processes.
	GlueFile    = "zz_plugink_glue.go"
	processPath = "github.com/plugink/plugink/process"
)

// Files are the names of every file the host emitters generate.
var Files = []string{StaticFile, DynamicFile, ProcessFile, GlueFile}

const (
	specFunc  = "pluginkSpec"
	shapesVar = "pluginkShapes"
)

// KindGlue is a kind's process glue, as package gen/glue generates it from the
// kind's type-checked interface.
type KindGlue interface {
	// EmitHost adds to f the kind's generated client and the func named
	// HostConstructor that returns a constructor of the kind's type for a
	// pluginkprocess.Spec.
	EmitHost(f *jen.File)
	// HostConstructor is the name of the func EmitHost declares.
	HostConstructor() string
	// Shape is the text the handshake's protocol version derives from.
	Shape() string
}

// anyProcess reports whether a plugin of h runs as a process in every
// build (mode: process).
func (h Host) anyProcess() bool {
	for _, p := range h.Plugins {
		if p.Process {
			return true
		}
	}
	return false
}

// processes lists, for a doc comment, the plugins with mode: process; ""
// if none.
func (h Host) processes() string {
	var out []string
	for _, p := range h.Plugins {
		if p.Process {
			out = append(out, p.String())
		}
	}
	return strings.Join(out, ", ")
}

// crosses reports whether p can run as a process: its kind has glue.
func (h Host) crosses(p Plugin) bool { return h.kindByName(p.Type).Glue != nil }

// processConstructor returns the constructor that runs p as a process.
func (h Host) processConstructor(p Plugin) jen.Code {
	g := h.kindByName(p.Type).Glue
	return jen.Id(g.HostConstructor()).Call(jen.Id(specFunc).Call(jen.Lit(p.Type), jen.Lit(p.Name)))
}

// Glue returns the glue file: the generated clients of the kinds that can
// cross a process and have plugins, and the specs of their plugins. It is
// compiled into every build when a plugin of h says mode: process, else
// only with ProcessTag.
func Glue(h Host) ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	constraint := ProcessTag
	if h.anyProcess() {
		constraint = "" // every build runs a plugin as a process
	}
	f := h.newFile(constraint)
	shapes := []jen.Code{}
	used := map[string]bool{}
	for _, p := range h.Plugins {
		used[p.Type] = true
	}
	for _, k := range h.Kinds {
		if k.Glue == nil || !used[k.Name] {
			continue
		}
		shapes = append(shapes, jen.Lit(k.Name).Op(":").Lit(k.Glue.Shape()))
	}
	if len(shapes) == 0 {
		if len(h.Plugins) == 0 {
			f.Comment(h.Manifest + " lists no plugin: there is nothing to run as a process.")
		} else {
			f.Comment("No plugin of " + h.Manifest + " has a kind that can cross a process (plugink gen says why with mode: process): " + h.summary() + ".")
		}
		return render(f, "glue file")
	}
	f.Commentf("%s are the shapes of the interfaces of %s's kinds that cross a process:", shapesVar, h.Manifest).Line().
		Comment("a plugin executable built for another shape is refused at its start.")
	f.Var().Id(shapesVar).Op("=").Map(jen.String()).String().Add(fields(shapes...))
	f.Line()
	spec := []jen.Code{
		jen.Id("Kind").Op(":").Id("kind"),
		jen.Id("Name").Op(":").Id("name"),
		jen.Id("Manifest").Op(":").Lit(h.Manifest),
		jen.Id("Dir").Op(":").Lit(h.DynamicDir),
		jen.Id("Shape").Op(":").Id(shapesVar).Index(jen.Id("kind")),
	}
	spec = append(spec, h.dynamicFields()...)
	f.Commentf("%s returns the spec of the process plugin kind/name of %s: its executable", specFunc, h.Manifest).Line().
		Commentf("is <plugin directory>/<kind>_<name> (%q unless -%s or $%s say otherwise).", h.DynamicDir, runtime.PluginDirFlag, runtime.PluginDirEnv)
	f.Func().Id(specFunc).Params(jen.List(jen.Id("kind"), jen.Id("name")).String()).Qual(processPath, "Spec").Block(
		jen.Return(jen.Qual(processPath, "Spec").Add(fields(spec...))),
	)
	f.Line()
	f.Commentf("init defines -%s, the directory of the plugins' executables, unless the", runtime.PluginDirFlag).Line().
		Comment("program (or the loader) has.")
	f.Func().Id("init").Params().Block(jen.Qual(processPath, "RegisterFlag").Call(jen.Nil(), jen.Lit(h.DynamicDir)))
	for _, k := range h.Kinds {
		if k.Glue != nil && used[k.Name] {
			f.Line()
			k.Glue.EmitHost(f)
		}
	}
	return render(f, "glue file")
}

// Process returns the registration file of a host built with ProcessTag:
// every plugin whose kind can cross a process runs as one; the others are
// compiled in, as without the tag.
func Process(h Host) ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	f := h.newFile(ProcessTag)
	var configs []jen.Code
	var in []string
	for _, p := range h.Plugins {
		if h.crosses(p) {
			configs = append(configs, config(p, h.processConstructor(p)))
		} else {
			configs = append(configs, config(p, h.typeChecked(p)))
			in = append(in, p.String())
		}
	}
	f.Commentf("%s registers the plugins of %s, all or none: %s.", InitFunc, h.Manifest, h.summary()).Line().
		Comment("Built with -tags " + ProcessTag + ", each whose kind can cross a process runs as a child").Line().
		Commentf("process, from its executable in the plugin directory, which plugink build -process makes.")
	if len(in) > 0 {
		f.Commentf("Compiled in, as their kinds cannot cross a process: %s.", strings.Join(in, ", "))
	}
	f.Comment("Call it once, after flag.Parse and before selecting implementations.")
	opts := []jen.Code{jen.Qual(runtimePath, "FromManifest").Call(jen.Lit(h.Manifest))}
	if keys := h.replaceKeys(); len(keys) > 0 {
		opts = append(opts, jen.Qual(runtimePath, "ReplaceOnly").Call(keys...))
	}
	list := jen.Index().Op("*").Qual(runtimePath, "Config").Add(fields(configs...))
	body := append(h.declareKinds(), jen.Return(jen.Qual(runtimePath, "InitAll").Call(append([]jen.Code{list}, opts...)...)))
	f.Func().Id(InitFunc).Params().Error().Block(body...)
	return render(f, "process file")
}
