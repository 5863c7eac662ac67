package execbuild

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/plugink/plugink/gen"
)

// Result is the outcome of building one plugin's executable.
type Result struct {
	// Plugin is the manifest's entry.
	Plugin *gen.PluginDecl
	// File is the executable's path.
	File string
	// Sum is its SHA-256 in hex, if it was built.
	Sum string
	// Duration is how long the build took.
	Duration time.Duration
	// Err is why the build failed, or nil.
	Err error
}

// Split returns, of plugins, those to build as executables (mode: process;
// with all, also every plugin whose kind can cross a process) and the
// others, type-checking the manifest (tags as gen takes them) only if a
// plugin may be one. A plugin with mode: process whose kind cannot cross
// is an error naming why.
func Split(ctx context.Context, m *gen.Manifest, plugins []*gen.PluginDecl, all bool, tags []string) (procs, others []*gen.PluginDecl, ch *gen.Checked, err error) {
	need := all
	for _, p := range plugins {
		need = need || p.Process
	}
	if !need {
		return nil, plugins, nil, nil
	}
	if ch, err = gen.Check(ctx, m, gen.Options{Dir: filepath.Dir(m.File), Tags: tags}); err != nil {
		return nil, nil, nil, err
	}
	for _, p := range plugins {
		if p.Process || all && glueOf(ch, p) != nil {
			procs = append(procs, p)
		} else {
			others = append(others, p)
		}
	}
	return procs, others, ch, nil
}

// glueOf returns the glue of p's kind, nil if it cannot cross.
func glueOf(ch *gen.Checked, p *gen.PluginDecl) *gen.CheckedKind {
	for _, k := range ch.Kinds {
		if k.Name == p.Type && k.Glue != nil {
			return k
		}
	}
	return nil
}

// Plugins builds the executable of each of procs into dir, one at a time
// (the go command builds in parallel itself).
func Plugins(ctx context.Context, ch *gen.Checked, procs []*gen.PluginDecl, dir string, o Options) []Result {
	goos, err := GOOS(ctx, o.Dir)
	out := make([]Result, len(procs))
	for i, p := range procs {
		start := time.Now()
		r := Result{Plugin: p, File: filepath.Join(dir, p.ExecutableName(goos))}
		k := glueOf(ch, p)
		var src []byte
		switch {
		case err != nil:
			r.Err = err
		case k == nil:
			r.Err = fmt.Errorf("%s: plugin %s: kind %s cannot cross a process", p.Pos, p, p.Type)
		default:
			if src, r.Err = k.Glue.Plugin(p.Name, p.Path, p.Func()); r.Err == nil {
				r.Sum, r.Err = Build(ctx, p.Type, p.Name, src, r.File, o)
			}
			if r.Err != nil {
				r.Err = fmt.Errorf("%s: plugin %s: %w", p.Pos, p, r.Err)
			}
		}
		r.Duration = time.Since(start)
		out[i] = r
	}
	return out
}
