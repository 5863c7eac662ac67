// Command demo walks through go-micro's plugin contract with plugink's
// loader: Build a client plugin into a .so inside this module's graph, Load
// it, Init it into the client kind's default map, and select it by --client
// (or MICRO_CLIENT), as go-micro's cmd.Before did. An unknown name fails
// with the list of clients.
//
//	go run ./loader/internal/demo [--client=echo]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/loader/internal/testkind"
	"github.com/plugink/plugink/runtime"
)

// DefaultClients is the host's default map, as go-micro's cmd.DefaultClients.
var DefaultClients = map[string]testkind.NewFunc{"static": testkind.NewStatic}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	clients := runtime.MustDeclare("client", DefaultClients)
	clients.RegisterFlag(nil)
	flag.Parse()

	dir, err := os.MkdirTemp("", "plugink-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	so := filepath.Join(dir, "echo.so")
	c := &runtime.Config{Name: "echo", Type: "client", Path: "github.com/plugink/plugink/loader/testdata/plugins/echo", NewFunc: "NewClient"}
	fmt.Printf("== Build %s (NewFunc %q) into a .so, in this module's graph\n", c.Path, c.NewFunc)
	start := time.Now()
	if err := loader.Build(so, c); err != nil {
		return err
	}
	fmt.Printf("   built in %s\n", time.Since(start).Round(time.Millisecond))
	info, err := loader.Inspect(so)
	if err != nil {
		return err
	}
	fmt.Printf("   pluginpath %s, sha256 %s...\n", info.PluginPath, info.SHA256[:16])

	fmt.Println("== Load it (preflight against this program's build, then plugin.Open)")
	loaded, err := loader.Load(so)
	if err != nil {
		return err
	}
	fmt.Printf("   Plugin = runtime.Config{Name: %q, Type: %q, Path: %q, NewFunc: %T}\n", loaded.Name, loaded.Type, loaded.Path, loaded.NewFunc)
	fmt.Println("== Init it into the client kind")
	if err := loader.Init(loaded); err != nil {
		return err
	}
	fmt.Printf("   clients: %v\n", clients.Names())

	for _, choice := range []string{clients.Choice("echo"), "thrift"} {
		fmt.Printf("== Select --client=%s\n", choice)
		name, newClient, err := clients.Select(choice)
		if err != nil {
			fmt.Printf("   error (expected for an unknown name): %v\n", err)
			continue
		}
		reply, err := newClient(testkind.WithPrefix("[" + name + "] ")).Call("hello")
		if err != nil {
			return err
		}
		fmt.Printf("   %s\n", reply)
	}
	return nil
}
