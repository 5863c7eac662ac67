// Package glue checks that a kind's interface can cross a process, and
// generates the two sides of the net/rpc glue that carries it: the host's
// client (a type implementing the kind's interface whose methods call an
// instance in a plugin process) and the plugin executable's main package
// (a receiver whose methods call the plugin's implementation).
//
// [Analyze] takes the kind's constructor type, as gen reads it from export
// data, and refuses, with a [Problem] each, every parameter, result or
// field that gob cannot carry faithfully: channels, funcs, interfaces
// (other than error, context.Context and protocol buffers messages),
// uintptr, unsafe.Pointer, pointers to pointers, empty structs, structs
// with unexported fields (unless they marshal themselves), and named types
// the generated code could not write. What it accepts, a [Kind], emits:
//
//	k, problems := glue.Analyze(fset, "client", ctor, kindPkg)
//	k.EmitHost(f)                                  // into the host's glue file
//	src, err := k.Plugin("brpc", "example.com/plugins/brpc", "NewClient")
//
// Both sides are generated from the same analysis, whose text ([Kind.Shape])
// gives the handshake's protocol version: a plugin built from another shape
// of the interface is refused before any call. The runtime both sides call
// is package github.com/plugink/plugink/process.
//
// How values cross:
//
//   - A value of a crossable type crosses as itself (gob); a pointer as
//     nil or one element, so that a pointer to a zero value stays one.
//   - A functional option (a final ...O with O func(*T), T a struct) is
//     applied on the host to a zero T, and crosses as the fields it set;
//     the plugin's side passes one option that sets those, so the plugin
//     constructor's defaults stay for the others. A context.Context field
//     of T does not cross: the host refuses one that carries something.
//   - A protocol buffers message crosses in its wire form, found again by
//     its full name in the plugin.
//   - An error crosses as its message and the name of the sentinel error
//     (an exported error variable of the kind's package) it matched, so
//     that errors.Is holds on the other side.
//   - A pointer or message parameter is copied back into the caller's
//     value when the call returns.
package glue
