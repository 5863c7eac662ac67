// Command namefunc is a plugin main package whose Plugin.NewFunc is the
// constructor's name, the form Build takes, instead of the constructor.
package main

import "github.com/plugink/plugink/runtime"

// Plugin names its constructor instead of holding it.
var Plugin = runtime.Config{Name: "namefunc", Type: "client", Path: "github.com/plugink/plugink/loader/testdata/plugins/echo", NewFunc: "NewClient"}

func main() {}
