// Package echopb holds the Go code generated from ../echo.proto: the messages
// and the gRPC client and server of example.EchoService.
//
// The generated files are checked in, so building this module needs no
// protoc. To regenerate them, install protoc (3.21 was used) and the two
// plugins at the versions recorded in the files' headers:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//
// then run go generate in this directory.
package echopb

//go:generate protoc -I .. --go_out=. --go_opt=module=github.com/plugink/plugink/examples/brpc-client/proto/echopb --go-grpc_out=. --go-grpc_opt=module=github.com/plugink/plugink/examples/brpc-client/proto/echopb ../echo.proto
