// Command panicinit is a plugin main package whose init function panics.
package main

import (
	"github.com/plugink/plugink/loader/testdata/plugins/echo"
	"github.com/plugink/plugink/runtime"
)

// Plugin would be valid, if init did not panic.
var Plugin = runtime.Config{Name: "panicinit", Type: "client", Path: "github.com/plugink/plugink/loader/testdata/plugins/echo", NewFunc: echo.NewClient}

func init() { panic("panicinit: refusing to initialize") }

func main() {}
