// Command noisyinit is a plugin whose init writes to standard output
// without ending the line, and starts a process that keeps standard output
// and standard error open for 6 seconds: neither may change the trial's
// verdict, nor keep Load waiting.
package main

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/plugink/plugink/loader/testdata/plugins/echo"
	"github.com/plugink/plugink/runtime"
)

// Plugin is client/noisy.
var Plugin = runtime.Config{Name: "noisy", Type: "client", Path: "github.com/plugink/plugink/loader/testdata/plugins/echo", NewFunc: echo.NewClient}

func init() {
	fmt.Print("noisyinit banner, no newline ")
	cmd := exec.Command("sleep", "6")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	_ = cmd.Start()
}

func main() {}
