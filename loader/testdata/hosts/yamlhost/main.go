// Command yamlhost is a host program for the loader's tests. Unlike a test
// binary, whose build information lists no modules, it records the modules
// it links, among them go.yaml.in/yaml/v3. It loads the plugin file named
// by its argument and prints the result:
//
//	yamlhost [-nopreflight] plugin.so
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/plugink/plugink/loader"
	"go.yaml.in/yaml/v3"
)

func main() {
	noPreflight := flag.Bool("nopreflight", false, "do not compare builds, nor open in a trial process, before opening")
	flag.Parse()
	if _, err := yaml.Marshal("linked"); err != nil {
		panic(err)
	}
	var opts []loader.Option
	if *noPreflight {
		opts = append(opts, loader.WithoutPreflight(), loader.WithoutTrial())
	}
	cfg, err := loader.NewPlugin(opts...).Load(flag.Arg(0))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("loaded", cfg)
}
