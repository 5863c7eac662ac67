// Package runtime is the part of plugink that host programs and plugins link:
// the plugin description ([Config]), kinds that bind a name to a typed default
// map, registration ([Init]) and selection of an implementation by flag or
// environment variable.
//
// It imports only the standard library, so that every plugin can link it
// without pulling anything else into the host's dependency graph.
//
// A host declares each kind once, binding it to its default map:
//
//	var DefaultClients = map[string]func(...client.Option) client.Client{
//		"grpc": grpc.NewClient,
//	}
//
//	var Clients = runtime.MustDeclare("client", DefaultClients)
//
// A plugin describes itself with a Config:
//
//	var Plugin = runtime.Config{
//		Name:    "brpc",
//		Type:    "client",
//		Path:    "example.com/plugins/brpc",
//		NewFunc: brpc.NewClient,
//	}
//
// Registering it puts NewFunc into DefaultClients["brpc"], after checking that
// its type is the kind's constructor type:
//
//	if err := runtime.Init(&brpc.Plugin); err != nil { ... }
//
// The user then chooses an implementation with --client=brpc or
// MICRO_CLIENT=brpc:
//
//	Clients.RegisterFlag(flag.CommandLine)
//	flag.Parse()
//	name, newClient, err := Clients.Select("grpc")
package runtime
