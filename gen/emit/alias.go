package emit

import (
	"go/token"
	"go/types"
	"strings"
	"unicode"
)

// PluginAlias derives an import alias from an import path: its last element,
// or the one before a major-version suffix such as /v2, with characters that
// cannot appear in an identifier replaced by '_'. Go's keywords and
// predeclared identifiers, and the names the generated files use, get the
// suffix "pkg".
func PluginAlias(path string) string {
	elems := strings.Split(path, "/")
	last := elems[len(elems)-1]
	if len(elems) > 1 && isMajorVersion(last) {
		last = elems[len(elems)-2]
	}
	var b strings.Builder
	for _, r := range last {
		if r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	alias := b.String()
	if alias == "" || unicode.IsDigit([]rune(alias)[0]) {
		alias = "p" + alias
	}
	if reservedAlias(alias) {
		alias += "pkg"
	}
	return alias
}

// isMajorVersion reports whether elem is a module major-version suffix (v2, v3, ...).
func isMajorVersion(elem string) bool {
	if len(elem) < 2 || elem[0] != 'v' || elem[1] == '0' {
		return false
	}
	for _, r := range elem[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// reservedAlias reports whether alias is not usable as an import name: a
// keyword, a predeclared identifier, or "_".
func reservedAlias(alias string) bool {
	return alias == "_" || token.IsKeyword(alias) || types.Universe.Lookup(alias) != nil
}
