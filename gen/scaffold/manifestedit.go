package scaffold

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/runtime"
)

// initManifest returns the text of a new manifest that declares kinds and
// lists no plugins.
func initManifest(kinds []KindSpec) []byte {
	var b bytes.Buffer
	b.WriteString(`# The plugins this program links (written by plugink init). go generate
# (plugink gen) turns it into zz_plugink_static.go, the default build,
# zz_plugink_dynamic.go (-tags plugink_dynamic), zz_plugink_process.go
# (-tags plugink_process) and zz_plugink_glue.go (the clients of plugins
# run as processes); plugink build makes the .so files and executables.
# A plugin with "mode: process" runs as a child process in every build.
kinds:
  # kind name: the Go variable it binds to, a map[string]F or a *runtime.Kind[F]
`)
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %s: %s\n", yamlScalar(k.Name), yamlScalar(k.Ref))
	}
	b.WriteString("# plugink new <kind> <name> adds a plugin: its package, and its entry here.\nplugins: []\n")
	return b.Bytes()
}

// yamlScalar writes s as a YAML scalar that reads back as the string s:
// plain if it can be, else quoted.
func yamlScalar(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil || bytes.Count(out, []byte("\n")) != 1 {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// insertion says where addPlugin put the new entry: after line At of the
// old text, N lines.
type insertion struct{ At, N int }

// emptyFlow matches an empty flow list, "[]" or "[ ]", at the start of a
// value.
var emptyFlow = regexp.MustCompile(`^\[\s*\]`)

// addPlugin returns the manifest data with an entry for c appended to its
// plugins list, and every other line as it was: the entry goes after the
// last line of the last plugin (the comments indented under it included),
// indented as that plugin is; or, for an empty list, under the plugins
// key; or, with no plugins key, in a new one at the end.
func addPlugin(data []byte, c *runtime.Config) ([]byte, insertion, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, insertion{}, errors.New("the manifest is not a YAML mapping")
	}
	root := doc.Content[0]
	nl := "\n"
	if bytes.Contains(data, []byte("\r\n")) {
		nl = "\r\n"
	}
	lines := strings.SplitAfter(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	entry := func(dash, keys int) []string {
		values := [][2]string{{"name", c.Name}, {"type", c.Type}, {"path", c.Path}, {"newfunc", fmt.Sprint(c.NewFunc)}}
		var out []string
		for i, kv := range values {
			line := strings.Repeat(" ", keys) + kv[0] + ": " + yamlScalar(kv[1]) + nl
			if i == 0 {
				line = strings.Repeat(" ", dash) + "-" + line[dash+1:]
			}
			out = append(out, line)
		}
		return out
	}
	var key, val *yaml.Node
	next := len(lines) // the last line the plugins value may reach
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "plugins" {
			key, val = root.Content[i], root.Content[i+1]
			if i+2 < len(root.Content) {
				next = root.Content[i+2].Line - 1
			}
		}
	}
	var at int
	var add []string
	switch {
	case key == nil:
		if n := len(lines); n > 0 && !strings.HasSuffix(lines[n-1], "\n") {
			lines[n-1] += nl
		}
		at = len(lines)
		indent := root.Column - 1
		add = append([]string{strings.Repeat(" ", indent) + "plugins:" + nl}, entry(indent+2, indent+4)...)
	case val.Kind == yaml.SequenceNode && val.Style&yaml.FlowStyle == 0 && len(val.Content) > 0:
		last := val.Content[len(val.Content)-1]
		dash := val.Column - 1
		at = lastLine(last)
		for at < next && at < len(lines) && strings.TrimSpace(lines[at]) != "" && indentOf(lines[at]) > dash {
			at++
		}
		add = entry(dash, last.Column-1)
	case val.Line == key.Line && (val.ShortTag() == "!!null" || val.Kind == yaml.SequenceNode && len(val.Content) == 0):
		line := lines[key.Line-1]
		start := min(val.Column-1, len(line))
		token := len(val.Value)
		if val.Kind == yaml.SequenceNode {
			token = len(emptyFlow.FindString(line[start:]))
		}
		if val.Kind == yaml.SequenceNode && token == 0 {
			return nil, insertion{}, errors.New("plugins is a flow list that does not end on its line; write it as a block list")
		}
		lines[key.Line-1] = strings.TrimRight(line[:start], " ") + line[start+token:]
		at = key.Line
		indent := key.Column - 1
		add = entry(indent+2, indent+4)
	default:
		return nil, insertion{}, fmt.Errorf("plugins (line %d) is not a block list (one \"- name: ...\" entry per plugin); write it as one", key.Line)
	}
	out := slices.Concat(lines[:at], add, lines[at:])
	return []byte(strings.Join(out, "")), insertion{At: at, N: len(add)}, nil
}

// lastLine returns the last line any node under n starts on.
func lastLine(n *yaml.Node) int {
	line := n.Line
	for _, c := range n.Content {
		line = max(line, lastLine(c))
	}
	return line
}

func indentOf(line string) int { return len(line) - len(strings.TrimLeft(line, " ")) }

// sameManifest reports whether b is a with plugin c added at the end of
// its plugins, and nothing else changed.
func sameManifest(a, b *gen.Manifest, c *runtime.Config) bool {
	if a.DynamicDir != b.DynamicDir || a.RequireSums != b.RequireSums || a.UpgradeSignal != b.UpgradeSignal ||
		!slices.Equal(a.TrustedKeys, b.TrustedKeys) || !sameKinds(a.Kinds, b.Kinds) || len(b.Plugins) != len(a.Plugins)+1 {
		return false
	}
	same := func(p, q *gen.PluginDecl) bool {
		return p.Name == q.Name && p.Type == q.Type && p.Path == q.Path && p.Func() == q.Func() && p.Disabled == q.Disabled && p.Replace == q.Replace
	}
	for i, p := range a.Plugins {
		if !same(p, b.Plugins[i]) {
			return false
		}
	}
	return same(&gen.PluginDecl{Config: *c}, b.Plugins[len(a.Plugins)])
}

func sameKinds(a, b []*gen.KindDecl) bool {
	return slices.EqualFunc(a, b, func(x, y *gen.KindDecl) bool { return x.Name == y.Name && x.Pkg == y.Pkg && x.Var == y.Var })
}
