// Package echo implements example.EchoService, the service of bRPC's
// example/echo_c++, for this module's servers and tests.
package echo

import (
	"context"

	"github.com/plugink/plugink/examples/brpc-client/internal/brpcserver"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

// Service answers each request with its own message and, over baidu_std,
// sends the request's attachment back, as bRPC's echo server does.
type Service struct {
	echopb.UnimplementedEchoServiceServer
}

// Echo returns req's message.
func (Service) Echo(ctx context.Context, req *echopb.EchoRequest) (*echopb.EchoResponse, error) {
	brpcserver.SetResponseAttachment(ctx, brpcserver.RequestAttachment(ctx))
	return &echopb.EchoResponse{Message: req.Message}, nil
}
