package runtime_test

import (
	"flag"
	"fmt"

	"github.com/plugink/plugink/runtime"
)

// Greeter is the interface of a "greeter" kind in this example.
type Greeter interface{ Greet(who string) string }

type english struct{}

func (english) Greet(who string) string { return "hello, " + who }

type french struct{}

func (french) Greet(who string) string { return "bonjour, " + who }

func Example() {
	// The host declares its kind once, over its default map.
	defaults := map[string]func() Greeter{"en": func() Greeter { return english{} }}
	reg := runtime.NewRegistry() // programs usually use runtime.Declare and the Default registry
	greeters, _ := runtime.DeclareIn(reg, "greeter", defaults)

	// A plugin's Config, as a .so exports it or plugink's generated code builds it.
	plugin := &runtime.Config{Name: "fr", Type: "greeter", Path: "example.com/greeters/fr", NewFunc: func() Greeter { return french{} }}
	if err := reg.Init(plugin); err != nil {
		fmt.Println(err)
		return
	}

	// The user picks one with --greeter=fr or MICRO_GREETER=fr.
	fs := flag.NewFlagSet("svc", flag.ContinueOnError)
	greeters.RegisterFlag(fs)
	_ = fs.Parse([]string{"--greeter=fr"})
	name, newGreeter, err := greeters.Select("en")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(name, "->", newGreeter().Greet("world"))

	// A constructor of the wrong type is refused with both types named.
	err = reg.Init(&runtime.Config{Name: "de", Type: "greeter", NewFunc: func() string { return "hallo" }})
	fmt.Println(err)
	// Output:
	// fr -> bonjour, world
	// plugin "de" (greeter): NewFunc has type func() string; kind greeter wants func() runtime_test.Greeter
}
