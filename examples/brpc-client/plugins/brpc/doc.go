// Package brpc is a client plugin for Apache bRPC's baidu_std protocol: a
// [client.Client] that calls bRPC services (and this module's echo server)
// with protobuf messages.
//
// A host built with plugink registers [NewClient] as the "client" named
// "brpc" — compiled in by the code `go tool plugink gen` writes, or loaded
// from a .so built with `plugink build` — and the user selects it with
// --client=brpc or MICRO_CLIENT=brpc. Used directly:
//
//	c := brpc.NewClient(client.Address("127.0.0.1:8000"), brpc.Compress(baidustd.CompressGzip))
//	defer c.Close()
//	var rsp echopb.EchoResponse
//	err := c.Call(ctx, "example.EchoService", "Echo", &echopb.EchoRequest{Message: proto.String("hi")}, &rsp,
//		brpc.LogID(42), brpc.Attachment([]byte("raw")))
//
// One client keeps one TCP connection and runs every call over it at once,
// matching answers to calls by correlation_id. A call that finds no other
// call waiting reads its own answer from the connection (and those of
// calls that come meanwhile), so that a lone caller needs no other
// goroutine; calls that wait together are served by the connection's
// background reader. When the connection breaks, the calls in flight fail
// with an error wrapping [ErrConnection] and are retried on a new
// connection, up to [MaxRetry] times within their deadline, as bRPC does.
// A context deadline (or the client's timeout) both bounds the wait and is
// sent to the server as timeout_ms. Errors the server answers with are
// [*Error] values carrying bRPC's code and text. What a misbehaving server
// can cost the client is bounded: [MaxBodySize], [MaxQueued],
// [FrameTimeout] and [DecompressBudget].
package brpc
