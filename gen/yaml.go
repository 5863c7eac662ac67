package gen

import (
	"bytes"
	"errors"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"go.yaml.in/yaml/v3"
)

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns the YAML library's syntax error into an ErrorList at
// the exact line and column. yaml.v3 says only a line, sometimes the one
// before; so the position comes from a second parser, goccy/go-yaml, which
// reports columns. It runs only on input that nests shallowly (it recurses
// without limit, where yaml.v3 stops at 10,000 levels), behind a recover;
// otherwise yaml.v3's line stands, at column 1.
func syntaxError(file string, data []byte, err error) error {
	msg := err.Error()
	line := 1
	if sm := yamlLine.FindStringSubmatch(msg); sm != nil {
		line, _ = strconv.Atoi(sm[1])
		msg = sm[2]
	}
	msg, col := strings.TrimPrefix(msg, "yaml: "), 1
	if l, c, m, ok := locate(data); ok {
		line, col, msg = l, c, m
	}
	return ErrorList{{Pos: token.Position{Filename: file, Line: line, Column: col}, Msg: "invalid YAML: " + escape(msg)}}
}

// maxLocateDepth bounds the nesting of input given to the second parser.
const maxLocateDepth = 100

// locate returns the position and message of the first syntax error the
// second parser finds in data, if it is shallow enough to parse.
func locate(data []byte) (line, col int, msg string, ok bool) {
	if !shallow(data, maxLocateDepth) {
		return 0, 0, "", false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, err := goccyparser.ParseBytes(data, 0)
	var ye goccy.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		return 0, 0, "", false
	}
	p := ye.GetToken().Position
	return p.Line, p.Column, ye.GetMessage(), p.Line > 0 && p.Column > 0
}

// shallow reports whether data nests at most limit levels: flow brackets,
// block indicators on one line, and indentation.
func shallow(data []byte, limit int) bool {
	flow := 0
	var indents []int
	for line := range bytes.Lines(data) {
		body := bytes.TrimLeft(line, " ")
		indent := len(line) - len(body)
		for len(indents) > 0 && indents[len(indents)-1] >= indent {
			indents = indents[:len(indents)-1]
		}
		indents = append(indents, indent)
		if len(indents)+bytes.Count(line, []byte("- "))+bytes.Count(line, []byte(": ")) > limit {
			return false
		}
		for _, c := range line {
			switch c {
			case '[', '{':
				if flow++; flow > limit {
					return false
				}
			case ']', '}':
				flow--
			}
		}
	}
	return true
}

// escape writes the control characters a parser's message may quote (a
// tab, say) as Go escapes.
func escape(msg string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, strings.NewReplacer("\t", `\t`, "\r", `\r`, "\n", `\n`).Replace(msg))
}

// plainYAML reports, at its position, every anchor, alias and merge key in
// the tree under n: a manifest is plain YAML, written out, so that what a
// reviewer reads is what plugink reads.
func (p *manifestParser) plainYAML(n *yaml.Node) {
	switch {
	case n.Kind == yaml.AliasNode:
		p.c.add(n.Line, n.Column, "YAML alias *%s: aliases are not supported in a manifest; write the value out", n.Value)
		return
	case n.Anchor != "":
		p.c.add(n.Line, n.Column, "YAML anchor &%s: anchors are not supported in a manifest; write the value out", n.Anchor)
	case n.Tag == "!!merge":
		p.c.add(n.Line, n.Column, "YAML merge key <<: merge keys are not supported in a manifest; write the keys out")
	}
	for _, c := range n.Content {
		p.plainYAML(c)
	}
}
