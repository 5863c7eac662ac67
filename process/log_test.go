package process

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// runLineLog writes each of writes to a lineLog of limit max, flushes it,
// and returns the lines it logged, without the prefix.
func runLineLog(t testing.TB, max int, writes ...string) []string {
	t.Helper()
	var got []string
	l := &lineLog{prefix: "p: ", max: max, print: func(s string) {
		if !strings.HasPrefix(s, "p: ") {
			t.Fatalf("logged %q without the prefix", s)
		}
		got = append(got, strings.TrimPrefix(s, "p: "))
	}}
	for _, w := range writes {
		if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
	}
	l.flush()
	return got
}

func TestLineLog(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    int
		writes []string
		want   []string
	}{
		{"lines", 0, []string{"a\nb\n"}, []string{"a", "b"}},
		{"empty lines", 0, []string{"\n\n"}, []string{"", ""}},
		{"CRLF", 0, []string{"a\r\nb\r\n"}, []string{"a", "b"}},
		{"a CR within a line stays", 0, []string{"a\rb\n"}, []string{"a\rb"}},
		{"partial writes", 0, []string{"he", "llo\nwo", "rld\n"}, []string{"hello", "world"}},
		{"CR and LF in two writes", 0, []string{"a\r", "\nb"}, []string{"a", "b"}},
		{"a last line without its newline, at the end", 0, []string{"x"}, []string{"x"}},
		{"a line of the limit", 4, []string{"abcd\n"}, []string{"abcd"}},
		{"a line of the limit, in pieces", 4, []string{"ab", "cd", "\n"}, []string{"abcd"}},
		// The byte at each cut was dropped.
		{"a long line", 4, []string{"abcdefghij\n"}, []string{"abcd", "efgh", "ij"}},
		{"a long line, in pieces", 4, []string{"abc", "defg", "hij\nk\n"}, []string{"abcd", "efgh", "ij", "k"}},
		// The CR of a CRLF at the cut made an empty line.
		{"CRLF after a cut", 4, []string{"abcd\r\n"}, []string{"abcd"}},
		{"CRLF split by the limit", 4, []string{"abc\r\n"}, []string{"abc"}},
		{"CRLF split by the limit, long", 4, []string{"abcdefg\r\n"}, []string{"abcd", "efg"}},
		{"no rune split", 4, []string{"aéé\n"}, []string{"aé", "é"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := runLineLog(t, tc.max, tc.writes...); !slices.Equal(got, tc.want) {
				t.Errorf("%q, limit %d: logged %q, want %q", tc.writes, tc.max, got, tc.want)
			}
		})
	}
}

// TestLineLogBounded checks the real limit: a line of a megabyte is logged
// in pieces of maxLine, whole.
func TestLineLogBounded(t *testing.T) {
	line := strings.Repeat("0123456789", 100_000)
	got := runLineLog(t, 0, line[:12345], line[12345:]+"\n")
	for _, piece := range got {
		if len(piece) > maxLine {
			t.Fatalf("a piece of %d bytes, over %d", len(piece), maxLine)
		}
	}
	if strings.Join(got, "") != line {
		t.Fatal("the pieces are not the line")
	}
}

func FuzzLineLog(f *testing.F) {
	f.Add([]byte("hello\nworld\r\n"), uint8(3), uint8(8))
	f.Add([]byte("abcdefghij\r\nk"), uint8(1), uint8(4))
	f.Add([]byte("héllo wörld\r\r\n\n\r"), uint8(2), uint8(5))
	f.Fuzz(func(t *testing.T, in []byte, chunk, limit uint8) {
		max := int(limit%16) + 1
		size := int(chunk%32) + 1
		var writes []string
		for rest := in; len(rest) > 0; {
			n := min(size, len(rest))
			writes = append(writes, string(rest[:n]))
			rest = rest[n:]
		}
		got := runLineLog(t, max, writes...)
		// How the output was written does not matter.
		if whole := runLineLog(t, max, string(in)); !slices.Equal(got, whole) {
			t.Fatalf("in writes of %d: %q; in one: %q", size, got, whole)
		}
		for _, piece := range got {
			if len(piece) > max || strings.Contains(piece, "\n") {
				t.Fatalf("limit %d: logged %q", max, piece)
			}
		}
		// Nothing is lost but line ends: each "\n", and one "\r" before it.
		var want strings.Builder
		for line := range strings.SplitSeq(string(in), "\n") {
			want.WriteString(strings.TrimSuffix(line, "\r"))
		}
		if strings.Join(got, "") != want.String() {
			t.Fatalf("limit %d: logged %q, the text of %q", max, got, in)
		}
	})
}

// hclogLines returns what go-plugin's client logger (JSON hclog named
// name) writes for log.
func hclogLines(name string, log func(hclog.Logger)) []byte {
	var buf bytes.Buffer
	log(hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Info, Output: &buf, JSONFormat: true}))
	return buf.Bytes()
}

func TestExitLog(t *testing.T) {
	const name = "testkind/exitlog"
	for _, tc := range []struct {
		name    string
		log     func(hclog.Logger)
		how     string // "" if not ended
		printed string
	}{
		{"an exit with an error, as go-plugin logs it", func(l hclog.Logger) {
			l.Error(exitMessage, "plugin", "/p/testkind_x", "id", 1234, "error", "exit status 3")
		}, "exit status 3", ""},
		{"a clean exit", func(l hclog.Logger) {
			l.Info(exitMessage, "plugin", "/p/testkind_x", "id", 1234)
		}, "exit status 0", ""},
		{"a killed process, after other lines", func(l hclog.Logger) {
			l.Warn("plugin failed to exit gracefully")
			l.Error("reading plugin stderr", "error", "read |0: file already closed")
			l.Error(exitMessage, "error", "signal: killed")
		}, "signal: killed", "plugin " + name + ": reading plugin stderr: read |0: file already closed"},
		// A plugin that runs go-plugin plugins itself logs their exits on
		// its stderr, which go-plugin logs as the plugin's lines (a logger
		// named after the plugin's file): not this process's end.
		{"the plugin's own log of a process's end", func(l hclog.Logger) {
			l.Named("testkind_x").Error(exitMessage, "error", "exit status 1")
		}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := hclogLines(name, tc.log)
			// The lines in every split in two, and byte by byte.
			splits := [][][]byte{}
			for i := range len(data) + 1 {
				splits = append(splits, [][]byte{data[:i], data[i:]})
			}
			var bytewise [][]byte
			for i := range data {
				bytewise = append(bytewise, data[i:i+1])
			}
			splits = append(splits, bytewise)
			for _, writes := range splits {
				g := &generation{exited: make(chan struct{})}
				var printed []string
				e := &exitLog{name: name, g: g, print: func(s string) { printed = append(printed, s) }}
				for _, w := range writes {
					if n, err := e.Write(w); n != len(w) || err != nil {
						t.Fatalf("Write = %d, %v", n, err)
					}
				}
				switch {
				case tc.how == "" && g.hasExited():
					t.Fatalf("ended (%q) by %s", g.how, data)
				case tc.how != "" && !g.hasExited():
					t.Fatalf("not ended by %s, written as %q", data, writes)
				case g.hasExited() && g.how != tc.how:
					t.Fatalf("ended %q, want %q", g.how, tc.how)
				}
				if want := []string{tc.printed}; tc.printed != "" && !slices.Equal(printed, want) || tc.printed == "" && len(printed) > 0 {
					t.Fatalf("printed %q, want %q", printed, tc.printed)
				}
			}
		})
	}
}

// TestExitLogLongLine checks that a line over maxLogLine is dropped, and
// the lines after it are read.
func TestExitLogLongLine(t *testing.T) {
	const name = "testkind/exitlong"
	g := &generation{exited: make(chan struct{})}
	e := &exitLog{name: name, g: g, print: func(string) {}}
	junk := bytes.Repeat([]byte(`{"@message":"`), maxLogLine/8)
	e.Write(junk)
	e.Write(junk)
	e.Write([]byte("\n"))
	if len(e.buf) != 0 {
		t.Fatalf("%d bytes kept", len(e.buf))
	}
	e.Write(hclogLines(name, func(l hclog.Logger) { l.Error(exitMessage, "error", "exit status 2") }))
	if !g.hasExited() || g.how != "exit status 2" {
		t.Fatalf("after a long line, the exit was not read (%v, %q)", g.hasExited(), g.how)
	}
}

// TestExitLogger checks the logger go-plugin is given.
func TestExitLogger(t *testing.T) {
	g := &generation{exited: make(chan struct{})}
	l := newExitLogger("testkind/exitlogger", g)
	l.Debug(exitMessage) // below the level: not logged
	if g.hasExited() {
		t.Fatal("a debug message ended the process")
	}
	l.Error(exitMessage, "plugin", "/x", "id", 1, "error", "signal: killed")
	if !g.hasExited() || g.how != "signal: killed" {
		t.Fatalf("exited %v, how %q", g.hasExited(), g.how)
	}
	l.Error(exitMessage, "error", "exit status 1") // the first report counts
	if g.how != "signal: killed" {
		t.Fatalf("how changed to %q", g.how)
	}
}
