// Command dupecho is a plugin main package (another pluginpath) that
// provides the same kind and name as the plugin Build makes for echo.
package main

import (
	"github.com/plugink/plugink/loader/testdata/plugins/echo"
	"github.com/plugink/plugink/runtime"
)

// Plugin is client/echo, again.
var Plugin = &runtime.Config{Name: "echo", Type: "client", Path: "github.com/plugink/plugink/loader/testdata/plugins/echo", NewFunc: echo.NewClient}

func main() {}
