package build_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/plugink/plugink/build"
	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/testmod"
)

// BenchmarkBuildPlugins builds the 10 plugins of a throwaway service with
// BuildPlugins: every plugin rebuilt (Force) in parallel and one at a time,
// and a no-op rerun that finds every plugin up to date. "Rebuilt" means
// plugink regenerates and relinks each .so; Go's build cache is warm for
// the packages, as on a developer's machine after the first build.
//
//	go test -run '^$' -bench BuildPlugins -benchtime 3x ./build/
func BenchmarkBuildPlugins(b *testing.B) {
	hostDir, _ := testmod.Service(b, 10)
	m, err := gen.ReadManifest(filepath.Join(hostDir, gen.ManifestFile))
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, o build.Options) {
		if _, err := build.Plugins(context.Background(), m, o); err != nil {
			b.Fatal(err)
		}
	}
	run(b, build.Options{}) // warm Go's build cache once
	b.Run("rebuild-parallel", func(b *testing.B) {
		for b.Loop() {
			run(b, build.Options{Force: true})
		}
	})
	b.Run("rebuild-sequential", func(b *testing.B) {
		for b.Loop() {
			run(b, build.Options{Force: true, Jobs: 1})
		}
	})
	b.Run("no-op", func(b *testing.B) {
		for b.Loop() {
			run(b, build.Options{})
		}
	})
}
