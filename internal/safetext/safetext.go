// Package safetext makes text that comes from untrusted files (a plugin's
// build information, a manifest, a peer's bytes) safe to show on a
// terminal: no escape sequence, carriage return or invisible character
// gets through as itself.
package safetext

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s with every rune that is neither printable (as
// unicode.IsPrint says) nor a newline or tab written as \uXXXX (a JSON
// escape too, so that escaped JSON stays JSON), and every byte that is
// not UTF-8 as \xXX. Text that needs no escaping is returned as is.
func Escape(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keep(r):
			b.WriteString(s[i : i+n])
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += n
	}
	return b.String()
}

func keep(r rune) bool { return r == '\n' || r == '\t' || unicode.IsPrint(r) }

func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || !keep(rune(c)) {
			return cleanSlow(s[i:])
		}
	}
	return true
}

func cleanSlow(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !keep(r) {
			return false
		}
	}
	return utf8.ValidString(s)
}

// writer escapes what it writes; see Writer.
type writer struct{ w io.Writer }

// Writer returns a writer that writes to w what it is given, escaped as
// [Escape] does. Each Write is escaped on its own, so a rune split
// between two writes is escaped as bytes: write whole strings.
func Writer(w io.Writer) io.Writer { return writer{w} }

func (w writer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.w, Escape(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Name returns a file name (or any one-line value from outside) for a
// message: as it is when every rune is printable and none is a newline or
// a tab, else quoted as Go quotes strings, so that a name cannot forge a
// log line or carry an escape sequence.
func Name(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	return s
}
