package process

import (
	"bytes"
	"encoding/json"
	"log"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// maxLine bounds a line of a plugin's stderr that the log takes whole; a
// longer one is logged in pieces of this size.
const maxLine = 64 << 10

// lineLog writes each line of a plugin's stderr to the standard logger,
// after a prefix naming the plugin.
type lineLog struct {
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 && len(l.buf) < maxLine {
			break
		}
		if i < 0 || i > maxLine {
			i = maxLine
		}
		log.Print(l.prefix + string(bytes.TrimSuffix(l.buf[:i], []byte("\r"))))
		l.buf = l.buf[min(i+1, len(l.buf)):]
		if len(l.buf) == 0 {
			l.buf = nil
		}
	}
	return len(p), nil
}

// exitLog takes go-plugin's own messages about a process (JSON lines of
// hclog): it learns from them how the process ended, and logs the errors.
type exitLog struct {
	name string
	g    *generation
	once sync.Once
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

func (e *exitLog) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		var m struct {
			Level   string `json:"@level"`
			Message string `json:"@message"`
			Module  string `json:"@module"`
			Error   string `json:"error"`
		}
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		switch {
		case m.Message == "plugin process exited":
			how := m.Error
			if how == "" {
				how = "exit status 0"
			}
			e.once.Do(func() {
				e.g.how.Store(how)
				close(e.g.exited)
			})
		case m.Level == "error" && m.Module == e.name:
			msg := m.Message
			if m.Error != "" {
				msg += ": " + m.Error
			}
			log.Printf("plugin %s: %s", e.name, msg)
		}
	}
	return len(p), nil
}
