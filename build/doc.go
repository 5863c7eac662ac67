// Package build builds the plugins a manifest lists as .so files, and
// reports their state: the tool side of plugink's dynamic path, used by the
// plugink command. It reads manifests with package gen and builds each
// plugin with package loader's Build, in parallel, skipping plugins whose
// inputs did not change, and recording checksums in plugink.sum. Each
// build is a generation, with a pluginpath and copies of the plugin's own
// packages of its own, so that a process can load it beside earlier builds.
//
//	m, err := gen.ReadManifest("cmd/svc/plugink.yaml")
//	results, err := build.Plugins(ctx, m, build.Options{})
//	st, err := build.List(ctx, m, "")
//
// Programs that load plugins do not link this package: it imports the
// generator.
package build
