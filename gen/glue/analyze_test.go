package glue

import (
	"fmt"
	"strings"
	"testing"
)

// kindSource is a kind package whose interface Client is declared by
// methods, with extra declarations; each line marked "// HERE" is where a
// problem must be reported.
func kindSource(methods, extra string) string {
	return `package client

import (
	"context"
	"time"
	"unsafe"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"example.com/other/internal/hidden"
)

var (
	_ = time.Second
	_ unsafe.Pointer
	_ proto.Message
	_ *wrapperspb.StringValue
	_ context.Context
	_ hidden.T
)

type Options struct{ Address string }
type Option func(*Options)

type Client interface {
` + methods + `
}

var DefaultClients = map[string]func(...Option) Client{}
` + extra
}

// analyzeSource analyzes the kind "client" of src, bound to
// DefaultClients.
func analyzeSource(t *testing.T, src string) (*Kind, []Problem) {
	t.Helper()
	fset, p := check(t, map[string]string{
		"example.com/svc/client":              src,
		"example.com/other/internal/hidden":   "package hidden\n\ntype T struct{ X int }\n",
		"example.com/svc/client/internal/own": "package own\n\ntype T struct{ X int }\n",
	}, "example.com/svc/client")
	return Analyze(fset, "client", ctorOf(t, p, "DefaultClients"), p)
}

// marked returns the lines of src marked "// HERE".
func marked(src string) []int {
	var lines []int
	for i, line := range strings.Split(src, "\n") {
		if strings.Contains(line, "// HERE") {
			lines = append(lines, i+1)
		}
	}
	return lines
}

func TestAnalyzeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, methods, extra string
		want                 string // the whole message, or a part of it after "..."
	}{
		{name: "chan param", methods: "Watch(ch chan string) error // HERE",
			want: "client.Client.Watch: parameter ch: chan string cannot cross a process (a channel)"},
		{name: "func param", methods: "Do(f func(int) bool) error // HERE",
			want: "client.Client.Do: parameter f: func(int) bool cannot cross a process (a func)"},
		{name: "empty interface param", methods: "Put(key string, v interface{}) error // HERE",
			want: "client.Client.Put: parameter v: interface{} cannot cross a process (an interface; only error, context.Context and proto.Message cross, as parameters or results)"},
		{name: "unnamed param by index", methods: "Put(string, chan int) // HERE",
			want: "client.Client.Put: parameter 1: chan int cannot cross a process (a channel)"},
		{name: "map with chan key", methods: "Count(m map[chan int]int) error // HERE",
			want: "client.Client.Count: parameter m: map[chan int]int cannot cross a process (key chan int: a channel)"},
		{name: "struct with unexported field", methods: "Save(s S) error // HERE", extra: "type S struct{ Name string; secret int }",
			want: "client.Client.Save: parameter s: client.S cannot cross a process (field client.S.secret is unexported; a struct crosses with exported fields only, unless it implements encoding.BinaryMarshaler and BinaryUnmarshaler, or gob.GobEncoder and GobDecoder)"},
		{name: "struct with func field, deep", methods: "Save(s []*S) error // HERE", extra: "type S struct{ In Inner }\ntype Inner struct{ F func() }",
			want: "client.Client.Save: parameter s: []*client.S cannot cross a process (element *client.S: field client.S.In: field client.Inner.F: a func)"},
		{name: "pointer to pointer", methods: "Set(p **int) // HERE",
			want: "client.Client.Set: parameter p: **int cannot cross a process (a pointer to a pointer)"},
		{name: "uintptr result", methods: "Addr() uintptr // HERE",
			want: "client.Client.Addr: result 0: uintptr cannot cross a process (a uintptr)"},
		{name: "unsafe pointer", methods: "Raw(p unsafe.Pointer) // HERE",
			want: "client.Client.Raw: parameter p: unsafe.Pointer cannot cross a process (an unsafe.Pointer)"},
		{name: "empty struct", methods: "Ping(e struct{}) error // HERE",
			want: "client.Client.Ping: parameter e: struct{} cannot cross a process (an empty struct)"},
		{name: "proto message inside a struct", methods: "Send(e Envelope) error // HERE", extra: "type Envelope struct{ Msg proto.Message }",
			want: "client.Client.Send: parameter e: client.Envelope cannot cross a process (field client.Envelope.Msg: a protocol buffers message crosses only as a parameter or result of its own, not inside another value)"},
		{name: "generated message inside a slice", methods: "Send(ms []*wrapperspb.StringValue) error // HERE",
			want: "...(element *wrapperspb.StringValue: a protocol buffers message crosses only as a parameter or result of its own, not inside another value)"},
		{name: "error inside a struct", methods: "Last() (Result, error) // HERE", extra: "type Result struct{ Err error }",
			want: "client.Client.Last: result 0: client.Result cannot cross a process (field client.Result.Err: an error crosses only as a parameter or result of its own, not inside another value)"},
		{name: "reserved method PluginkNew", methods: "PluginkNew() error // HERE",
			want: "client.Client.PluginkNew: the method name PluginkNew is reserved for the generated receiver's constructor method"},
		{name: "reserved method Server", methods: "Server() string // HERE",
			want: "...the method name Server is reserved for the generated receiver's embedded *pluginkprocess.Server field"},
		{name: "unexported method", methods: "Close() error\n\tflush() error // HERE",
			want: "client.Client.flush: method flush is unexported; every method of an interface that crosses a process must be exported, for the host's generated client to implement it"},
		{name: "two contexts", methods: "Both(a context.Context,\n\tb context.Context) error // HERE",
			want: "client.Client.Both: parameter b: a second context.Context; a method takes at most one"},
		{name: "context result", methods: "Ctx() context.Context // HERE",
			want: "client.Client.Ctx: result 0: a context.Context cannot cross here; only a method's parameter may be one"},
		{name: "unexported named type", methods: "Set(m mode) error // HERE", extra: "type mode int",
			want: "client.Client.Set: parameter m: client.mode cannot be written in generated code (client.mode is not exported)"},
		{name: "internal package of another module", methods: "Get() (hidden.T, error) // HERE",
			want: "client.Client.Get: result 0: hidden.T cannot be written in generated code (package example.com/other/internal/hidden is internal to example.com/other, which the host may not be in)"},
		{name: "option struct with a func field", methods: "Call(opts ...CallOption) error // HERE",
			extra: "type CallOptions struct{ Retry func() bool; Context context.Context }\ntype CallOption func(*CallOptions)",
			want:  "client.Client.Call: parameter opts: field client.CallOptions.Retry: func() bool cannot cross a process (a func)"},
		{name: "option struct with an unexported field", methods: "Call(opts ...CallOption) error // HERE",
			extra: "type CallOptions struct{ Timeout time.Duration; secret int }\ntype CallOption func(*CallOptions)",
			want:  "client.Client.Call: parameter opts: field client.CallOptions.secret is unexported; an option's struct crosses field by field, and only exported fields can"},
		{name: "variadic of an interface", methods: "Log(args ...any) // HERE",
			want: "client.Client.Log: parameter args: []any cannot cross a process (element any: an interface; only error, context.Context and proto.Message cross, as parameters or results)"},
		{name: "type parameter in a generic interface's method is refused as a named generic", methods: "Put(v Box[chan int]) error // HERE", extra: "type Box[T any] struct{ V T }",
			want: "client.Client.Put: parameter v: client.Box[chan int] cannot cross a process (field client.Box[chan int].V: a channel)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := kindSource("\t"+tc.methods, tc.extra)
			k, problems := analyzeSource(t, src)
			if k != nil {
				t.Errorf("Analyze returned a kind despite problems")
			}
			if len(problems) != 1 {
				t.Fatalf("got %d problems, want 1: %v", len(problems), problems)
			}
			p := problems[0]
			if want, ok := strings.CutPrefix(tc.want, "..."); ok {
				if !strings.Contains(p.Msg, want) {
					t.Errorf("message:\n got %s\nwant it to contain %s", p.Msg, want)
				}
			} else if p.Msg != tc.want {
				t.Errorf("message:\n got %s\nwant %s", p.Msg, tc.want)
			}
			lines := marked(src)
			if p.Pos.Line != lines[0] || p.Pos.Filename != "client.go" {
				t.Errorf("position %v, want client.go:%d", p.Pos, lines[0])
			}
		})
	}
}

// TestAnalyzeConstructorProblems: what is wrong with the constructor is
// reported at the kind variable's declaration.
func TestAnalyzeConstructorProblems(t *testing.T) {
	for _, tc := range []struct {
		name, decl, want string
	}{
		{"returns a struct pointer", "var Kinds = map[string]func(...Option) *Impl{} // HERE\ntype Impl struct{ X int }",
			"kind client: constructor func(...client.Option) *client.Impl: want a func returning a named interface type, or a named interface type and an error; a process plugin's instances are reached through their interface"},
		{"returns an unnamed interface", "var Kinds = map[string]func() interface{ M() }{} // HERE",
			"...want a func returning a named interface type"},
		{"returns two values, the second not an error", "var Kinds = map[string]func() (Client, int){} // HERE",
			"...want a func returning a named interface type, or a named interface type and an error"},
		{"takes a context", "var Kinds = map[string]func(ctx context.Context) Client{} // HERE",
			"kind client: constructor func(ctx context.Context) client.Client: parameter ctx: a context.Context cannot cross here; only a method's parameter may be one"},
		{"takes a message", "var Kinds = map[string]func(m proto.Message) Client{} // HERE",
			"kind client: constructor func(m proto.Message) client.Client: parameter m: proto.Message cannot cross as a constructor's parameter (a constructor takes values and functional options only)"},
		{"takes a chan", "var Kinds = map[string]func(string, chan int) Client{} // HERE",
			"kind client: constructor func(string, chan int) client.Client: parameter 1: chan int cannot cross a process (a channel)"},
		{"option struct with a chan", "var Kinds = map[string]func(...Opt) Client{}\ntype Opt func(*O)\ntype O struct{ C chan int } // HERE",
			"...parameter 0: field client.O.C: chan int cannot cross a process (a channel)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := kindSource("\tClose() error", tc.decl)
			fset, p := check(t, map[string]string{
				"example.com/svc/client":            src,
				"example.com/other/internal/hidden": "package hidden\n\ntype T struct{ X int }\n",
			}, "example.com/svc/client")
			k, problems := Analyze(fset, "client", ctorOf(t, p, "Kinds"), p)
			if k != nil || len(problems) != 1 {
				t.Fatalf("got %v, %v; want one problem", k, problems)
			}
			msg := problems[0].Msg
			if want, ok := strings.CutPrefix(tc.want, "..."); ok && !strings.Contains(msg, want) || !ok && msg != tc.want {
				t.Errorf("message:\n got %s\nwant %s", msg, tc.want)
			}
			// A func type's parameters are positioned where it is written;
			// an option struct's problems at the option's parameter.
			if got, want := problems[0].Pos.Line, marked(src)[0]; got != want && !strings.Contains(tc.name, "option") {
				t.Errorf("line %d, want %d", got, want)
			}
		})
	}
}

// TestAnalyzeReportsAll: every problem is reported, sorted by position,
// not only the first.
func TestAnalyzeReportsAll(t *testing.T) {
	src := kindSource(`	A(ch chan int) error // HERE
	B(f func()) // HERE
	C() uintptr // HERE
	D(x, y **int) // HERE
	PluginkRelease() // HERE
	e() // HERE`, "")
	_, problems := analyzeSource(t, src)
	lines := marked(src)
	want := len(lines) + 1 // D has two
	if len(problems) != want {
		t.Fatalf("got %d problems, want %d:\n%v", len(problems), want, problems)
	}
	var got []int
	for _, p := range problems {
		got = append(got, p.Pos.Line)
	}
	wantLines := []int{lines[0], lines[1], lines[2], lines[3], lines[3], lines[4], lines[5]}
	if fmt.Sprint(got) != fmt.Sprint(wantLines) {
		t.Errorf("lines %v, want %v", got, wantLines)
	}
	if s := problems[0].String(); !strings.HasPrefix(s, fmt.Sprintf("client.go:%d:", lines[0])) {
		t.Errorf("String() = %q, want it to start with the position", s)
	}
}

// TestAnalyzeAccepts: what crosses is accepted, and recorded in the shape.
func TestAnalyzeAccepts(t *testing.T) {
	src := kindSource(`	Tree(ctx context.Context, t *Tree) (Tree, error)
	Page(Page[Item]) Page[Item]
	Grid([3][2]float64, map[[2]int][]byte) (complex128, bool)
	Token(Token) error
	Own(own.T) error
	At(time.Time, *time.Duration)
	Msg(context.Context, *wrapperspb.StringValue, ...CallOption) (proto.Message, error)`, `
type Tree struct{ Name string; Kids []Tree; Parent *Tree }
type Page[T any] struct{ Items []T; Next string }
type Item struct{ ID uint16 }
// Token has an unexported field but encodes itself.
type Token struct{ raw []byte }
func (t Token) GobEncode() ([]byte, error) { return t.raw, nil }
func (t *Token) GobDecode(b []byte) error { t.raw = b; return nil }
type CallOptions struct{ Context context.Context; Tags map[string]string }
type CallOption func(*CallOptions)
`)
	src = strings.Replace(src, `"example.com/other/internal/hidden"`, `"example.com/other/internal/hidden"
	"example.com/svc/client/internal/own"`, 1)
	k, problems := analyzeSource(t, src)
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	shape := k.Shape()
	for _, want := range []string{
		"method Tree(context.Context, *example.com/svc/client.Tree) (example.com/svc/client.Tree, error)\n",
		"type example.com/svc/client.Tree struct{Name string; Kids []example.com/svc/client.Tree; Parent *example.com/svc/client.Tree}\n",
		"type example.com/svc/client.Page[example.com/svc/client.Item] struct{Items []example.com/svc/client.Item; Next string}\n",
		"type example.com/svc/client.Token marshaled\n",
		"method Grid([3][2]float64, map[[2]int][]uint8) (complex128, bool)\n",
		"struct example.com/svc/client.CallOptions struct{Context context.Context; Tags map[string]string}\n",
		"method Msg(context.Context, *google.golang.org/protobuf/types/known/wrapperspb.StringValue, ...example.com/svc/client.CallOption) (google.golang.org/protobuf/reflect/protoreflect.ProtoMessage, error)\n",
	} {
		if !strings.Contains(shape, want) {
			t.Errorf("shape lacks %q:\n%s", want, shape)
		}
	}
	if path, name := k.Interface(); path != "example.com/svc/client" || name != "Client" {
		t.Errorf("Interface() = %s, %s", path, name)
	}
	if got := k.HostConstructor(); got != "pluginkProcessClient" {
		t.Errorf("HostConstructor() = %s", got)
	}
}

// TestShapeIsWhatMatters: the shape changes with what crosses (a field's
// type, a method), and not with how the source spells it (an alias, a
// parameter's name).
func TestShapeIsWhatMatters(t *testing.T) {
	base := kindSource("\tGet(ctx context.Context, key string) (Item, error)", "type Item struct{ ID int }")
	shape := func(src string) string {
		k, problems := analyzeSource(t, src)
		if len(problems) > 0 {
			t.Fatalf("problems: %v", problems)
		}
		return k.Shape()
	}
	s0 := shape(base)
	for name, src := range map[string]string{
		"field type":  strings.Replace(base, "ID int", "ID int64", 1),
		"field name":  strings.Replace(base, "ID int", "Id int", 1),
		"new method":  strings.Replace(base, "(Item, error)", "(Item, error)\n\tClose() error", 1),
		"result type": strings.Replace(base, "(Item, error)", "(*Item, error)", 1),
		"option":      strings.Replace(base, "Address string", "Address []string", 1),
	} {
		if shape(src) == s0 {
			t.Errorf("%s: the shape did not change", name)
		}
	}
	for name, src := range map[string]string{
		"parameter name": strings.Replace(base, "key string", "name string", 1),
		"alias":          strings.Replace(base, "(Item, error)", "(ItemAlias, error)", 1) + "\ntype ItemAlias = Item\n",
	} {
		if got := shape(src); got != s0 {
			t.Errorf("%s: the shape changed:\n%s\nwas\n%s", name, got, s0)
		}
	}
}

func TestCamel(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"client", "my-client", "myclient", "a-1", "a1", "a--b", "a-b", "ab", "a-", "x9-z"} {
		c := camel(name)
		if other, dup := seen[c]; dup {
			t.Errorf("camel(%q) = camel(%q) = %q", name, other, c)
		}
		seen[c] = name
	}
	if got := camel("my-client"); got != "MyClient" {
		t.Errorf("camel(my-client) = %q", got)
	}
}

func TestAnalyzeBadKindName(t *testing.T) {
	fset, p := check(t, map[string]string{"example.com/svc/client": kindSource("", ""), "example.com/other/internal/hidden": "package hidden\ntype T int\n"}, "example.com/svc/client")
	if _, problems := Analyze(fset, "My_Client", ctorOf(t, p, "DefaultClients"), p); len(problems) != 1 || !strings.Contains(problems[0].Msg, "kind name") {
		t.Errorf("problems: %v", problems)
	}
	if _, problems := Analyze(fset, "client", nil, p); len(problems) != 1 {
		t.Errorf("nil constructor: problems %v", problems)
	}
}

// TestAnalyzeConstructorAll: a constructor with a wrong result still has
// its parameters checked.
func TestAnalyzeConstructorAll(t *testing.T) {
	src := kindSource("\tClose() error", "var Kinds = map[string]func(chan int) *Impl{}\ntype Impl struct{ X int }")
	fset, p := check(t, map[string]string{"example.com/svc/client": src, "example.com/other/internal/hidden": "package hidden\ntype T int\n"}, "example.com/svc/client")
	if _, problems := Analyze(fset, "client", ctorOf(t, p, "Kinds"), p); len(problems) != 2 {
		t.Errorf("problems: %v", problems)
	}
}

// TestAnalyzeUnwritableInterface: an unexported interface, or an
// unexported named constructor type, is refused once.
func TestAnalyzeUnwritableInterface(t *testing.T) {
	for decl, want := range map[string]string{
		"var Kinds = map[string]func() client{}\ntype client interface{ Close() error }": "interface client.client cannot be written in generated code (client.client is not exported)",
		"var Kinds = map[string]newFunc{}\ntype newFunc func() Client":                   "kind client: constructor client.newFunc cannot be written in generated code (client.newFunc is not exported)",
	} {
		src := kindSource("\tClose() error", decl)
		fset, p := check(t, map[string]string{"example.com/svc/client": src, "example.com/other/internal/hidden": "package hidden\ntype T int\n"}, "example.com/svc/client")
		if _, problems := Analyze(fset, "client", ctorOf(t, p, "Kinds"), p); len(problems) != 1 || !strings.Contains(problems[0].Msg, want) {
			t.Errorf("%s: problems %v, want one with %q", decl, problems, want)
		}
	}
}
