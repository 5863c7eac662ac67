// Package scaffold starts plugink in a host package and adds plugins to
// it, as plugink init and plugink new do: it finds the variables that can
// bind kinds (go-micro default maps and runtime.Kinds) with go/packages,
// writes the first manifest, and writes a plugin package whose constructor
// has its kind's type, adding its entry to the manifest with the rest of
// the text as it was. Both regenerate with package gen, and write nothing
// until [Scaffold.Write], which writes all or nothing and never overwrites
// a file it creates.
//
//	res, err := scaffold.Init(ctx, scaffold.InitOptions{Dir: "cmd/svc"})
//	if err != nil { ... }
//	err = res.Write() // cmd/svc/plugink.yaml, plugink.go, the generated files
//
//	add, err := scaffold.NewPlugin(ctx, scaffold.NewOptions{Options: gen.Options{Dir: "cmd/svc"}, Kind: "client", Name: "hello"})
//	if err != nil { ... }
//	err = add.Write() // cmd/svc/client/hello/hello.go, the manifest, the generated files
package scaffold
