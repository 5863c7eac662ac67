// Package lineage keeps a Loader's account of the generations of each
// plugin it registered (every upgrade to a new build adds one; Go can
// never unload the others) and of how many files of each plugin the
// dynamic linker mapped, which the Loader's limit counts. A Book is not
// safe for concurrent use: its Loader serializes it.
package lineage

import (
	"errors"
	"fmt"

	"github.com/plugink/plugink/internal/layout"
	"github.com/plugink/plugink/runtime"
)

// ErrNoGeneration reports a file with the pluginpath of a generation
// loaded before and other contents (or contents that can no longer be
// compared).
var ErrNoGeneration = errors.New("same pluginpath as the generation loaded, other contents")

// Generation is one loaded build of a plugin.
type Generation struct {
	// Config is what its file's Plugin variable holds.
	Config *runtime.Config
	// PluginPath is its file's pluginpath.
	PluginPath string
}

// Lineage is the generations of one plugin, and which is registered.
type Lineage struct {
	// Gens are the generations, in the order they were loaded.
	Gens []Generation
	// Current is the index in Gens of the one registered.
	Current int
}

// Book is the lineages of a Loader's plugins, by "kind/name", and how
// many files of each the dynamic linker mapped.
type Book struct {
	plugins map[string]*Lineage
	files   map[string]int
}

// Get returns the lineage of the plugin key (nil if none) and how many of
// its files were mapped.
func (b *Book) Get(key string) (*Lineage, int) {
	return b.plugins[key], b.files[key]
}

// Count counts a file of the plugin key that the dynamic linker mapped.
func (b *Book) Count(key string) {
	if b.files == nil {
		b.files = map[string]int{}
	}
	b.files[key]++
}

// First records cfg, opened from a file with pluginpath, as the first
// generation of its plugin, unless the book has one already.
func (b *Book) First(cfg *runtime.Config, pluginpath string) {
	key := cfg.String()
	if _, ok := b.plugins[key]; ok {
		return
	}
	b.add(key, &Lineage{Gens: []Generation{{Config: cfg, PluginPath: pluginpath}}})
	b.Count(key)
}

// Add records g as the newest generation of the plugin key, registered
// now, and returns its lineage.
func (b *Book) Add(key string, g Generation) *Lineage {
	lin := b.plugins[key]
	if lin == nil {
		lin = &Lineage{}
		b.add(key, lin)
	}
	lin.Gens = append(lin.Gens, g)
	lin.Current = len(lin.Gens) - 1
	return lin
}

func (b *Book) add(key string, lin *Lineage) {
	if b.plugins == nil {
		b.plugins = map[string]*Lineage{}
	}
	b.plugins[key] = lin
}

// Find returns the index of the generation of lin that a file of want,
// with the pluginpath and checksum sum, is; -1 if none. A file with the
// pluginpath of a generation loaded and other bytes (sumOf gives the
// checksum of a generation's file) is an error wrapping ErrNoGeneration.
// A nil lineage has no generations.
func (lin *Lineage) Find(want *runtime.Config, pluginpath, sum string, sumOf func(*runtime.Config) string) (int, error) {
	if lin == nil {
		return -1, nil
	}
	for i, g := range lin.Gens {
		if g.PluginPath != pluginpath {
			continue
		}
		// The process holds a module with this pluginpath: only the same
		// bytes can be that generation.
		if sumOf(g.Config) != sum {
			hint := "give each build its own generation: plugink build derives it from the build's inputs (BuildOptions.Generation)"
			if !layout.IsGeneration(pluginpath, want) {
				hint = "rebuild it with plugink build, which gives each build its own pluginpath (BuildOptions.Generation)"
			}
			return -1, runtime.WithHint(fmt.Errorf("%w: %s, generation %d, pluginpath %q", ErrNoGeneration, want, i+1, pluginpath), hint)
		}
		return i, nil
	}
	return -1, nil
}
