package glue

import (
	"fmt"
	"go/token"
	"go/types"
	"slices"
	"strings"

	"github.com/plugink/plugink/runtime"
)

const (
	processPath      = "github.com/plugink/plugink/process"
	processAlias     = "pluginkprocess"
	protoreflectPath = "google.golang.org/protobuf/reflect/protoreflect"
)

// reserved are the method names the generated plugin receiver has itself,
// and why.
var reserved = map[string]string{
	"PluginkNew":     "the generated receiver's constructor method",
	"PluginkCancel":  "the plugin runtime's cancellation method",
	"PluginkRelease": "the plugin runtime's release method",
	"Server":         "the generated receiver's embedded *pluginkprocess.Server field",
}

// Problem is one reason a kind cannot cross a process: where (a position
// in Go source of the kind's package or of the type's), and why.
type Problem struct {
	// Pos is where the problem is: the parameter, result, method or type
	// at fault; zero if the types carry no position.
	Pos token.Position
	// Msg names the method and the parameter or result, and says why.
	Msg string
}

// String returns the problem as "file:line:col: message".
func (p Problem) String() string {
	if !p.Pos.IsValid() {
		return p.Msg
	}
	return p.Pos.String() + ": " + p.Msg
}

// Kind is a kind's constructor and interface, checked to cross a process.
type Kind struct {
	name    string // the kind's name ("client")
	camel   string // name CamelCased ("Client"), one-to-one
	ctor    types.Type
	iface   *types.Named
	ctorErr bool // the constructor returns (I, error)
	params  []*value
	methods []*method
	// sentinels are the names of the exported error variables of kindPkg.
	sentinels []string
	kindPkg   *types.Package
	// mirrors are the options whose struct crosses as a mirror type,
	// in the order found.
	mirrors []*option
	// pkgs are the packages the generated code names: path to name.
	pkgs map[string]string
	// named holds the definition, for the shape, of each named type that
	// crosses, by its full name.
	named map[string]string
}

// role is how a parameter or result crosses.
type role int

const (
	rolePlain      role = iota // a crossable value, as itself
	roleVariadic               // a final ...V, as a []V
	rolePointer                // a *T, as a []T of zero or one element
	roleContext                // a context.Context: its deadline and cancellation
	roleError                  // an error, as a *pluginkprocess.Error
	roleMessage                // a proto.Message, as a pluginkprocess.Message
	roleMessagePtr             // a *T that is a proto message, likewise
	roleOption                 // a final ...O functional option, as its struct
)

// value is a parameter or result.
type value struct {
	name     string     // its name in the signature, or ""
	index    int        // its index in the signature
	typ      types.Type // its type (for a variadic parameter, the slice)
	role     role
	opt      *option // for roleOption
	copyBack bool    // a pointer or message parameter of a method
}

// option is a functional option type O, func(*T).
type option struct {
	fn     types.Type // O
	st     types.Type // T
	fields []field
	// mirror is the name of the type T crosses as, when T has context
	// fields (which do not cross); "" when T crosses as itself.
	mirror string
}

// field is a field of an option's struct.
type field struct {
	name string
	typ  types.Type
	ctx  bool // a context.Context, which does not cross
}

// method is a method of the kind's interface.
type method struct {
	name            string
	sig             *types.Signature
	params, results []*value
	// errResult is the index of the result that returns a failed call's
	// error (the last error result), or -1.
	errResult int
}

// analyzer holds the state of one Analyze.
type analyzer struct {
	fset     *token.FileSet
	k        *Kind
	problems []Problem
	// crossed caches cross's answer for named types, by full name; ""
	// also while a type is being checked, so recursive types end.
	crossed map[string]string
	options map[string]*option
	names   map[string]bool // names taken by mirrors and fixed names
}

// Analyze checks that the kind kindName, whose constructor has type ctor
// (a func type) and whose variable kindPkg declares, can cross a process.
// fset holds the positions of ctor's objects. It returns the kind, or nil
// and every problem found, sorted by position.
func Analyze(fset *token.FileSet, kindName string, ctor types.Type, kindPkg *types.Package) (kind *Kind, problems []Problem) {
	defer func() {
		// A bug here must not stop gen for kinds that never cross.
		if r := recover(); r != nil {
			kind, problems = nil, append(problems, Problem{Msg: fmt.Sprintf("kind %s: internal error of plugink's glue analysis (please report it): %v", kindName, r)})
		}
	}()
	k := &Kind{name: kindName, camel: camel(kindName), ctor: ctor, kindPkg: kindPkg, named: map[string]string{}, pkgs: map[string]string{}}
	a := &analyzer{fset: fset, k: k, crossed: map[string]string{}, options: map[string]*option{},
		names: map[string]bool{"pluginkShape": true, "pluginkSentinels": true, "pluginkArgs": true, "pluginkReply": true}}
	if err := runtime.CheckKindName(kindName); err != nil {
		a.problem(token.NoPos, "kind %q %v", kindName, err)
		return nil, a.problems
	}
	if ctor == nil {
		a.problem(token.NoPos, "kind %s: no constructor type", kindName)
		return nil, a.problems
	}
	sig, ok := ctor.Underlying().(*types.Signature)
	if !ok {
		a.problem(objPos(ctor), "kind %s: constructor type %s is not a func type", kindName, typeString(ctor))
		return nil, a.problems
	}
	if a.constructor(sig) {
		a.interfaceMethods()
		a.sentinels()
	}
	if len(a.problems) > 0 {
		slices.SortStableFunc(a.problems, func(x, y Problem) int {
			if c := strings.Compare(x.Pos.Filename, y.Pos.Filename); c != 0 {
				return c
			}
			if x.Pos.Line != y.Pos.Line {
				return x.Pos.Line - y.Pos.Line
			}
			return x.Pos.Column - y.Pos.Column
		})
		return nil, a.problems
	}
	return k, nil
}

func (a *analyzer) problem(pos token.Pos, format string, args ...any) {
	var p token.Position
	if pos.IsValid() && a.fset != nil {
		p = a.fset.Position(pos)
	}
	a.problems = append(a.problems, Problem{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

// objPos returns the position of t's declaration, if t is named.
func objPos(t types.Type) token.Pos {
	switch t := t.(type) {
	case *types.Named:
		return t.Obj().Pos()
	case *types.Alias:
		return t.Obj().Pos()
	}
	return token.NoPos
}

// firstPos returns the first valid position of ps.
func firstPos(ps ...token.Pos) token.Pos {
	for _, p := range ps {
		if p.IsValid() {
			return p
		}
	}
	return token.NoPos
}

// constructor checks the constructor's results and parameters; it reports
// whether the interface is known, for the methods to be checked.
func (a *analyzer) constructor(sig *types.Signature) bool {
	k := a.k
	where := fmt.Sprintf("kind %s: constructor %s", k.name, typeString(k.ctor))
	res := sig.Results()
	ok := res.Len() == 1 || res.Len() == 2 && isError(res.At(1).Type())
	var iface *types.Named
	if ok {
		iface, _ = types.Unalias(res.At(0).Type()).(*types.Named)
		ok = iface != nil && types.IsInterface(iface) && !isError(iface) && !isContext(iface) && !isMessage(iface)
	}
	for i := range sig.Params().Len() {
		v := sig.Params().At(i)
		k.params = append(k.params, a.value(where, "parameter", v, i, sig.Variadic() && i == sig.Params().Len()-1, firstPos(v.Pos(), objPos(k.ctor))))
	}
	if !ok {
		pos := firstPos(objPos(k.ctor))
		if res.Len() > 0 {
			pos = firstPos(res.At(0).Pos(), pos)
		}
		a.problem(pos, "%s: want a func returning a named interface type, or a named interface type and an error; a process plugin's instances are reached through their interface", where)
		return false
	}
	k.iface, k.ctorErr = iface, res.Len() == 2
	if r := a.spell(iface); r != "" {
		a.problem(firstPos(iface.Obj().Pos(), objPos(k.ctor)), "%s: interface %s cannot be written in generated code (%s)", where, typeString(iface), r)
	} else if _, unnamed := k.ctor.(*types.Signature); !unnamed {
		// Its parameters and result are checked; a named F's name too.
		if r := a.spell(k.ctor); r != "" {
			a.problem(objPos(k.ctor), "%s cannot be written in generated code (%s)", where, r)
		}
	}
	return true
}

// interfaceMethods checks the interface's methods, embedded ones included,
// sorted by name.
func (a *analyzer) interfaceMethods() {
	k := a.k
	it := k.iface.Underlying().(*types.Interface)
	var fns []*types.Func
	for i := range it.NumMethods() {
		fns = append(fns, it.Method(i))
	}
	slices.SortFunc(fns, func(x, y *types.Func) int { return strings.Compare(x.Name(), y.Name()) })
	for _, fn := range fns {
		where := fmt.Sprintf("%s.%s", typeString(k.iface), fn.Name())
		pos := firstPos(fn.Pos(), k.iface.Obj().Pos())
		if !fn.Exported() {
			a.problem(pos, "%s: method %s is unexported; every method of an interface that crosses a process must be exported, for the host's generated client to implement it", where, fn.Name())
			continue
		}
		if why, ok := reserved[fn.Name()]; ok {
			a.problem(pos, "%s: the method name %s is reserved for %s", where, fn.Name(), why)
			continue
		}
		sig := fn.Type().(*types.Signature)
		m := &method{name: fn.Name(), sig: sig, errResult: -1}
		ctx := false
		for i := range sig.Params().Len() {
			v := sig.Params().At(i)
			p := a.value(where, "parameter", v, i, sig.Variadic() && i == sig.Params().Len()-1, firstPos(v.Pos(), pos))
			if p.role == roleContext {
				if ctx {
					a.problem(firstPos(v.Pos(), pos), "%s: %s: a second context.Context; a method takes at most one", where, label("parameter", v, i))
				}
				ctx = true
			}
			m.params = append(m.params, p)
		}
		for i := range sig.Results().Len() {
			v := sig.Results().At(i)
			r := a.value(where, "result", v, i, false, firstPos(v.Pos(), pos))
			if r.role == roleError {
				m.errResult = i
			}
			m.results = append(m.results, r)
		}
		k.methods = append(k.methods, m)
	}
}

// sentinels finds the exported variables of type error in the kind's
// package.
func (a *analyzer) sentinels() {
	p := a.k.kindPkg
	if p == nil || p.Name() == "main" {
		return
	}
	for _, name := range p.Scope().Names() {
		if v, ok := p.Scope().Lookup(name).(*types.Var); ok && v.Exported() && isError(v.Type()) {
			a.k.sentinels = append(a.k.sentinels, name)
			a.k.pkgs[p.Path()] = p.Name()
		}
	}
}

// label names a parameter or result: by name if it has one, else by index.
func label(what string, v *types.Var, i int) string {
	if v.Name() != "" && v.Name() != "_" {
		return what + " " + v.Name()
	}
	return fmt.Sprintf("%s %d", what, i)
}

// value classifies the parameter or result v (what), the i-th of the
// function where, and checks that it crosses.
func (a *analyzer) value(where, what string, v *types.Var, i int, variadic bool, pos token.Pos) *value {
	x := &value{name: v.Name(), index: i, typ: v.Type()}
	fail := func(format string, args ...any) {
		a.problem(pos, "%s: %s: "+format, append([]any{where, label(what, v, i)}, args...)...)
	}
	ctor := strings.HasPrefix(where, "kind ")
	t := types.Unalias(v.Type())
	if variadic {
		elem := t.(*types.Slice).Elem()
		if fn, st, ok := optionOf(elem); ok {
			x.role, x.opt = roleOption, a.option(fn, st, fail)
			return x
		}
		x.role = roleVariadic
	} else {
		switch {
		case isContext(t):
			x.role = roleContext
		case isError(t):
			x.role = roleError
		case isMessage(t):
			x.role = roleMessage
		case isMessagePtr(t):
			x.role = roleMessagePtr
		default:
			if p, ok := t.(*types.Pointer); ok {
				if _, pp := p.Elem().Underlying().(*types.Pointer); !pp {
					x.role = rolePointer
				}
			}
		}
	}
	x.copyBack = what == "parameter" && !ctor && (x.role == rolePointer || x.role == roleMessage || x.role == roleMessagePtr)
	switch {
	case x.role == roleContext && (ctor || what == "result"):
		fail("a context.Context cannot cross here; only a method's parameter may be one")
		return x
	case ctor && x.role != rolePlain && x.role != rolePointer && x.role != roleVariadic:
		fail("%s cannot cross as a constructor's parameter (a constructor takes values and functional options only)", typeString(v.Type()))
		return x
	case x.role == rolePlain || x.role == rolePointer || x.role == roleVariadic:
		if r := a.cross(v.Type()); r != "" {
			fail("%s cannot cross a process (%s)", typeString(v.Type()), r)
			return x
		}
	}
	if r := a.spell(v.Type()); r != "" {
		fail("%s cannot be written in generated code (%s)", typeString(v.Type()), r)
	}
	return x
}

// optionOf reports whether t is a functional option type, func(*T) with T
// a struct, and returns T.
func optionOf(t types.Type) (fn, st types.Type, ok bool) {
	sig, ok := t.Underlying().(*types.Signature)
	if !ok || sig.Variadic() || sig.Params().Len() != 1 || sig.Results().Len() != 0 {
		return nil, nil, false
	}
	p, ok := types.Unalias(sig.Params().At(0).Type()).(*types.Pointer)
	if !ok {
		return nil, nil, false
	}
	if _, ok := p.Elem().Underlying().(*types.Struct); !ok {
		return nil, nil, false
	}
	return t, p.Elem(), true
}

// option checks the option type fn, func(*st), once per type.
func (a *analyzer) option(fn, st types.Type, fail func(string, ...any)) *option {
	key := shapeType(fn)
	if o := a.options[key]; o != nil {
		return o
	}
	o := &option{fn: fn, st: st}
	a.options[key] = o
	if r := a.spell(fn); r != "" {
		fail("the option type %s cannot be written in generated code (%s)", typeString(fn), r)
	}
	if r := a.spell(st); r != "" {
		fail("the option struct %s cannot be written in generated code (%s)", typeString(st), r)
	}
	s := st.Underlying().(*types.Struct)
	hasCtx := false
	var fields []string
	for i := range s.NumFields() {
		f := s.Field(i)
		fields = append(fields, f.Name()+" "+shapeType(f.Type()))
		if isContext(f.Type()) {
			hasCtx = true
		}
	}
	for i := range s.NumFields() {
		f := s.Field(i)
		name := typeString(st) + "." + f.Name()
		switch {
		case !f.Exported():
			fail("field %s is unexported; an option's struct crosses field by field, and only exported fields can", name)
		case isContext(f.Type()):
			o.fields = append(o.fields, field{name: f.Name(), typ: f.Type(), ctx: true})
		default:
			if r := a.cross(f.Type()); r != "" {
				fail("field %s: %s cannot cross a process (%s)", name, typeString(f.Type()), r)
			} else if r := a.spell(f.Type()); hasCtx && r != "" {
				fail("field %s: %s cannot be written in generated code (%s)", name, typeString(f.Type()), r)
			}
			o.fields = append(o.fields, field{name: f.Name(), typ: f.Type()})
		}
	}
	a.k.named["option "+key] = shapeType(fn.Underlying())
	a.k.named["struct "+shapeType(st)] = "struct{" + strings.Join(fields, "; ") + "}"
	if hasCtx {
		base := "Options"
		if n, ok := types.Unalias(st).(*types.Named); ok {
			base = n.Obj().Name()
		}
		o.mirror = a.unique("plugink" + strings.ToUpper(base[:1]) + base[1:])
		a.k.mirrors = append(a.k.mirrors, o)
	}
	return o
}

// unique returns name, or name with a number, not yet taken.
func (a *analyzer) unique(name string) string {
	n := name
	for i := 2; a.names[n]; i++ {
		n = fmt.Sprintf("%s%d", name, i)
	}
	a.names[n] = true
	return n
}

// camel returns a kind name ("my-client") CamelCased ("MyClient"), one to
// one: a '-' before a letter makes it upper-case, any other '-' is '_'.
func camel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 0 && c >= 'a' && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case c == '-' && i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z':
			i++
			b.WriteByte(s[i] - 'a' + 'A')
		case c == '-':
			b.WriteByte('_')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Interface returns the import path and name of the constructor's result
// interface.
func (k *Kind) Interface() (pkgPath, name string) {
	obj := k.iface.Obj()
	return obj.Pkg().Path(), obj.Name()
}

// HostConstructor returns the name of the func [Kind.EmitHost] declares:
// given a pluginkprocess.Spec, it returns a constructor of the kind's type.
func (k *Kind) HostConstructor() string { return "pluginkProcess" + k.camel }

// Shape returns the canonical text of everything both sides must agree
// on: the kind's name, the constructor's parameters, the interface's
// methods with their parameter and result types, and the definition of
// each named type that crosses (struct fields by name and type), with
// full package paths. The same input gives the same text.
func (k *Kind) Shape() string {
	var b strings.Builder
	b.WriteString("plugink process shape 2\n") // 2: options cross with the fields they set
	fmt.Fprintf(&b, "kind %s\n", k.name)
	fmt.Fprintf(&b, "constructor %s\n", shapeType(k.ctor.Underlying()))
	fmt.Fprintf(&b, "interface %s\n", shapeType(k.iface))
	for _, m := range k.methods {
		fn, _ := k.iface.Underlying().(*types.Interface)
		for i := range fn.NumMethods() {
			if f := fn.Method(i); f.Name() == m.name {
				fmt.Fprintf(&b, "method %s%s\n", m.name, strings.TrimPrefix(shapeType(f.Type()), "func"))
			}
		}
	}
	keys := make([]string, 0, len(k.named))
	for key := range k.named {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		fmt.Fprintf(&b, "%s %s\n", key, k.named[key])
	}
	return b.String()
}
