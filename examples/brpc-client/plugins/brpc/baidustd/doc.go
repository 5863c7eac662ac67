// Package baidustd encodes and decodes frames of baidu_std, the default
// protocol of Apache bRPC.
//
// A frame is a 12-byte header — the magic "PRPC", the body size and the meta
// size, both big-endian uint32 — followed by the body: an RpcMeta protobuf,
// the payload (a protobuf message, possibly compressed) and the attachment
// (raw bytes, never compressed):
//
//	[ "PRPC" ][ body size ][ meta size ][ meta ][ payload ][ attachment ]
//
// The package has no connection logic: [AppendFrame] writes a frame, a
// [Decoder] reads frames from a stream with a limit on the body size, and
// [DecodeResponse] turns a response frame into its payload or an [*Error]
// carrying bRPC's error code and text. [Writer] lets many goroutines write
// frames to one connection, coalescing them into few writes.
//
//	buf := baidustd.AppendFrame(nil, &baidustd.Meta{
//		Request:       &baidustd.RequestMeta{ServiceName: "example.EchoService", MethodName: "Echo"},
//		CorrelationID: 1,
//	}, payload, nil)
//
//	d := baidustd.NewDecoder(conn, baidustd.DefaultMaxBodySize)
//	var f baidustd.Frame
//	if err := d.Decode(&f); err != nil { ... }
//	payload, err := baidustd.DecodeResponse(&f, baidustd.DefaultMaxBodySize)
//
// The RpcMeta messages are encoded by hand with protowire, field by field
// after bRPC's baidu_rpc_meta.proto; unknown fields are skipped on decoding.
package baidustd
