package build

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/execbuild"
	"github.com/plugink/plugink/internal/signature"
	"github.com/plugink/plugink/internal/sums"
)

// executables builds the executables of procs (see execbuild), records
// each in the plugin directory's plugink.sum and signs it as [Plugins]
// does a .so.
func executables(ctx context.Context, ch *gen.Checked, procs []*gen.PluginDecl, dir, sumFile string, o Options, sign *signature.Signer, report func(Result)) []Result {
	var out []Result
	built := execbuild.Plugins(ctx, ch, procs, dir, execbuild.Options{Dir: filepath.Dir(ch.Manifest.File), Flags: o.Loader.Flags, Verbose: o.Loader.Verbose})
	for _, b := range built {
		r := Result{Plugin: b.Plugin, File: b.File, Duration: b.Duration, Err: b.Err}
		if r.Err == nil {
			r.Err = sums.Record(sumFile, b.File, b.Sum)
		}
		if r.Err == nil {
			r.SigChanged, r.Err = signature.SignFile(b.File, b.Sum, sign, true)
		}
		if r.Err == nil && sign != nil {
			r.SignedBy = sign.ID
		}
		report(r)
		out = append(out, r)
	}
	return out
}

// soFiles names, in err, the plugins that are built as .so files, when
// some (procs) are executables: err is about the former.
func soFiles(plugins, procs []*gen.PluginDecl, err error) error {
	if len(procs) == 0 {
		return err
	}
	names := make([]string, len(plugins))
	for i, p := range plugins {
		names[i] = p.String()
	}
	return fmt.Errorf("build %s as .so (a plugin without mode: process, or whose kind cannot cross a process): %w", strings.Join(names, ", "), err)
}
