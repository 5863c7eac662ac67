package process

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
)

// maxLine bounds a line of a plugin's output that the log takes whole; a
// longer one is logged in pieces of at most this size.
const maxLine = 64 << 10

// lineLog writes each line of a plugin's output to the standard logger,
// after a prefix naming the plugin. A line ends with "\n" (a "\r" before it
// is dropped); one longer than the limit is logged in pieces, cut before a
// UTF-8 sequence or a "\r" that the limit would split, and nothing of it is
// lost.
type lineLog struct {
	prefix string
	max    int          // the limit; maxLine if 0
	print  func(string) // log.Print if nil

	mu  sync.Mutex
	buf []byte
	cut bool // the last piece logged was cut at the limit, not at a line's end
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	max := l.max
	if max <= 0 {
		max = maxLine
	}
	l.buf = append(l.buf, p...)
	for {
		if i := bytes.IndexByte(l.buf, '\n'); i >= 0 && i <= max {
			l.emit(l.buf[:i], true)
			l.buf = l.buf[i+1:]
			continue
		}
		if len(l.buf) <= max {
			break
		}
		// Cut the line at the limit. (The cut skipped a byte here once:
		// the byte at the limit was dropped as if it were the "\n".)
		c := max
		for c > 1 && c > max-utf8.UTFMax+1 && !utf8.RuneStart(l.buf[c]) {
			c--
		}
		if c > 1 && l.buf[c-1] == '\r' {
			c--
		}
		l.emit(l.buf[:c], false)
		l.buf = l.buf[c:]
	}
	if len(l.buf) == 0 {
		l.buf = nil
	}
	return len(p), nil
}

// emit logs a piece of a line: the line's end if end, else a piece cut at
// the limit.
func (l *lineLog) emit(piece []byte, end bool) {
	if end {
		piece = bytes.TrimSuffix(piece, []byte("\r"))
		if len(piece) == 0 && l.cut {
			l.cut = false // the end of a line logged in pieces already
			return
		}
	}
	l.cut = !end
	line := l.prefix + string(piece)
	if l.print != nil {
		l.print(line)
	} else {
		log.Print(line)
	}
}

// flush logs what is left of a last line without its "\n".
func (l *lineLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(l.buf, true)
	}
	l.buf, l.cut = nil, false
}

// maxLogLine bounds a line of go-plugin's log that exitLog keeps while it
// waits for the line's end; a longer one is dropped.
const maxLogLine = 1 << 20

// exitLog takes go-plugin's own messages about a process (JSON lines of
// hclog, written in any pieces): it learns from them how the process ended,
// and logs the errors.
type exitLog struct {
	name  string
	g     *generation
	print func(string) // log.Print if nil

	mu      sync.Mutex
	buf     []byte
	skipped bool // the line being read is over maxLogLine: dropped
}

// newExitLogger returns the go-plugin logger of g, a process of the plugin
// name.
func newExitLogger(name string, g *generation) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.Info,
		Output:     &exitLog{name: name, g: g},
		JSONFormat: true,
	})
}

// exitMessage is the message go-plugin (client.go) logs once the process
// it started ended, with the error of its Wait ("exit status 3", "signal:
// killed"), if any. The tests hold go-plugin to it: should it change,
// calls in flight when a process ends wait exitGrace to learn how it
// ended, from the process state.
const exitMessage = "plugin process exited"

func (e *exitLog) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf = append(e.buf, p...)
	for {
		i := bytes.IndexByte(e.buf, '\n')
		if i < 0 {
			break
		}
		if !e.skipped {
			e.line(e.buf[:i])
		}
		e.skipped = false
		e.buf = e.buf[i+1:]
	}
	if len(e.buf) > maxLogLine {
		e.buf, e.skipped = nil, true
	}
	if len(e.buf) == 0 {
		e.buf = nil
	}
	return len(p), nil
}

// line takes one line of go-plugin's log.
func (e *exitLog) line(line []byte) {
	var m struct {
		Level   string `json:"@level"`
		Message string `json:"@message"`
		Module  string `json:"@module"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(line, &m) != nil {
		return
	}
	switch {
	case m.Message == exitMessage && m.Module == e.name:
		how := m.Error
		if how == "" {
			how = "exit status 0"
		}
		e.g.ended(how)
	case m.Level == "error" && m.Module == e.name:
		msg := m.Message
		if m.Error != "" {
			msg += ": " + m.Error
		}
		msg = fmt.Sprintf("plugin %s: %s", e.name, msg)
		if e.print != nil {
			e.print(msg)
		} else {
			log.Print(msg)
		}
	}
}
