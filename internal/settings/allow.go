package settings

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ErrUntrusted reports a host's build setting that plugink does not pass
// to go build: its value is not one the setting's allowlist accepts.
var ErrUntrusted = errors.New("a build setting of the host that plugink does not pass to go build")

// Each setting's allowlist, by what its values are.
var (
	// word is a value of an environment variable such as GOOS, GOAMD64,
	// GOEXPERIMENT or GOFIPS140: letters, digits and a few separators.
	word = regexp.MustCompile(`^[A-Za-z0-9_.,=+-]*$`)
	// tag is one build tag.
	tag = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)
	// pattern is the package pattern before a -gcflags or -asmflags list.
	pattern = regexp.MustCompile(`^[A-Za-z0-9_./~+-]+(\.\.\.)?$`)
	// compilerFlags are the flags of go tool compile and go tool asm that
	// change code and read or write nothing but the package: every flag
	// that names a file (-cpuprofile, -o, -importcfg, -trace, ...) is
	// absent.
	compilerFlags = regexp.MustCompile(`^-(N|l|l=[0-9]|B|C|m|m=[0-9]|S|e|w|h|live|smallframes|std|complete|race|msan|asan|shared|dynlink|` +
		`dwarf=(true|false)|dwarflocationlists(=(true|false))?|c=[0-9]+|spectre=[a-z,]*|wb=(true|false)|d=[A-Za-z0-9_=,/.-]+|D=?[A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_.]*)?)$`)
	// cFlags are the C compiler and linker flags (CGO_CFLAGS and the
	// others) that change code and run nothing: optimization, debug
	// information, macros, warnings, code generation (-f and -m, but not
	// those that load a plugin or write a profile or dump), the standard,
	// include and library directories and libraries. -wrapper, -B, -Wl,
	// -Wa, -Wp, -specs, @file and the rest are not in it.
	cFlags = regexp.MustCompile(`^-(O[0-3sgz]?|Ofast|g|g[0-3]|ggdb[0-3]?|gdwarf(-[0-9])?|D[A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_.]*)?|U[A-Za-z_][A-Za-z0-9_]*|` +
		`W[a-z][a-z0-9-]*(=[0-9]+)?|f[A-Za-z][A-Za-z0-9-]*(=[A-Za-z0-9_.,-]+)?|m[a-z][a-z0-9-]*(=[A-Za-z0-9_.,-]+)?|std=[a-z0-9+]+|pthread|pipe|` +
		`[IL]/[A-Za-z0-9_./+-]+|l[A-Za-z0-9_.+-]+)$`)
	// cFlagsNever are the -f and -m flags the patterns above would let
	// through that load code or write files.
	cFlagsNever = regexp.MustCompile(`^-f(plugin|profile|dump|record|debug-prefix|stack-usage|callgraph|opt-info|save|auto-profile|lto)`)
)

// check reports why value may not be passed to go build as the setting s.
func check(s Setting, value string) error {
	if strings.ContainsAny(value, "\x00\n\r") {
		return errors.New("a control character")
	}
	switch {
	case s.Bool:
		if value != "true" && value != "false" {
			return errors.New("want true or false")
		}
	case s.Key == "-tags":
		for _, t := range strings.Split(value, ",") {
			if t != "" && !tag.MatchString(t) {
				return fmt.Errorf("tag %s: want letters, digits, '_' and '.'", strconv.Quote(t))
			}
		}
	case s.Key == "-gcflags" || s.Key == "-asmflags":
		return checkCompilerFlags(value)
	case s.Key == "-pgo":
		if !filepath.IsAbs(value) {
			return errors.New("want an absolute path")
		}
	case strings.HasPrefix(s.Key, "CGO_") && strings.HasSuffix(s.Key, "FLAGS"):
		for _, f := range strings.Fields(value) {
			if !cFlags.MatchString(f) || cFlagsNever.MatchString(f) {
				return fmt.Errorf("%s is not among the C flags plugink passes on (optimization, debug information, macros, warnings, code generation, include and library directories)", strconv.Quote(f))
			}
		}
	case s.Key == "CGO_ENABLED":
		if value != "0" && value != "1" {
			return errors.New("want 0 or 1")
		}
	case !s.Flag:
		if !word.MatchString(value) {
			return errors.New("want letters, digits and , . _ = + -")
		}
	default:
		return errors.New("no allowlist for this setting")
	}
	return nil
}

// checkCompilerFlags checks a -gcflags or -asmflags value: an optional
// package pattern and '=', then flags of compilerFlags.
func checkCompilerFlags(value string) error {
	fields := strings.Fields(value)
	if len(fields) > 0 {
		if p, rest, ok := strings.Cut(fields[0], "="); ok && !strings.HasPrefix(p, "-") {
			if !pattern.MatchString(p) {
				return fmt.Errorf("package pattern %s", strconv.Quote(p))
			}
			fields[0] = rest
			if rest == "" {
				fields = fields[1:]
			}
		}
	}
	if i := slices.IndexFunc(fields, func(f string) bool { return !compilerFlags.MatchString(f) }); i >= 0 {
		return fmt.Errorf("%s is not among the compiler flags plugink passes on (those that change code and name no file)", strconv.Quote(fields[i]))
	}
	return nil
}
