package emit

import "github.com/dave/jennifer/jen"

// dynamicFields returns the fields, named alike in loader.Manifest and
// process.Spec, that the manifest's dynamic section sets beside the
// plugin directory: RequireSums, UpgradeSignal, TrustedKeys.
func (h Host) dynamicFields() []jen.Code {
	var out []jen.Code
	if h.RequireSums {
		out = append(out, jen.Id("RequireSums").Op(":").True())
	}
	if h.UpgradeSignal != "" {
		out = append(out, jen.Id("UpgradeSignal").Op(":").Lit(h.UpgradeSignal))
	}
	if len(h.TrustedKeys) > 0 {
		var keys []jen.Code
		for _, k := range h.TrustedKeys {
			keys = append(keys, jen.Lit(k))
		}
		out = append(out, jen.Id("TrustedKeys").Op(":").Index().String().Add(fields(keys...)))
	}
	return out
}

// Dynamic returns the dynamic file: it hands the manifest's data (the
// plugin directory, the plugins, those that may replace a registered name,
// the trusted keys) to the loader, which at start-up loads the plugins'
// .so files, plus those MICRO_PLUGIN names, and registers them all or
// none.
func Dynamic(h Host) ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	f := h.newFile(DynamicTag + " && !" + ProcessTag)
	var configs, processes []jen.Code
	for _, p := range h.Plugins {
		if p.Process {
			processes = append(processes, config(p, h.processConstructor(p)))
		} else {
			configs = append(configs, config(p, jen.Lit(p.newFunc())))
		}
	}
	manifest := []jen.Code{
		jen.Id("File").Op(":").Lit(h.Manifest),
		jen.Id("Dir").Op(":").Lit(h.DynamicDir),
	}
	if len(configs) > 0 {
		manifest = append(manifest, jen.Id("Plugins").Op(":").Index().Qual(runtimePath, "Config").Add(fields(configs...)))
	}
	if len(processes) > 0 {
		manifest = append(manifest, jen.Id("Processes").Op(":").Index().Op("*").Qual(runtimePath, "Config").Add(fields(processes...)))
	}
	if keys := h.replaceKeys(); len(keys) > 0 {
		manifest = append(manifest, jen.Id("Replace").Op(":").Index().String().Values(keys...))
	}
	manifest = append(manifest, h.dynamicFields()...)
	f.Comment("A host built with -tags " + DynamicTag + " loads .so files, which Go supports with cgo").Line().
		Comment("(CGO_ENABLED=1 and a C compiler) on linux, darwin and freebsd only: elsewhere this").Line().
		Comment("line does not compile. Build without the tag to compile the plugins in instead.")
	f.Var().Id("_").Op("=").Qual(dynamicPath, "NeedsCgoOnLinuxDarwinOrFreeBSD")
	f.Line()
	f.Commentf("%s is %s as the loader needs it at run time.", manifestVar, h.Manifest)
	f.Var().Id(manifestVar).Op("=").Qual(loaderPath, "Manifest").Add(fields(manifest...))
	f.Line()
	f.Func().Id("init").Params().Block(jen.Id(manifestVar).Dot("RegisterFlag").Call(jen.Nil()))
	f.Line()
	f.Commentf("%s loads the plugins of %s from the plugin directory", InitFunc, h.Manifest).Line().
		Commentf("(%q unless overridden: see pluginkloader.Manifest.PluginDir): %s.", h.DynamicDir, h.summary()).Line().
		Comment("Then it loads the files $MICRO_PLUGIN names, and registers them all, or none.").Line().
		Comment("Call it once, after flag.Parse and before selecting implementations.")
	if len(h.TrustedKeys) > 0 {
		f.Comment("It loads only files signed by a key of dynamic.trusted_keys (each beside its <file>.sig).")
	}
	if procs := h.processes(); procs != "" {
		f.Commentf("Those with mode: process run as child processes, registered with the others: %s.", procs)
	}
	if h.UpgradeSignal != "" {
		f.Comment("On " + h.UpgradeSignal + ", the plugins whose files changed are upgraded (pluginkloader.Manifest.Upgrade).")
	}
	body := append(h.declareKinds(), jen.Return(jen.Id(manifestVar).Dot("Load").Call()))
	f.Func().Id(InitFunc).Params().Error().Block(body...)
	return render(f, "dynamic file")
}
