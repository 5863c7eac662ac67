package safetext

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain v1.2.3 h1:abc=":      "plain v1.2.3 h1:abc=",
		"two\nlines\tand tab":       "two\nlines\tand tab",
		"héllo, 世界":                 "héllo, 世界",
		"\x1b[2Jcleared":            `\u001b[2Jcleared`,
		"over\rwrite":               `over\u000dwrite`,
		"csi\u009b31m":              `csi\u009b31m`,
		"bad\xffbyte":               `bad\xffbyte`,
		"zero\u200bwidth":           `zero\u200bwidth`,
		"bidi\u202eevil":            `bidi\u202eevil`,
		"del\x7f":                   `del\u007f`,
		"tag\U000E0041":             `tag\U000e0041`,
		"rune error \ufffd is kept": "rune error \ufffd is kept",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriterKeepsJSON(t *testing.T) {
	v := map[string]string{"k": "\x1b]0;title\x07\u009b\u2028\u200b"}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := Writer(&out).Write(b); err != nil {
		t.Fatal(err)
	}
	var back map[string]string
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatalf("escaped JSON %s: %v", out.Bytes(), err)
	}
	if back["k"] != v["k"] {
		t.Errorf("round trip: %q, want %q", back["k"], v["k"])
	}
}

// FuzzEscape: the output is valid UTF-8 of printable runes, newlines and
// tabs only, and clean input comes back unchanged.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a", "\x1b[0m", "\xff\xfe", "é\u009b", "\U0010ffff", "\t\n\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Escape(%q) = %q: not UTF-8", s, out)
		}
		for _, r := range out {
			if r != '\n' && r != '\t' && !unicode.IsPrint(r) {
				t.Fatalf("Escape(%q) = %q: has %U", s, out, r)
			}
		}
		if !strings.Contains(out, `\`) && out != s {
			t.Fatalf("Escape(%q) = %q changed text without escaping", s, out)
		}
	})
}

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"plugins/client_brpc.so":    "plugins/client_brpc.so",
		"dir with space/ünïcode.so": "dir with space/ünïcode.so",
		"a.so\nload b.so: ok":       `"a.so\nload b.so: ok"`,
		"a\x1b[31m.so":              `"a\x1b[31m.so"`,
		"tab\there":                 `"tab\there"`,
		"bad\xffutf8":               `"bad\xffutf8"`,
		"\u200binvisible":           `"\u200binvisible"`,
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %s, want %s", in, got, want)
		}
	}
}
