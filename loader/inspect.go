package loader

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/pluginbuild"
	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/loader/internal/pluginfile"
	"github.com/plugink/plugink/runtime"
)

// Info describes a plugin file, as read by [Inspect] without opening it.
type Info struct {
	// File is the path Inspect was given.
	File string
	// PluginPath is the import path Go registers the plugin under; a
	// process can load one plugin per pluginpath.
	PluginPath string
	// BuildInfo is the file's Go build information: Go version, build
	// settings and the modules it links.
	BuildInfo *debug.BuildInfo
	// Config is the plugin's description, from the metadata that Build
	// embeds. Its NewFunc is the constructor's name (a string), the form
	// Build takes. Config is nil for a plugin plugink did not build.
	Config *runtime.Config
	// Plugink is the version of plugink that generated the plugin's main
	// package; "" when Config is nil.
	Plugink string
	// SHA256 is the file's checksum (SHA-256, lower-case hex).
	SHA256 string
}

// maxMetadata bounds the size of a plugin's metadata symbol.
const maxMetadata = 64 << 10

// Inspect reads a plugin file without opening it: it checks that the file is
// a Go plugin, and returns its build information, pluginpath, checksum and
// the Config metadata that [Loader.Build] embeds. Since nothing in the file
// runs, Inspect is safe on files you do not trust, and works on plugins
// built for another platform.
func Inspect(path string) (*Info, error) {
	info, err := inspect(path, true)
	if err != nil {
		return nil, &LoadError{Op: "inspect", Path: path, Err: err}
	}
	return info, nil
}

// inspect is Inspect without the error's wrapping; withSum says whether
// to compute the checksum.
func inspect(path string, withSum bool) (*Info, error) {
	f, fi, err := fsx.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pf, err := pluginfile.Read(f, fi.Size())
	if err != nil {
		return nil, err
	}
	info := &Info{File: path, PluginPath: pf.PluginPath, BuildInfo: pf.BuildInfo}
	suffix := []byte("." + pluginbuild.MetadataVar)
	syms, err := pf.Symbols(pluginfile.Query{Max: 64, Size: maxMetadata, Match: func(name []byte) bool {
		return bytes.HasSuffix(name, suffix) || string(name) == pluginfile.ThisPluginPath
	}})
	if err != nil {
		return nil, err
	}
	var metas []pluginfile.Symbol
	for _, s := range syms {
		if s.Name == pluginfile.ThisPluginPath {
			info.PluginPath = string(s.Data)
		} else {
			metas = append(metas, s)
		}
	}
	if meta := pickMetadata(metas, info.PluginPath); meta != nil {
		if err := decodeMetadata(info, meta.Data); err != nil {
			return nil, err
		}
	}
	if withSum {
		if info.SHA256, err = sums.File(path); err != nil {
			return nil, err
		}
	}
	return info, nil
}

// pickMetadata returns the metadata symbol of the plugin's main package:
// the one named <pluginpath>.PluginkMetadata (Mach-O prefixes names with
// '_'), or the only candidate when the pluginpath is unknown.
func pickMetadata(syms []pluginfile.Symbol, pluginpath string) *pluginfile.Symbol {
	want := pluginpath + "." + pluginbuild.MetadataVar
	for i, s := range syms {
		if s.Name == want || s.Name == "_"+want {
			return &syms[i]
		}
	}
	if pluginpath == "" && len(syms) == 1 {
		return &syms[0]
	}
	return nil
}

func decodeMetadata(info *Info, data []byte) error {
	var m pluginbuild.Metadata
	// The data may run past the JSON value (Mach-O records no symbol
	// sizes): decode the first value only.
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&m); err != nil {
		return fmt.Errorf("%w: malformed %s metadata: %w", ErrNotPlugin, pluginbuild.MetadataVar, err)
	}
	info.Config = &runtime.Config{Name: m.Name, Type: m.Type, Path: m.Path, NewFunc: m.NewFunc}
	info.Plugink = m.Plugink
	return nil
}
