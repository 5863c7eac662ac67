package gen_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/plugink/plugink/gen"
)

// BenchmarkBuildPlugins builds the 10 plugins of a throwaway service with
// BuildPlugins: every plugin rebuilt (Force) in parallel and one at a time,
// and a no-op rerun that finds every plugin up to date. "Rebuilt" means
// plugink regenerates and relinks each .so; Go's build cache is warm for
// the packages, as on a developer's machine after the first build.
//
//	go test -run '^$' -bench BuildPlugins -benchtime 3x ./gen/
func BenchmarkBuildPlugins(b *testing.B) {
	hostDir, _ := serviceModule(b, 10)
	m, err := gen.ReadManifest(filepath.Join(hostDir, gen.ManifestFile))
	if err != nil {
		b.Fatal(err)
	}
	build := func(b *testing.B, o gen.BuildOptions) {
		if _, err := gen.BuildPlugins(context.Background(), m, o); err != nil {
			b.Fatal(err)
		}
	}
	build(b, gen.BuildOptions{}) // warm Go's build cache once
	b.Run("rebuild-parallel", func(b *testing.B) {
		for b.Loop() {
			build(b, gen.BuildOptions{Force: true})
		}
	})
	b.Run("rebuild-sequential", func(b *testing.B) {
		for b.Loop() {
			build(b, gen.BuildOptions{Force: true, Jobs: 1})
		}
	})
	b.Run("no-op", func(b *testing.B) {
		for b.Loop() {
			build(b, gen.BuildOptions{})
		}
	})
}
