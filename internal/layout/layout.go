// Package layout is where plugink puts the packages it generates and
// copies inside a module, only in the go command's view (through
// -overlay): the main package of each plugin build,
// <module>/_plugink/<type>/<name>[/<generation>], and the generation's
// copies of the plugin's own packages, <package>/_plugink/<generation>.
// A plugin's pluginpath is its main package's import path, so the loader
// reads a generation back from it.
package layout

import (
	"fmt"
	"strings"

	"github.com/plugink/plugink/runtime"
)

// Dir is the path element under which plugink's generated and copied
// packages live.
const Dir = "_plugink"

// MaxGenerationLen is the length limit of a generation.
const MaxGenerationLen = 32

// generationLen is how many hex digits of a build's cache key its
// generation takes, after its "g".
const generationLen = 15

// MainPackageDir returns the directory of the main package of the plugin
// c, relative to the module root, slash-separated: _plugink/<type>/<name>,
// then /<gen> unless gen is "".
func MainPackageDir(c *runtime.Config, gen string) string {
	rel := Dir + "/" + c.Type + "/" + c.Name
	if gen != "" {
		rel += "/" + gen
	}
	return rel
}

// ProcessMainDir returns the directory of the main package of a process
// plugin's executable, relative to the host package's directory,
// slash-separated: _plugink/_process/<type>/<name> (no kind name begins
// with '_', so it never meets a .so's).
func ProcessMainDir(kind, name string) string {
	return Dir + "/_process/" + kind + "/" + name
}

// MainPackage returns the import path of the main package of the plugin c
// built in the module modulePath as the generation gen ("" for none): the
// plugin's pluginpath.
func MainPackage(modulePath string, c *runtime.Config, gen string) string {
	return modulePath + "/" + MainPackageDir(c, gen)
}

// CopyPath returns the import path of the generation gen's copy of the
// package pkg: <pkg>/_plugink/<gen>.
func CopyPath(pkg, gen string) string {
	return pkg + "/" + Dir + "/" + gen
}

// Generation returns the generation of a build whose cache key (hex) is
// key: the same inputs give the same generation.
func Generation(key string) string {
	return "g" + key[:generationLen]
}

// CheckGeneration reports whether g may be a generation: at most
// MaxGenerationLen lower-case letters and digits ("" is no generation).
func CheckGeneration(g string) error {
	if len(g) > MaxGenerationLen {
		return fmt.Errorf("generation %s is %d bytes long, over %d", runtime.Quote(g), len(g), MaxGenerationLen)
	}
	for i := 0; i < len(g); i++ {
		if c := g[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return fmt.Errorf("generation %s has %q: want lower-case letters and digits", runtime.Quote(g), c)
		}
	}
	return nil
}

// IsGeneration reports whether pluginpath is that of a build of the
// plugin c with a generation: .../_plugink/<type>/<name>/<generation>.
func IsGeneration(pluginpath string, c *runtime.Config) bool {
	i := strings.LastIndex(pluginpath, "/")
	if i < 0 {
		return false
	}
	dir, last := pluginpath[:i], pluginpath[i+1:]
	return strings.HasSuffix(dir, "/"+MainPackageDir(c, "")) && last != "" && CheckGeneration(last) == nil
}
