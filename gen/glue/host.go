package glue

import (
	"fmt"
	"go/types"
	"regexp"

	"github.com/dave/jennifer/jen"
)

// hostLocals are the identifiers the host side's generated funcs declare:
// an imported package named so must take another name in the host's file.
var hostLocals = regexp.MustCompile(`^(a|c|f|i|p|r|ctx|err|spec|[opr][0-9]+)$`)

// proc returns the code of name in the process runtime.
func proc(name string) *jen.Statement { return jen.Qual(processPath, name) }

// Names of the host side, one set per kind: "plugink" and a word, then the
// kind's name CamelCased, so that no two kinds' names collide (and none is
// a prefix of another's). The arguments' and replies' types are local to
// the funcs that use them.
func (k *Kind) sentinelsVar() string { return "pluginkSentinels" + k.camel }
func (k *Kind) clientType() string   { return "pluginkClient" + k.camel }

// EmitHost adds to f, a file of the host's package, the host side of the
// kind: the table of its package's sentinel errors, a client type that
// implements the kind's interface by calling an instance in a plugin
// process, and the func named [Kind.HostConstructor], which returns a
// constructor of the kind's type for a pluginkprocess.Spec. The
// declarations are the same whichever plugin uses them.
func (k *Kind) EmitHost(f *jen.File) {
	f.ImportAlias(processPath, processAlias)
	for path, name := range k.pkgs {
		// The kind's package is gen's to name (and it avoids hostLocals).
		if hostLocals.MatchString(name) && (k.kindPkg == nil || path != k.kindPkg.Path()) {
			f.ImportAlias(path, name+"pkg")
		}
	}
	f.Commentf("%s are the sentinel errors of kind %s's package, and context's:", k.sentinelsVar(), k.name).Line().
		Comment("errors.Is holds for them across the process boundary.")
	f.Var().Id(k.sentinelsVar()).Op("=").Add(k.sentinelTable())
	f.Line()
	k.emitHostConstructor(f)
	f.Line()
	f.Commentf("%s implements %s by calls to its instance in a plugin process.", k.clientType(), typeString(k.iface))
	f.Type().Id(k.clientType()).Struct(
		jen.Id("i").Op("*").Add(proc("Instance")),
		jen.Id("err").Error().Comment("why the host refused the constructor's arguments, if it did"),
	)
	for _, m := range k.methods {
		f.Line()
		k.emitHostMethod(f, m)
	}
}

// sentinelTable returns the []pluginkprocess.Sentinel of the kind's
// sentinel errors, then context's two, so that a plugin's error that
// wraps its call's context error does on the host as well.
func (k *Kind) sentinelTable() jen.Code {
	var items []jen.Code
	for _, name := range k.sentinels {
		items = append(items, jen.Values(
			jen.Id("Name").Op(":").Lit(k.kindPkg.Name()+"."+name),
			jen.Id("Err").Op(":").Qual(k.kindPkg.Path(), name)))
	}
	for _, name := range []string{"Canceled", "DeadlineExceeded"} {
		items = append(items, jen.Values(
			jen.Id("Name").Op(":").Lit("context."+name),
			jen.Id("Err").Op(":").Qual("context", name)))
	}
	return jen.Index().Add(proc("Sentinel")).Add(multiline(items...))
}

// multiline returns a composite literal's braces around items, one a line.
func multiline(items ...jen.Code) *jen.Statement {
	return jen.Custom(jen.Options{Open: "{", Close: "}", Separator: ",", Multi: true}, items...)
}

// argName is the name of the generated funcs' parameter for p.
func argName(p *value) string {
	if p.role == roleContext {
		return "ctx"
	}
	return fmt.Sprintf("p%d", p.index)
}

func argNames(params []*value) []string {
	var names []string
	for _, p := range params {
		names = append(names, argName(p))
	}
	return names
}

func pField(p *value) string { return fmt.Sprintf("P%d", p.index) }

// setField names the field that lists the fields a functional option
// parameter's options set.
func setField(p *value) string { return fmt.Sprintf("S%d", p.index) }
func rField(i int) string      { return fmt.Sprintf("R%d", i) }

// elem returns the element type of the pointer or slice t.
func elem(t types.Type) types.Type {
	switch t := types.Unalias(t).(type) {
	case *types.Pointer:
		return t.Elem()
	case *types.Slice:
		return t.Elem()
	}
	return t
}

// wireType returns the type v crosses as, a field of the arguments or of
// the reply.
func (k *Kind) wireType(v *value) jen.Code {
	switch v.role {
	case roleError:
		return jen.Op("*").Add(proc("Error"))
	case roleMessage, roleMessagePtr:
		return proc("Message")
	case rolePointer:
		return jen.Index().Add(k.typ(elem(v.typ)))
	case roleOption:
		if v.opt.mirror != "" {
			return jen.Id(v.opt.mirror)
		}
		return k.typ(v.opt.st)
	}
	return k.typ(v.typ)
}

// mirrorDecls returns the declarations of the mirror types params use.
func (k *Kind) mirrorDecls(params []*value, doc bool) []jen.Code {
	var out []jen.Code
	seen := map[*option]bool{}
	for _, p := range params {
		o := p.opt
		if o == nil || o.mirror == "" || seen[o] {
			continue
		}
		seen[o] = true
		var fields []jen.Code
		for _, f := range o.fields {
			if !f.ctx {
				fields = append(fields, jen.Id(f.name).Add(k.typ(f.typ)))
			}
		}
		if doc {
			out = append(out, jen.Commentf("%s is %s as it crosses: without its context fields.", o.mirror, typeString(o.st)))
		}
		out = append(out, jen.Type().Id(o.mirror).Struct(fields...))
	}
	return out
}

// callTypes returns the declarations of the arguments' type (named args)
// of a call with params, and of the reply's (reply) of a method m, if m
// is not nil.
func (k *Kind) callTypes(params []*value, m *method, args, reply string, doc bool) []jen.Code {
	var out []jen.Code
	fields := []jen.Code{proc("Header")}
	for _, p := range params {
		if p.role != roleContext {
			fields = append(fields, jen.Id(pField(p)).Add(k.wireType(p)))
		}
		if p.role == roleOption {
			fields = append(fields, jen.Id(setField(p)).Index().String().Comment("the fields the options set"))
		}
	}
	if doc {
		out = append(out, jen.Commentf("%s are the arguments of %s as they cross.", args, k.what(m)))
	}
	out = append(out, jen.Type().Id(args).Struct(fields...))
	if m == nil {
		return out
	}
	var rfields []jen.Code
	for i, r := range m.results {
		rfields = append(rfields, jen.Id(rField(i)).Add(k.wireType(r)))
	}
	for _, p := range m.params {
		if p.copyBack {
			t := k.wireType(p)
			if p.role == rolePointer {
				t = k.typ(elem(p.typ))
			}
			rfields = append(rfields, jen.Id(pField(p)).Add(t).Comment("copied back"))
		}
	}
	if doc {
		out = append(out, jen.Commentf("%s is the reply of %s as it crosses.", reply, k.what(m)))
	}
	return append(out, jen.Type().Id(reply).Struct(rfields...))
}

// what names m, or the constructor if m is nil, for comments.
func (k *Kind) what(m *method) string {
	if m == nil {
		return "kind " + k.name + "'s constructor"
	}
	return typeString(k.iface) + "." + m.name
}

// hostArgs returns the statements that make a, the arguments of a call
// with params, from the generated func's parameters; fail returns the
// statements that end the call with an error.
func (k *Kind) hostArgs(params []*value, fail func(err jen.Code) []jen.Code) []jen.Code {
	var out, lit, after []jen.Code
	declared := false
	for _, p := range params {
		arg, field := jen.Id(argName(p)), jen.Id("a").Dot(pField(p))
		switch p.role {
		case rolePlain, roleVariadic:
			lit = append(lit, jen.Id(pField(p)).Op(":").Add(arg))
		case roleError:
			lit = append(lit, jen.Id(pField(p)).Op(":").Add(proc("EncodeError")).Call(arg, jen.Id(k.sentinelsVar())))
		case rolePointer:
			after = append(after, jen.If(arg.Clone().Op("!=").Nil()).Block(
				field.Op("=").Index().Add(k.typ(elem(p.typ))).Values(jen.Op("*").Add(arg))))
		case roleMessage, roleMessagePtr:
			if !declared {
				after = append(after, jen.Var().Err().Error())
				declared = true
			}
			after = append(after, jen.If(jen.List(field, jen.Err()).Op("=").Add(proc("MarshalMessage")).Call(arg), jen.Err().Op("!=").Nil()).Block(fail(jen.Err())...))
		case roleOption:
			// The options run twice, on a zero value and on one whose
			// every field holds something: a field they set (to zero, too)
			// is the same in both (see pluginkprocess.SetFields).
			// (Without options, nothing is set: a call pays nothing.)
			o, q, set := jen.Id(fmt.Sprintf("o%d", p.index)), jen.Id(fmt.Sprintf("q%d", p.index)), jen.Id(fmt.Sprintf("s%d", p.index))
			out = append(out, jen.Var().Add(o).Add(k.typ(p.opt.st)),
				jen.Var().Add(set).Index().String(),
				jen.If(jen.Len(arg).Op(">").Lit(0)).Block(
					jen.For(jen.List(jen.Id("_"), jen.Id("f")).Op(":=").Range().Add(arg)).Block(jen.Id("f").Call(jen.Op("&").Add(o))),
					jen.Var().Add(q).Add(k.typ(p.opt.st)),
					proc("Fill").Call(jen.Op("&").Add(q)),
					jen.For(jen.List(jen.Id("_"), jen.Id("f")).Op(":=").Range().Add(arg)).Block(jen.Id("f").Call(jen.Op("&").Add(q))),
					set.Clone().Op("=").Add(proc("SetFields")).Call(jen.Op("&").Add(o), jen.Op("&").Add(q)),
				))
			lit = append(lit, jen.Id(setField(p)).Op(":").Add(set))
			var mirror []jen.Code
			for _, f := range p.opt.fields {
				if f.ctx {
					where := typeString(p.opt.st) + "." + f.name
					out = append(out, jen.If(jen.Err().Op(":=").Add(proc("CheckContext")).Call(o.Clone().Dot(f.name), jen.Lit(where)), jen.Err().Op("!=").Nil()).Block(fail(jen.Err())...))
				} else {
					mirror = append(mirror, jen.Id(f.name).Op(":").Add(o.Clone().Dot(f.name)))
				}
			}
			if p.opt.mirror != "" {
				lit = append(lit, jen.Id(pField(p)).Op(":").Id(p.opt.mirror).Values(mirror...))
			} else {
				lit = append(lit, jen.Id(pField(p)).Op(":").Add(o))
			}
		}
	}
	out = append(out, jen.Id("a").Op(":=").Op("&").Id("pluginkArgs").Values(lit...))
	return append(out, after...)
}

// emitHostConstructor declares the func HostConstructor.
func (k *Kind) emitHostConstructor(f *jen.File) {
	sig := k.ctor.Underlying().(*types.Signature)
	body := append(k.mirrorDecls(k.params, false), k.callTypes(k.params, nil, "pluginkArgs", "", false)...)
	body = append(body,
		jen.Id("spec").Dot("Sentinels").Op("=").Id(k.sentinelsVar()),
		jen.Id("p").Op(":=").Add(proc("Open")).Call(jen.Id("spec")))
	fail := func(err jen.Code) []jen.Code {
		ret := jen.Return(jen.Id("c"))
		if k.ctorErr {
			ret = jen.Return(jen.Id("c"), jen.Err())
		}
		return []jen.Code{jen.Id("c").Dot("err").Op("=").Add(err), ret}
	}
	inner := []jen.Code{jen.Id("c").Op(":=").Op("&").Id(k.clientType()).Values()}
	inner = append(inner, k.hostArgs(k.params, fail)...)
	newCall := jen.Id("p").Dot("New").Call(jen.Qual("context", "Background").Call(), jen.Id("a"))
	cleanup := jen.Qual("runtime", "AddCleanup").Call(jen.Id("c"),
		jen.Func().Params(jen.Id("i").Op("*").Add(proc("Instance"))).Block(jen.Go().Id("i").Dot("Close").Call()),
		jen.Id("c").Dot("i"))
	if k.ctorErr {
		inner = append(inner,
			jen.Var().Err().Error(),
			jen.List(jen.Id("c").Dot("i"), jen.Err()).Op("=").Add(newCall),
			cleanup,
			jen.Return(jen.Id("c"), jen.Err()))
	} else {
		inner = append(inner,
			jen.List(jen.Id("c").Dot("i"), jen.Id("_")).Op("=").Add(newCall),
			cleanup,
			jen.Return(jen.Id("c")))
	}
	body = append(body, jen.Return(jen.Func().Add(k.signature(sig, argNames(k.params))).Block(inner...)))
	f.Commentf("%s returns a constructor of kind %s whose instances live in", k.HostConstructor(), k.name).Line().
		Comment("the process plugin that spec names; an instance the host drops is released.")
	f.Func().Id(k.HostConstructor()).Params(jen.Id("spec").Add(proc("Spec"))).Add(k.typ(k.ctor)).Block(body...)
}

// failure returns the statements that end a call of m with err: returned
// in its error result, else reported.
func (k *Kind) failure(m *method, err jen.Code) []jen.Code {
	var zeros []jen.Code
	for i, r := range m.results {
		if i == m.errResult {
			zeros = append(zeros, err)
		} else {
			zeros = append(zeros, k.zero(r.typ))
		}
	}
	if m.errResult >= 0 {
		return []jen.Code{jen.Return(zeros...)}
	}
	return []jen.Code{jen.Id("c").Dot("i").Dot("Report").Call(jen.Lit(m.name), err), jen.Return(zeros...)}
}

// emitHostMethod declares the client's method m.
func (k *Kind) emitHostMethod(f *jen.File, m *method) {
	fail := func(err jen.Code) []jen.Code { return k.failure(m, err) }
	body := append(k.mirrorDecls(m.params, false), k.callTypes(m.params, m, "pluginkArgs", "pluginkReply", false)...)
	body = append(body, jen.If(jen.Id("c").Dot("err").Op("!=").Nil()).Block(fail(jen.Id("c").Dot("err"))...))
	if m.name == "Close" && len(m.params) == 0 {
		// The kind's Close releases the instance in the plugin's process
		// too, once the plugin's Close has returned: the last instance's
		// Close ends the process.
		body = append(body, jen.Defer().Id("c").Dot("i").Dot("Close").Call())
	}
	body = append(body, k.hostArgs(m.params, fail)...)
	ctx := jen.Nil()
	for _, p := range m.params {
		if p.role == roleContext {
			ctx = jen.Id("ctx")
		}
	}
	body = append(body,
		jen.Var().Id("r").Id("pluginkReply"),
		jen.If(jen.Err().Op(":=").Id("c").Dot("i").Dot("Call").Call(ctx, jen.Lit(m.name), jen.Id("a"), jen.Op("&").Id("r")), jen.Err().Op("!=").Nil()).Block(fail(jen.Err())...))
	for _, p := range m.params {
		if !p.copyBack {
			continue
		}
		arg, field := jen.Id(argName(p)), jen.Id("r").Dot(pField(p))
		switch p.role {
		case rolePointer:
			body = append(body, jen.If(arg.Clone().Op("!=").Nil()).Block(jen.Op("*").Add(arg).Op("=").Add(field)))
		case roleMessage:
			body = append(body, jen.If(jen.Err().Op(":=").Add(field).Dot("Into").Call(arg), jen.Err().Op("!=").Nil()).Block(fail(jen.Err())...))
		case roleMessagePtr:
			body = append(body, jen.If(arg.Clone().Op("!=").Nil()).Block(
				jen.If(jen.Err().Op(":=").Add(field).Dot("Into").Call(arg), jen.Err().Op("!=").Nil()).Block(fail(jen.Err())...)))
		}
	}
	var rets []jen.Code
	for i, r := range m.results {
		v, field := jen.Id(fmt.Sprintf("r%d", i)), jen.Id("r").Dot(rField(i))
		switch r.role {
		case rolePointer:
			body = append(body, jen.Var().Add(v).Add(k.typ(r.typ)),
				jen.If(jen.Len(field).Op(">").Lit(0)).Block(v.Clone().Op("=").Op("&").Add(field.Clone()).Index(jen.Lit(0))))
			rets = append(rets, v)
		case roleError:
			rets = append(rets, proc("DecodeError").Call(field, jen.Id(k.sentinelsVar())))
		case roleMessage:
			body = append(body, jen.List(v, jen.Err()).Op(":=").Add(field).Dot("New").Call(),
				jen.If(jen.Err().Op("!=").Nil()).Block(fail(jen.Err())...))
			rets = append(rets, v)
		case roleMessagePtr:
			body = append(body, jen.Var().Add(v).Add(k.typ(r.typ)),
				jen.If(field.Clone().Dot("Set")).Block(
					v.Clone().Op("=").New(k.typ(elem(r.typ))),
					jen.If(jen.Err().Op(":=").Add(field).Dot("Into").Call(v), jen.Err().Op("!=").Nil()).Block(fail(jen.Err())...)))
			rets = append(rets, v)
		default:
			rets = append(rets, field)
		}
	}
	if len(rets) > 0 {
		body = append(body, jen.Return(rets...))
	}
	f.Commentf("%s calls %s on the plugin's instance.", m.name, k.what(m))
	f.Func().Params(jen.Id("c").Op("*").Id(k.clientType())).Id(m.name).Add(k.signature(m.sig, argNames(m.params))).Block(body...)
}
