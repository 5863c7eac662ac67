// Command greeter is the host of gen's end-to-end test: it registers the
// plugins with the generated initPlugins and prints what each kind holds.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/plugink/plugink/gen/testdata/ok/kind"
	"github.com/plugink/plugink/runtime"
)

// alphaclient is declared here as well as being the name of a plugin's
// package: the generated files must import that package under another name.
const alphaclient = "host"

func main() {
	flag.Parse()
	if err := initPlugins(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k, err := runtime.Declare("client", kind.DefaultClients)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, n := range k.Names() {
		f, _ := k.Get(n)
		fmt.Printf("client %s -> %s\n", n, f().Name())
	}
	for _, n := range kind.Greeters.Names() {
		f, _ := kind.Greeters.Get(n)
		fmt.Printf("greeter %s -> %s\n", n, f().Greet("you"))
	}
}
