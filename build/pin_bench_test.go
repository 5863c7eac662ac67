package build_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"golang.org/x/mod/module"

	"github.com/plugink/plugink/build"
	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/testmod"
	"github.com/plugink/plugink/loader"
)

// BenchmarkPinnedBuild compares building the third party's plugin of
// cmd/plugink's thirdparty story in its own module for an installed host
// (every module of its graph pinned to the host's, through a go.mod of its
// own) with building the same plugin inside the host's module. Each op
// rebuilds (Force); Go's build cache is warm for the packages, so the
// difference is what pinning adds: resolving and checking the module
// graph, and the link.
//
//	go test -run '^$' -bench PinnedBuild -benchtime 5x ./build/
func BenchmarkPinnedBuild(b *testing.B) {
	work, host := thirdParty(b)
	run := func(b *testing.B, manifest string, o build.Options) {
		m, err := gen.ReadManifest(manifest)
		if err != nil {
			b.Fatal(err)
		}
		o.Force = true
		if _, err := build.Plugins(context.Background(), m, o); err != nil {
			b.Fatal(err)
		}
	}
	inModule := build.Options{Loader: loader.BuildOptions{Host: host.BuildInfo}}
	outOfModule := build.Options{Host: host}
	run(b, filepath.Join(work, "hostsrc", "plugins.yaml"), inModule) // warm the caches
	run(b, filepath.Join(work, "plug", "plugink.yaml"), outOfModule)
	b.Run("in-module", func(b *testing.B) {
		for b.Loop() {
			run(b, filepath.Join(work, "hostsrc", "plugins.yaml"), inModule)
		}
	})
	b.Run("out-of-module", func(b *testing.B) {
		for b.Loop() {
			run(b, filepath.Join(work, "plug", "plugink.yaml"), outOfModule)
		}
	})
}

// thirdParty lays out the thirdparty story's files, publishes its modules
// to a file:// proxy, installs the host by version and returns the work
// directory and the host. The process's environment points the go command
// at the proxy for the rest of the benchmark.
func thirdParty(b *testing.B) (string, *loader.Host) {
	root := testmod.Root(b)
	ar, err := txtar.ParseFile(filepath.Join(root, "cmd", "plugink", "testdata", "script", "thirdparty.txtar"))
	if err != nil {
		b.Fatal(err)
	}
	work := b.TempDir()
	files := map[string]string{}
	for _, f := range ar.Files {
		files[f.Name] = string(f.Data)
	}
	files["hostsrc/third/third.go"] = files["plug/third/third.go"] // the same plugin, inside the host's module
	files["hostsrc/plugins.yaml"] = strings.ReplaceAll(files["plug/plugink.yaml"], "example.com/plug/third", "example.com/host/third")
	testmod.Write(b, work, files)
	download := testmod.FileURL(filepath.Join(strings.TrimSpace(testmod.Go(b, work, "env", "GOMODCACHE")), "cache", "download"))
	b.Setenv("GOPROXY", testmod.FileURL(filepath.Join(work, "proxy"))+","+download)
	b.Setenv("GOSUMDB", "off")
	b.Setenv("GOMODCACHE", filepath.Join(work, "modcache"))
	b.Setenv("GOFLAGS", "-modcacherw")
	b.Setenv("GOBIN", filepath.Join(work, "bin"))
	b.Setenv("GOWORK", "off")
	for _, v := range []struct{ dir, path, version string }{
		{root, "github.com/plugink/plugink", "v0.0.1-pin"}, {"fw11", "example.com/fw", "v1.1.0"}, {"fw10", "example.com/fw", "v1.0.0"},
		{"shared10", "example.com/shared", "v1.0.0"}, {"shared12", "example.com/shared", "v1.2.0"},
	} {
		dir := v.dir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(work, dir)
		}
		if err := testmod.Publish(filepath.Join(work, "proxy"), module.Version{Path: v.path, Version: v.version}, dir); err != nil {
			b.Fatal(err)
		}
	}
	hostsrc := filepath.Join(work, "hostsrc")
	testmod.Go(b, hostsrc, "mod", "tidy")
	genFiles, _, err := gen.Generate(context.Background(), gen.Options{Dir: filepath.Join(hostsrc, "cmd", "svc")})
	if err != nil {
		b.Fatal(err)
	}
	if err := gen.WriteFiles(genFiles); err != nil {
		b.Fatal(err)
	}
	testmod.Go(b, hostsrc, "mod", "tidy")
	if err := testmod.Publish(filepath.Join(work, "proxy"), module.Version{Path: "example.com/host", Version: "v1.0.0"}, hostsrc); err != nil {
		b.Fatal(err)
	}
	testmod.Go(b, work, "install", "-tags", "plugink_dynamic", "example.com/host/cmd/svc@v1.0.0")
	testmod.Go(b, filepath.Join(work, "plug"), "mod", "tidy")
	host, err := loader.ReadHost(filepath.Join(work, "bin", "svc"))
	if err != nil {
		b.Fatal(err)
	}
	return work, host
}
