package loader

import (
	"context"

	"github.com/plugink/plugink/internal/pluginbuild"
	"github.com/plugink/plugink/runtime"
)

// BuildOptions says how [Loader.Build] builds a plugin. The zero value
// builds in the current directory's module with this program's settings;
// set Host to build for another program (see [ReadHost]).
type BuildOptions = pluginbuild.Options

// Build compiles a plugin for c into path, appending ".so" if path lacks
// it. c.NewFunc must be the name of the constructor (a string such as
// "NewClient"), exported by the package at c.Path; a func value, the form
// Load returns, is refused. c's names must follow the rules of package
// runtime (runtime.CheckPluginName and the others).
//
// Build writes the plugin's small main package (it declares
// var Plugin = runtime.Config{...} and the metadata that [Inspect] reads)
// and runs go build -buildmode=plugin inside the module of
// [BuildOptions].Dir, as the package <module>/_plugink/<type>/<name>,
// plus /<generation> with [BuildOptions].Generation. The package exists
// only in the go command's view (-overlay), so nothing is written into
// the module; its import path is the plugin's pluginpath, which is
// therefore the same for every build of one (type, name, generation) in a
// module, and different for different ones: a process can load a second
// generation of a plugin beside the first ([Loader.Upgrade]), never a
// second build of one. The output is written to a temporary file next to
// path and renamed over it, so that builds may run in parallel, even of
// the same plugin into the same file.
//
// By default the plugin is built with this program's settings, so that
// this program can load it. Errors are *[BuildError]s; a failed
// compilation carries the compiler's output.
func (l *Loader) Build(path string, c *runtime.Config) error {
	return l.BuildContext(context.Background(), path, c)
}

// BuildContext is [Loader.Build] with a context: cancelling it stops the
// go command (and its compilers) and fails the build, leaving the file at
// path as it was.
func (l *Loader) BuildContext(ctx context.Context, path string, c *runtime.Config) error {
	out, sum, err := l.build.Build(ctx, path, c, nil)
	if err != nil {
		return err
	}
	l.mu.Lock()
	if l.sums != nil { // copy on write: Load reads l.sums without the lock
		s := Sums{out: sum}
		for k, v := range l.sums {
			if k != out {
				s[k] = v
			}
		}
		l.sums = s
	}
	l.mu.Unlock()
	return nil
}
