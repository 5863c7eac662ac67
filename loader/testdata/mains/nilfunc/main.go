// Command nilfunc is a plugin main package whose Plugin has no NewFunc.
package main

import "github.com/plugink/plugink/runtime"

// Plugin has a nil NewFunc.
var Plugin = runtime.Config{Name: "nilfunc", Type: "client", Path: "github.com/plugink/plugink/loader/testdata/mains/nilfunc"}

func main() {}
