package runtime

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The name rules. They are written once, here, and used by every part of
// plugink that takes a name: [DeclareIn], [Registry.Init], [Kind.Register],
// the manifest parser, the code generators and the loader's Build. Each
// Check function returns nil for a valid name, or an error that says what
// is wrong and what the rule is.
//
// Kind and plugin names become command-line flags (--client), environment
// variables (MICRO_CLIENT) and file names (client_brpc.so), possibly on
// case-insensitive file systems, so they are short, lower-case ASCII, and a
// kind name has no '_': then the file name <kind>_<plugin>.so, split at its
// first '_', gives back the pair, and no two kinds share an environment
// variable. They are also elements of the import path of the package
// loader.Build generates (<module>/_plugink/<kind>/<plugin>), so neither
// ends with '.' nor is a name Windows reserves, as the go command requires.
const (
	// MaxNameLen is the length limit, in bytes, of a kind or plugin name.
	MaxNameLen = 64
	// MaxImportPathLen is the length limit, in bytes, of an import path.
	MaxImportPathLen = 1024

	// KindNameRule says what a kind name is.
	KindNameRule = "a kind name is 1 to 64 lower-case letters, digits and '-', starting with a letter"
	// PluginNameRule says what a plugin name is. Neither kind nor plugin
	// name may also be, before its first '.', a name Windows reserves (con,
	// nul, com1, ...), and a plugin name does not end with '.'.
	PluginNameRule = "a plugin name is 1 to 64 lower-case letters, digits, '_', '-' and '.', starting with a letter or digit"
)

// CheckKindName reports whether s may name a kind: see [KindNameRule]. The
// error says what is wrong, without repeating s ("has 'A' at byte 0: a
// kind name is ..."), for the caller to prefix with the name or its place.
func CheckKindName(s string) error {
	return checkName(s, KindNameRule, func(i int, c byte) bool {
		return lower(c) || i > 0 && (digit(c) || c == '-')
	})
}

// CheckPluginName reports whether s may name a plugin (an implementation of
// a kind): see [PluginNameRule]. Like [CheckKindName]'s, its error does not
// repeat s.
func CheckPluginName(s string) error {
	return checkName(s, PluginNameRule, func(i int, c byte) bool {
		return lower(c) || digit(c) || i > 0 && (c == '_' || c == '-' || c == '.')
	})
}

// CheckFuncName reports whether s may name a plugin's constructor in its
// package: an exported Go identifier. Its error does not repeat s.
func CheckFuncName(s string) error {
	// Go's keywords are all lower-case, so an exported identifier is an
	// upper-case letter, then letters, digits and '_'.
	for i, r := range s {
		if !(unicode.IsLetter(r) || r == '_' || i > 0 && unicode.IsDigit(r)) || i == 0 && !unicode.IsUpper(r) {
			return errors.New("is not an exported Go identifier, such as NewClient")
		}
	}
	if s == "" || len(s) > MaxImportPathLen {
		return errors.New("is not an exported Go identifier, such as NewClient")
	}
	return nil
}

func lower(c byte) bool { return c >= 'a' && c <= 'z' }
func digit(c byte) bool { return c >= '0' && c <= '9' }

// checkName applies a byte-wise name rule, and what the go command asks of
// an import path element.
func checkName(s, rule string, ok func(i int, c byte) bool) error {
	switch {
	case s == "":
		return fmt.Errorf("is empty: %s", rule)
	case len(s) > MaxNameLen:
		return fmt.Errorf("is %d bytes long: %s", len(s), rule)
	}
	for i := 0; i < len(s); i++ {
		if !ok(i, s[i]) {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return fmt.Errorf("has %q at byte %d: %s", r, i, rule)
		}
	}
	switch {
	case s[len(s)-1] == '.':
		return errors.New("ends with '.', which the go command refuses at the end of an import path element")
	case windowsReserved(s):
		return errors.New("is a name Windows reserves (con, nul, com1, ...), which the go command refuses in an import path")
	}
	return nil
}

// CheckImportPath reports whether path is a valid import path, by the rules
// the go command applies in module mode: slash-separated elements of ASCII
// letters, digits and "-._~+", none empty, none made of dots only, none
// ending in a dot, none a name Windows reserves (CON, NUL, COM1, ...) or
// that looks like a Windows short name (a '~' followed by digits); no
// leading '-'. It also limits the length to [MaxImportPathLen] bytes. Its
// error does not repeat path.
func CheckImportPath(path string) error {
	switch {
	case path == "":
		return errors.New("is empty")
	case len(path) > MaxImportPathLen:
		return fmt.Errorf("is %d bytes long, over %d", len(path), MaxImportPathLen)
	case !utf8.ValidString(path):
		return errors.New("is not valid UTF-8")
	case path[0] == '-':
		return errors.New("starts with '-'")
	}
	for elem := range strings.SplitSeq(path, "/") {
		if err := checkPathElem(elem); err != nil {
			return err
		}
	}
	return nil
}

// reservedNames are the file names Windows reserves, which no import path
// element may start with (up to its first dot), in any case.
var reservedNames = []string{"CON", "PRN", "AUX", "NUL",
	"COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
	"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9"}

// windowsReserved reports whether the path element elem is, up to its
// first dot, a name Windows reserves.
func windowsReserved(elem string) bool {
	short, _, _ := strings.Cut(elem, ".")
	for _, bad := range reservedNames {
		if strings.EqualFold(short, bad) {
			return true
		}
	}
	return false
}

func checkPathElem(elem string) error {
	switch {
	case elem == "":
		return errors.New("has an empty element (a leading, trailing or double slash)")
	case strings.Trim(elem, ".") == "":
		return fmt.Errorf("has the element %q", elem)
	case elem[len(elem)-1] == '.':
		return fmt.Errorf("has the element %q, which ends with a dot", elem)
	}
	for _, r := range elem {
		if !(r < utf8.RuneSelf && (lower(byte(r)) || digit(byte(r)) || r >= 'A' && r <= 'Z' || strings.ContainsRune("-._~+", r))) {
			return fmt.Errorf("has %q; an import path is ASCII letters, digits, \"-._~+\" and '/'", r)
		}
	}
	if windowsReserved(elem) {
		return fmt.Errorf("has the element %q, a name Windows reserves", elem)
	}
	short, _, _ := strings.Cut(elem, ".")
	if i := strings.LastIndexByte(short, '~'); i >= 0 && i < len(short)-1 && strings.Trim(short[i+1:], "0123456789") == "" {
		return fmt.Errorf("has the element %q, which looks like a Windows short name ('~' and digits)", elem)
	}
	return nil
}

// upgradeSignals are the signals a manifest's dynamic.upgrade_signal may
// name: a host gives them no other meaning (SIGINT and SIGTERM stop it).
var upgradeSignals = []string{"SIGHUP", "SIGUSR1", "SIGUSR2"}

// CheckUpgradeSignal reports whether name may be a manifest's
// dynamic.upgrade_signal: the signal on which a dynamic host upgrades the
// plugins whose files changed (loader.Manifest). Its error does not repeat
// name.
func CheckUpgradeSignal(name string) error {
	if slices.Contains(upgradeSignals, name) {
		return nil
	}
	return fmt.Errorf("is not a signal a host may upgrade on; want one of %s", strings.Join(upgradeSignals, ", "))
}

// FileName returns the name of c's plugin file, "<type>_<name>.so" (for
// example "client_brpc.so"). The name rules make it one-to-one: distinct
// (kind, name) pairs of valid names never share a file name.
func (c *Config) FileName() string { return c.Type + "_" + c.Name + ".so" }

// ExecutableName returns the name of c's executable in process mode on
// goos: "<type>_<name>" (for example "client_brpc"), with ".exe" on
// windows; one-to-one as FileName is.
func (c *Config) ExecutableName(goos string) string {
	if goos == "windows" {
		return c.Type + "_" + c.Name + ".exe"
	}
	return c.Type + "_" + c.Name
}

// Quote quotes s for an error message, as strconv.Quote does, cut to its
// first 80 bytes (marked with "...") so that a hostile name cannot flood a
// terminal.
func Quote(s string) string {
	const limit = 80
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}
