// Command loadall is a host program for the loader's tests that links no
// module but plugink. It declares the kind "client" with the constructor
// type of testdata/yamlmod, loads the plugin files named by its arguments
// with one LoadAll and prints the result:
//
//	loadall plugin.so...
package main

import (
	"fmt"
	"os"

	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/runtime"
)

// clients is the kind's default map.
var clients = map[string]func() ([]byte, error){}

func main() {
	runtime.MustDeclare("client", clients)
	cfgs, err := loader.LoadAll(os.Args[1:])
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	for _, c := range cfgs {
		fmt.Println("loaded", c)
	}
}
