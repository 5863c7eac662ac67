package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// ErrNoAddress is returned by calls of a client made without [Address].
var ErrNoAddress = errors.New("no server address (set it with client.Address)")

// grpcClient is the built-in client: gRPC over plain-text HTTP/2.
type grpcClient struct {
	opts Options

	once sync.Once
	conn *grpc.ClientConn
	err  error
}

// NewGRPCClient returns the built-in "grpc" client. It connects lazily, on
// the first call, and invokes "/<service>/<method>" with the protobuf codec.
func NewGRPCClient(opts ...Option) Client {
	return &grpcClient{opts: NewOptions(opts...)}
}

func (c *grpcClient) connect() (*grpc.ClientConn, error) {
	c.once.Do(func() {
		if c.opts.Address == "" {
			c.err = ErrNoAddress
			return
		}
		c.conn, c.err = grpc.NewClient("passthrough:///"+c.opts.Address,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.DefaultConfig,
				MinConnectTimeout: c.opts.DialTimeout,
			}))
	})
	return c.conn, c.err
}

// Call implements Client.
func (c *grpcClient) Call(ctx context.Context, service, method string, req, rsp proto.Message, opts ...CallOption) error {
	co := NewCallOptions(opts...)
	conn, err := c.connect()
	if err != nil {
		return fmt.Errorf("grpc: call %s.%s: %w", service, method, err)
	}
	ctx, cancel := CallContext(ctx, &c.opts, &co)
	defer cancel()
	if err := conn.Invoke(ctx, "/"+service+"/"+method, req, rsp); err != nil {
		return fmt.Errorf("grpc: call %s.%s on %s: %w", service, method, c.opts.Address, err)
	}
	return nil
}

// Close implements Client.
func (c *grpcClient) Close() error {
	c.once.Do(func() { c.err = errors.New("client closed") })
	if c.conn != nil {
		return c.conn.Close()
	}
	return nil
}

// String implements Client.
func (c *grpcClient) String() string { return "grpc" }
