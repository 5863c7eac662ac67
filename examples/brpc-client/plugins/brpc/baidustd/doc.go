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
// [Decoder] reads frames from a stream with a limit on the body size (see
// [BodyLimit]) and, on a net.Conn, a deadline for each frame to arrive
// whole ([Decoder.SetFrameTimeout]), and [DecodeResponse] turns a response
// frame into its payload or an [*Error] carrying bRPC's error code and
// text. A [Budget] bounds the memory that decompressed payloads hold at
// once. [Writer] lets many goroutines write frames to one connection,
// coalescing them into few writes, or writing at once when the connection
// is idle ([Writer.WriteNow]).
//
// What a peer sends is treated as hostile: memory is committed as bytes
// arrive, not as headers claim; a payload stops decompressing at its limit
// or when the budget is spent ([ErrTooLarge], [ErrOvercrowded]); and text
// a peer sends reaches an error through [PeerText].
//
//	buf := baidustd.AppendFrame(nil, &baidustd.Meta{
//		Request:       &baidustd.RequestMeta{ServiceName: "example.EchoService", MethodName: "Echo"},
//		CorrelationID: 1,
//	}, payload, nil)
//
//	d := baidustd.NewDecoder(conn, baidustd.DefaultMaxBodySize)
//	var f baidustd.Frame
//	if err := d.Decode(&f); err != nil { ... }
//	payload, lease, err := baidustd.DecodeResponse(&f, baidustd.DefaultMaxBodySize, nil)
//	defer lease.Release()
//
// The RpcMeta messages are encoded by hand with protowire, field by field
// after bRPC's baidu_rpc_meta.proto; unknown fields are skipped on decoding.
package baidustd
