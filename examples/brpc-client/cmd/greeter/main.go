// Command greeter is a micro-style service that calls example.EchoService
// through the "client" kind. Which client it uses is not in its code: the
// default is the built-in gRPC client; --client=brpc (or MICRO_CLIENT=brpc)
// picks the brpc plugin, compiled in by the generated static file, or
// loaded from a .so by the dynamic one (-tags plugink_dynamic, with the
// plugin in ./plugins or named by MICRO_PLUGIN).
//
//	greeter -grpc_addr 127.0.0.1:50051 -brpc_addr 127.0.0.1:8000 --client=brpc -msg hello
//
// In load mode it makes Echo calls from -c concurrent callers, -n calls in
// all or for -d, and prints calls/s and latency percentiles:
//
//	greeter --client=brpc -brpc_addr 127.0.0.1:8002 -c 64 -d 10s -request_size 11
//
// With -keep_going, a failed call does not end the load: each call is
// bounded by -timeout, the greeter says on stderr when calls are under way,
// and it prints how many calls failed, each distinct failure once with its
// count, and how many calls succeeded after the first failure.
//
// With -follow_upgrades, it calls through a client.Upgrading, which moves
// its calls to a new generation of the plugin when the host upgrades it
// (the manifest's dynamic.upgrade_signal: kill -HUP), and it ends a load
// run with one call that shows which client answers.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/internal/echoload"
	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
	"github.com/plugink/plugink/runtime"
)

//go:generate go tool plugink gen

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "greeter:", runtime.Explain(err)) // the error, then what to do about it
		os.Exit(1)
	}
}

func run() error {
	client.Kind.RegisterFlag(nil) // --client, or MICRO_CLIENT
	grpcAddr := flag.String("grpc_addr", "127.0.0.1:50051", "echo server's gRPC address, used by the grpc client")
	brpcAddr := flag.String("brpc_addr", "127.0.0.1:8000", "echo server's baidu_std address, used by the brpc client")
	msg := flag.String("msg", "hello from greeter", "message to echo")
	timeout := flag.Duration("timeout", 5*time.Second, "call timeout")
	var load echoload.Config
	flag.IntVar(&load.Calls, "n", 0, "load mode: make this many calls and print calls/s and latency percentiles")
	flag.DurationVar(&load.Duration, "d", 0, "load mode: call for this long (instead of -n)")
	flag.IntVar(&load.Callers, "c", 1, "load mode: concurrent callers sharing the client")
	flag.IntVar(&load.RequestSize, "request_size", 0, `load mode: bytes of each request's message (default: "hello world", 11 bytes)`)
	flag.BoolVar(&load.KeepGoing, "keep_going", false, "load mode: count failed calls and go on, rather than stop at the first; print each distinct failure once, with its count")
	follow := flag.Bool("follow_upgrades", false, "call through a client that follows upgrades of its plugin (a dynamic build whose manifest sets dynamic.upgrade_signal), and report each")
	flag.Parse()

	if err := initPlugins(); err != nil { // generated: static or dynamic by build tag
		return err
	}
	name, newClient, err := client.Kind.Select("grpc")
	if err != nil {
		return err
	}
	addr := *grpcAddr
	if name != "grpc" {
		addr = *brpcAddr // every other client of this example speaks baidu_std
	}
	opts := []client.Option{client.Address(addr), client.Timeout(*timeout)}
	var c client.Client
	if *follow {
		up, err := client.NewUpgrading(name, func(c client.Client) {
			fmt.Fprintf(os.Stderr, "greeter: client %s upgraded: calls go to %s now\n", name, c)
		}, opts...)
		if err != nil {
			return err
		}
		c = up
	} else {
		c = newClient(opts...)
	}
	defer c.Close()

	if load.Calls > 0 || load.Duration > 0 {
		if load.KeepGoing {
			load.CallTimeout = *timeout
			load.Started = func() { fmt.Fprintln(os.Stderr, "greeter: load: calls under way") }
		}
		r, err := echoload.Run(c, load)
		if err != nil {
			return fmt.Errorf("%s client: %w", name, err)
		}
		fmt.Printf("client=%s callers=%d %s\n", name, max(load.Callers, 1), r)
		if load.KeepGoing {
			fmt.Printf("failed=%d succeeded-after-first-failure=%d longest-µs=%.1f\n",
				r.Failed, r.SucceededAfterFailure, float64(r.Longest)/float64(time.Microsecond))
			for _, f := range r.Failures {
				fmt.Printf("failure x%d: %s\n", f.Count, f.Err)
			}
		}
		if !*follow {
			return nil
		}
	}
	rsp := &echopb.EchoResponse{}
	req := &echopb.EchoRequest{Message: proto.String(*msg)}
	if err := c.Call(context.Background(), "example.EchoService", "Echo", req, rsp); err != nil {
		return fmt.Errorf("%s client: %w", name, err)
	}
	fmt.Printf("client=%s (%s) addr=%s reply=%q\n", name, c, addr, rsp.GetMessage())
	return nil
}
