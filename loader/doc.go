// Package loader is plugink's dynamic path: it builds plugins as Go .so
// files, checks them, loads them with the standard plugin package, and
// registers them into their kinds (package runtime).
//
// A host that declared its kinds loads the plugins listed in MICRO_PLUGIN
// at start-up:
//
//	client.Kind.RegisterFlag(nil) // --client
//	flag.Parse()
//	if _, err := loader.LoadEnv(); err != nil {
//		log.Fatal(err) // names every file that failed, and why
//	}
//	name, newClient, err := client.Kind.Select("grpc")
//
// and a tool builds one, in the module of the current directory, with the
// settings of the program it runs in:
//
//	err := loader.Build("plugins/brpc", &runtime.Config{
//		Name:    "brpc",
//		Type:    "client",
//		Path:    "example.com/plugins/brpc",
//		NewFunc: "NewClient", // Build takes the constructor's name
//	})
//	cfg, err := loader.Load("plugins/brpc.so") // cfg.NewFunc is the constructor
//	err = loader.Init(cfg)
//
// # What Load checks before opening a file
//
// Opening a plugin runs its code, and a process can never unload it, nor
// open again a path that failed: so Load reads the file first. It verifies
// the file's SHA-256 against a plugink.sum ([WithSums]); checks that the
// file is a Go plugin for this OS and architecture; refuses a second file
// with the pluginpath of one already loaded (Go would say only "plugin
// already loaded"); and compares the file's build information with this
// program's ([Preflight]), reporting every difference at once — where
// plugin.Open would name one package, often not the cause ("different
// version of package internal/goarch" for a -trimpath mismatch).
//
// # Building in the host's module graph
//
// Build compiles the plugin inside the caller's module (or workspace), with
// the caller's build settings (-trimpath, -race, tags, CGO flags, GOAMD64,
// ...) taken from its build information, so that the result links the same
// version of every package the host shares with it. [BuildOptions] points
// it at another module or another host binary ([ReadBuildInfo]).
package loader
