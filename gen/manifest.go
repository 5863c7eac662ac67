package gen

import (
	"bytes"
	"errors"
	"fmt"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/signature"
	"github.com/plugink/plugink/runtime"
)

// ManifestFile is the manifest's conventional name.
const ManifestFile = "plugink.yaml"

// DefaultDynamicDir is where plugin .so files live when the manifest does
// not say, relative to the manifest's directory at build time and to the
// working directory at run time.
const DefaultDynamicDir = "plugins"

// Manifest is a parsed plugink.yaml: the kinds a host declares and the
// plugins it links.
type Manifest struct {
	// File is the manifest's path, as given.
	File string
	// Kinds are the declared kinds, sorted by name.
	Kinds []*KindDecl
	// Plugins are the plugins, in file order.
	Plugins []*PluginDecl
	// DynamicDir is the directory of the plugin .so files (dynamic.dir).
	DynamicDir string
	// DynamicDirPos is where dynamic.dir was set.
	DynamicDirPos token.Position
	// RequireSums (dynamic.require_sums) makes a dynamic host refuse every
	// plugin file that no plugink.sum verifies.
	RequireSums bool
	// UpgradeSignal (dynamic.upgrade_signal), if set, is the signal on
	// which a dynamic host upgrades its plugins whose files changed.
	UpgradeSignal string
	// TrustedKeys (dynamic.trusted_keys) are public keys in their text
	// form ("plugink-ed25519 <base64>", the line of a .pub file that
	// plugink keygen writes), in file order: if any, a dynamic host loads
	// only plugin files one of them signed.
	TrustedKeys []string
}

// KindDecl binds a kind name to the Go variable that holds its default map
// (map[string]F) or its runtime kind (*runtime.Kind[F]).
type KindDecl struct {
	// Name is the kind's name, e.g. "client".
	Name string
	// Pkg is the import path of the package that declares the variable.
	Pkg string
	// Var is the variable's name, e.g. "DefaultClients".
	Var string
	// Pos is the position of the binding in the manifest.
	Pos token.Position
}

// PluginDecl is one plugin of the manifest.
type PluginDecl struct {
	// Config is the plugin's Name, Type and Path, and NewFunc as the name
	// of the constructor in Path (a string, the form loader.Build takes).
	runtime.Config
	// Disabled keeps the plugin in the manifest but out of generated code
	// and builds.
	Disabled bool
	// Replace lets the plugin replace an implementation of the same name
	// already in the kind's default map (e.g. a built-in).
	Replace bool
	// Process (mode: process) runs the plugin as a child process in every
	// build of the host.
	Process bool
	// Pos is the position of the plugin's entry.
	Pos token.Position
	// FieldPos is the position of each field's value, by key ("newfunc").
	FieldPos map[string]token.Position
}

// Func returns the constructor's name, NewFunc.
func (p *PluginDecl) Func() string {
	s, _ := p.NewFunc.(string)
	return s
}

// Enabled returns the plugins that are not disabled, in file order.
func (m *Manifest) Enabled() []*PluginDecl {
	var out []*PluginDecl
	for _, p := range m.Plugins {
		if !p.Disabled {
			out = append(out, p)
		}
	}
	return out
}

// Kind returns the kind declared as name, or nil.
func (m *Manifest) Kind(name string) *KindDecl {
	for _, k := range m.Kinds {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// MaxManifestSize is the largest manifest ReadManifest reads, in bytes.
const MaxManifestSize = 4 << 20

// ReadManifest reads and parses the manifest at file.
func ReadManifest(file string) (*Manifest, error) {
	m, _, err := ReadManifestText(file)
	return m, err
}

// ReadManifestText is [ReadManifest] that also returns the manifest's
// text, for a program that edits it.
func ReadManifestText(file string) (*Manifest, []byte, error) {
	data, err := fsx.ReadFile(file, MaxManifestSize)
	if err != nil {
		return nil, nil, runtime.WithHint(fmt.Errorf("read manifest: %w", err), "plugink reads plugink.yaml in the host package's directory: run it there, or pass -C <dir>")
	}
	m, err := ParseManifest(file, data)
	if err != nil {
		return nil, nil, err
	}
	if err := confineDynamicDir(m); err != nil {
		return nil, nil, err
	}
	return m, data, nil
}

// confineDynamicDir reports a dynamic.dir that leads outside the module
// the manifest is in (through "..", or a symbolic link): plugink build
// writes there. An absolute one is refused as the manifest is parsed.
func confineDynamicDir(m *Manifest) error {
	dir, err := filepath.Abs(filepath.Dir(m.File))
	if err != nil {
		return err
	}
	root := moduleRoot(dir)
	if root == "" {
		return nil
	}
	target := filepath.Join(dir, filepath.FromSlash(m.DynamicDir))
	if real, err := resolveExisting(target); err == nil {
		target = real
	}
	if realRoot, err := filepath.EvalSymlinks(root); err == nil {
		root = realRoot
	}
	if rel, err := filepath.Rel(root, target); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		pos := m.DynamicDirPos
		if pos.Filename == "" {
			pos = token.Position{Filename: m.File, Line: 1, Column: 1}
		}
		return ErrorList{{Pos: pos, Msg: fmt.Sprintf("dynamic.dir: %s leads outside the module of %s; want a directory inside it", runtime.Quote(m.DynamicDir), filepath.Base(m.File))}}
	}
	return nil
}

// moduleRoot returns the directory of the go.mod at or above dir, or "".
func moduleRoot(dir string) string {
	for {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && fi.Mode().IsRegular() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// resolveExisting resolves the symbolic links of the longest part of path
// that exists, and appends the rest.
func resolveExisting(path string) (string, error) {
	rest := ""
	for {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			return filepath.Join(real, rest), nil
		}
		parent := filepath.Dir(path)
		if parent == path {
			return "", os.ErrNotExist
		}
		rest = filepath.Join(filepath.Base(path), rest)
		path = parent
	}
}

// ParseManifest parses a manifest; file names it in errors. Parsing is
// strict: unknown keys, empty or invalid fields, unknown kinds and duplicate
// names are errors, all reported at once in an [ErrorList].
func ParseManifest(file string, data []byte) (*Manifest, error) {
	c := &collector{file: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			c.add(1, 1, "empty manifest: want a mapping with kinds and plugins")
			return nil, c.err()
		}
		return nil, syntaxError(file, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		c.add(extra.Line, extra.Column, "a manifest holds one YAML document; found another")
	}
	m := &Manifest{File: file, DynamicDir: DefaultDynamicDir}
	p := &manifestParser{c: c, m: m}
	if p.plainYAML(&doc); len(c.list) > 0 {
		return nil, c.err()
	}
	p.root(&doc)
	if err := c.err(); err != nil {
		return nil, err
	}
	slices.SortFunc(m.Kinds, func(a, b *KindDecl) int { return strings.Compare(a.Name, b.Name) })
	return m, nil
}

type manifestParser struct {
	c *collector
	m *Manifest
	// kindsParsed is set when the kinds section is a mapping; declared
	// holds each of its keys, valid or not, so that a plugin of a kind whose
	// own entry is wrong is not reported a second time.
	kindsParsed bool
	declared    map[string]bool
}

func (p *manifestParser) pos(n *yaml.Node) token.Position {
	return token.Position{Filename: p.c.file, Line: n.Line, Column: n.Column}
}

// mapping checks that n is a mapping whose keys are all in allowed and
// unique, and calls f for each key and value.
func (p *manifestParser) mapping(n *yaml.Node, what string, allowed []string, f func(key string, k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.c.add(n.Line, n.Column, "%s must be a mapping, found %s", what, describe(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.c.add(k.Line, k.Column, "%s: keys must be strings", what)
			continue
		}
		if seen[k.Value] {
			p.c.add(k.Line, k.Column, "%s: duplicate key %q", what, k.Value)
			continue
		}
		seen[k.Value] = true
		if allowed != nil && !slices.Contains(allowed, k.Value) {
			p.c.add(k.Line, k.Column, "%s: unknown key %q (want one of: %s)", what, k.Value, strings.Join(allowed, ", "))
			continue
		}
		f(k.Value, k, v)
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

func (p *manifestParser) root(doc *yaml.Node) {
	root := doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	var kinds, plugins *yaml.Node
	p.mapping(root, "manifest", []string{"kinds", "plugins", "dynamic"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "kinds":
			kinds = v
		case "plugins":
			plugins = v
		case "dynamic":
			p.dynamic(v)
		}
	})
	if root.Kind != yaml.MappingNode {
		return
	}
	if kinds == nil {
		p.c.add(root.Line, root.Column, "manifest: missing key \"kinds\" (the kinds plugins may be of)")
	} else {
		p.kinds(kinds)
	}
	// "plugins:" with nothing after it (every entry commented out, say)
	// is no plugins.
	if plugins != nil && !(plugins.Kind == yaml.ScalarNode && plugins.Tag == "!!null") {
		p.plugins(plugins)
	}
}

func (p *manifestParser) dynamic(n *yaml.Node) {
	p.mapping(n, "dynamic", []string{"dir", "require_sums", "upgrade_signal", "trusted_keys"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "trusted_keys":
			p.trustedKeys(v)
			return
		case "require_sums":
			p.m.RequireSums = p.boolean(v, "dynamic.require_sums")
			return
		case "upgrade_signal":
			if s, ok := p.scalar(v, "dynamic.upgrade_signal"); ok {
				if err := runtime.CheckUpgradeSignal(s); err != nil {
					p.c.add(v.Line, v.Column, "dynamic.upgrade_signal %s %v", runtime.Quote(s), err)
				}
				p.m.UpgradeSignal = s
			}
			return
		}
		if s, ok := p.scalar(v, "dynamic.dir"); ok {
			if filepath.IsAbs(s) {
				p.c.add(v.Line, v.Column, "dynamic.dir: %q is absolute; want a path relative to the manifest's directory", s)
			}
			p.m.DynamicDir, p.m.DynamicDirPos = filepath.ToSlash(filepath.Clean(s)), p.pos(v)
		}
	})
}

// trustedKeys parses dynamic.trusted_keys: a list of public keys in
// their text form, each checked at its position. Nothing after the key
// (null) is no keys.
func (p *manifestParser) trustedKeys(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.c.add(n.Line, n.Column, "dynamic.trusted_keys must be a list of public keys (each the line of a .pub file that plugink keygen writes), found %s", describe(n))
		return
	}
	seen := map[string]int{} // key -> line
	for i, e := range n.Content {
		what := fmt.Sprintf("dynamic.trusted_keys[%d]", i)
		s, ok := p.scalar(e, what)
		if !ok {
			continue
		}
		if _, err := signature.ParsePublicKey(s); err != nil {
			p.c.add(e.Line, e.Column, "%s: %v", what, err)
			continue
		}
		if line, dup := seen[s]; dup {
			p.c.add(e.Line, e.Column, "%s: the same key as at line %d", what, line)
			continue
		}
		seen[s] = e.Line
		p.m.TrustedKeys = append(p.m.TrustedKeys, s)
	}
}

// boolean returns n's value if n is true or false (YAML's other spellings
// of booleans, such as yes, are strings in YAML 1.2).
func (p *manifestParser) boolean(n *yaml.Node, what string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		p.c.add(n.Line, n.Column, "%s must be true or false, found %s", what, describe(n))
	}
	return b
}

// scalar returns n's value if n is a non-empty string scalar.
func (p *manifestParser) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.c.add(n.Line, n.Column, "%s must be a non-empty string, found %s", what, describe(n))
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		p.c.add(n.Line, n.Column, "%s is empty", what)
		return "", false
	}
	return n.Value, true
}

func (p *manifestParser) kinds(n *yaml.Node) {
	p.kindsParsed = n.Kind == yaml.MappingNode
	p.declared = map[string]bool{}
	p.mapping(n, "kinds", nil, func(name string, k, v *yaml.Node) {
		p.declared[name] = true
		if err := runtime.CheckKindName(name); err != nil {
			p.c.add(k.Line, k.Column, "kind %s: name %v", runtime.Quote(name), err)
			return
		}
		ref, ok := p.scalar(v, fmt.Sprintf("kind %q", name))
		if !ok {
			return
		}
		pkg, sym, ok := splitQualified(ref)
		if !ok {
			p.c.add(v.Line, v.Column, "kind %q: %q is not a qualified Go name; want import/path.Var, e.g. example.com/svc/client.DefaultClients", name, ref)
			return
		}
		if err := runtime.CheckImportPath(pkg); err != nil {
			p.c.add(v.Line, v.Column, "kind %q: import path %s %v", name, runtime.Quote(pkg), err)
			return
		}
		p.m.Kinds = append(p.m.Kinds, &KindDecl{Name: name, Pkg: pkg, Var: sym, Pos: p.pos(v)})
	})
}

// splitQualified splits "import/path.Name" at the last dot after the last
// slash.
func splitQualified(s string) (pkg, name string, ok bool) {
	slash := strings.LastIndex(s, "/")
	dot := strings.LastIndex(s, ".")
	if dot <= slash+0 || dot == len(s)-1 || dot == 0 {
		return "", "", false
	}
	pkg, name = s[:dot], s[dot+1:]
	if !token.IsIdentifier(name) || !token.IsExported(name) {
		return "", "", false
	}
	return pkg, name, true
}

var pluginKeys = []string{"name", "type", "path", "newfunc", "mode", "disabled", "replace"}

// Modes a plugin may name (mode:): ModeProcess runs it as a child process
// in every build of the host; without mode, it is compiled in, or loaded as
// a .so with -tags plugink_dynamic, or run as a process with -tags
// plugink_process.
const ModeProcess = "process"

func (p *manifestParser) plugins(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.c.add(n.Line, n.Column, "plugins must be a list, found %s", describe(n))
		return
	}
	seen := map[string]token.Position{} // "type/name" -> first
	for i, e := range n.Content {
		d := p.plugin(i, e)
		if d == nil {
			continue
		}
		key := d.Type + "/" + d.Name
		if first, dup := seen[key]; dup {
			p.c.add(e.Line, e.Column, "plugin %q (%s): duplicate name within kind %s (first at line %d)", d.Name, d.Type, d.Type, first.Line)
			continue
		}
		seen[key] = d.Pos
		p.m.Plugins = append(p.m.Plugins, d)
	}
}

// plugin parses the i'th plugin entry; nil if it has errors.
func (p *manifestParser) plugin(i int, n *yaml.Node) *PluginDecl {
	what := fmt.Sprintf("plugins[%d]", i)
	if name := nameOf(n); name != "" {
		what = fmt.Sprintf("plugin %q", name)
	}
	d := &PluginDecl{Pos: p.pos(n), FieldPos: map[string]token.Position{}}
	before := len(p.c.list)
	p.mapping(n, what, pluginKeys, func(key string, k, v *yaml.Node) {
		d.FieldPos[key] = p.pos(v)
		switch key {
		case "disabled", "replace":
			b := p.boolean(v, what+": "+key)
			if key == "disabled" {
				d.Disabled = b
			} else {
				d.Replace = b
			}
			return
		}
		s, ok := p.scalar(v, what+": "+key)
		if !ok {
			return
		}
		switch key {
		case "name":
			d.Name = s
		case "type":
			d.Type = s
		case "path":
			d.Path = s
		case "newfunc":
			d.NewFunc = s
		case "mode":
			if s != ModeProcess {
				p.c.add(v.Line, v.Column, "%s: mode %s: want %q, or no mode: the build tag chooses (compiled in; a .so with -tags plugink_dynamic; a process with -tags plugink_process)", what, runtime.Quote(s), ModeProcess)
				return
			}
			d.Process = true
		}
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for _, key := range []string{"name", "type", "path", "newfunc"} {
		if _, ok := d.FieldPos[key]; !ok {
			p.c.add(n.Line, n.Column, "%s: missing key %q", what, key)
		}
	}
	p.validatePlugin(what, d)
	if len(p.c.list) > before {
		return nil
	}
	return d
}

// nameOf returns the value of n's "name" key, if n is a mapping that has
// one, so that messages about an entry can name its plugin.
func nameOf(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "name" && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}

func (p *manifestParser) validatePlugin(what string, d *PluginDecl) {
	at := func(key string) (int, int) { pos := d.FieldPos[key]; return pos.Line, pos.Column }
	check := func(key, value string, rule func(string) error) {
		if value == "" {
			return // reported as missing or empty
		}
		if err := rule(value); err != nil {
			l, c := at(key)
			p.c.add(l, c, "%s: %s %s %v", what, key, runtime.Quote(value), err)
		}
	}
	check("name", d.Name, runtime.CheckPluginName)
	check("path", d.Path, runtime.CheckImportPath)
	check("newfunc", d.Func(), runtime.CheckFuncName)
	if d.Type != "" && p.kindsParsed && !p.declared[d.Type] {
		l, c := at("type")
		declared := "no kinds declared"
		if names := p.m.kindNames(); len(names) > 0 {
			declared = "declared kinds: " + strings.Join(names, ", ")
		}
		p.c.add(l, c, "%s: unknown kind %s (%s)", what, runtime.Quote(d.Type), declared)
	}
}

func (m *Manifest) kindNames() []string {
	var names []string
	for _, k := range m.Kinds {
		names = append(names, k.Name)
	}
	slices.Sort(names)
	return names
}
