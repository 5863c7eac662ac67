// Command initlog is a plugin whose init appends a line to the file
// $PLUGINK_TEST_INIT_LOG names, if set: a test counts the processes that
// opened it (a trial's child, then the loader's).
package main

import (
	"os"

	"github.com/plugink/plugink/loader/testdata/plugins/echo"
	"github.com/plugink/plugink/runtime"
)

// Plugin is client/initlog.
var Plugin = runtime.Config{Name: "initlog", Type: "client", Path: "github.com/plugink/plugink/loader/testdata/plugins/echo", NewFunc: echo.NewClient}

func init() {
	if name := os.Getenv("PLUGINK_TEST_INIT_LOG"); name != "" {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			f.WriteString("init\n")
			f.Close()
		}
	}
}

func main() {}
