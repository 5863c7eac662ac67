// Package loader is plugink's dynamic path: it builds plugins as Go .so
// files, checks them, loads them with the standard plugin package, and
// registers them into their kinds (package runtime). It imports only
// runtime, plugink's small standard-library-only internal packages (each
// with one job: reading plugin files, comparing them with the host, the
// trial, load records, the table of opened files, checksums, the build),
// and the standard library, so that a host linking it links no generator
// code.
//
// A host that declared its kinds loads the plugins listed in MICRO_PLUGIN
// at start-up:
//
//	client.Kind.RegisterFlag(nil) // --client
//	flag.Parse()
//	if _, err := loader.LoadEnv(); err != nil {
//		log.Fatal(runtime.Explain(err)) // names every file that failed, and why
//	}
//	name, newClient, err := client.Kind.Select("grpc")
//
// The file plugink generates for a dynamic host declares a [Manifest] and
// calls its Load, which loads the manifest's plugin directory and
// MICRO_PLUGIN's files together.
//
// A tool builds a plugin in the module of the current directory, with the
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
// Opening a plugin runs its code; a process can never unload it, nor open
// again a path that failed; and a damaged file can crash the dynamic
// linker. So Load reads the file first, with a bounded reader of its own
// that no file content can make panic, hang or allocate without limit: if
// the Loader pins keys, it verifies first that one of them signed the
// file ([WithTrustedKeys]); it verifies the file's SHA-256 against a
// plugink.sum (the Loader's, or the one in the file's directory); checks
// that it is a Go plugin for this OS and architecture; for a file no
// signature or checksum verified, checks the structure the dynamic linker
// relies on; compares the file's build information and the fingerprint of
// every package it shares with this program ([Preflight]) and reports
// every difference at once, where plugin.Open would name one package;
// refuses a second file with the pluginpath of one already loaded;
// and, for an unverified file, opens it first in a child process of this
// program (see [WithoutTrial]). [Inspect] reads a file the same way without
// opening it at all.
//
// # Building in the host's module graph
//
// Build compiles the plugin inside the caller's module (or workspace), with
// the caller's build settings (-trimpath, -race, tags, CGO flags, GOAMD64,
// ...) taken from its build information, so that the result links the same
// version of every package the host shares with it. [BuildOptions] points
// it at another module or another host binary ([ReadHost]).
package loader
