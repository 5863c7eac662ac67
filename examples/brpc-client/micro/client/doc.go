// Package client is the client side of a small micro-style framework: a
// [Client] calls a method of a remote service with protobuf messages, and
// [Kind] is the plugink kind "client" that lets a program choose its client
// by name.
//
// [DefaultClients] holds the implementations the host knows; "grpc" is built
// in. Plugins add more: compiled in by code that `go tool plugink gen`
// writes, or loaded from a .so at start-up. The user picks one with
// --client or MICRO_CLIENT:
//
//	client.Kind.RegisterFlag(nil)
//	flag.Parse()
//	name, newClient, err := client.Kind.Select("grpc")
//	if err != nil {
//		log.Fatal(err) // an unknown name lists the clients there are
//	}
//	c := newClient(client.Address("127.0.0.1:8000"), client.Timeout(time.Second))
//	defer c.Close()
//	err = c.Call(ctx, "example.EchoService", "Echo", req, rsp)
package client
