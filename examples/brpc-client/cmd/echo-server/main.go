// Command echo-server serves example.EchoService — the service of bRPC's
// example/echo_c++ — over gRPC and over baidu_std, on two ports.
//
//	echo-server -grpc 127.0.0.1:0 -brpc 127.0.0.1:0
//
// Once both listen, it prints their addresses on stdout, one a line, so
// that a script can read them:
//
//	grpc 127.0.0.1:41235
//	brpc 127.0.0.1:39047
//
// It stops on SIGINT or SIGTERM. Over baidu_std it echoes the request's
// attachment back, and answers bad requests as bRPC does (1001, 1002,
// 1003). What a peer can cost it is bounded as internal/brpcserver says
// (-max-body-size, -frame-timeout); running out of file descriptors makes
// it pause accepting, not exit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"

	"github.com/plugink/plugink/examples/brpc-client/internal/brpcserver"
	"github.com/plugink/plugink/examples/brpc-client/internal/echo"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("echo-server: ")
	grpcAddr := flag.String("grpc", "127.0.0.1:50051", "gRPC listen address (port 0 picks a free port)")
	brpcAddr := flag.String("brpc", "127.0.0.1:8000", "baidu_std listen address (port 0 picks a free port)")
	maxBody := flag.Int("max-body-size", baidustd.DefaultMaxBodySize, "largest baidu_std request body, in bytes")
	frameTimeout := flag.Duration("frame-timeout", brpcserver.DefaultFrameTimeout, "time a baidu_std request frame may take to arrive, from its first byte to its last")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Stdout, *grpcAddr, *brpcAddr, brpcserver.MaxBodySize(*maxBody), brpcserver.FrameTimeout(*frameTimeout))
	if err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx ends or a server fails, after writing the addresses
// it listens on to out. opts configure the baidu_std server.
func run(ctx context.Context, out io.Writer, grpcAddr, brpcAddr string, opts ...brpcserver.Option) error {
	gl, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return fmt.Errorf("grpc: %w", err)
	}
	bl, err := net.Listen("tcp", brpcAddr)
	if err != nil {
		gl.Close()
		return fmt.Errorf("brpc: %w", err)
	}
	gs := grpc.NewServer()
	echopb.RegisterEchoServiceServer(gs, echo.Service{})
	bs := brpcserver.New(append(opts, brpcserver.ErrorLog(log.Default()))...)
	echopb.RegisterEchoServiceServer(bs, echo.Service{})

	errs := make(chan error, 2)
	go func() { errs <- gs.Serve(gl) }()
	go func() { errs <- bs.Serve(bl) }()
	fmt.Fprintf(out, "grpc %s\nbrpc %s\n", gl.Addr(), bl.Addr())

	select {
	case <-ctx.Done():
		err = nil
	case err = <-errs:
	}
	gs.GracefulStop()
	bs.Close()
	if errors.Is(err, brpcserver.ErrServerClosed) {
		err = nil
	}
	return err
}
