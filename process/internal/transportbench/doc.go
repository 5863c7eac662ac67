// Package transportbench measures the per-call cost of go-plugin's two
// transports, net/rpc (gob over one yamux stream) and gRPC (HTTP/2 over
// the plugin's socket), so that plugink can choose one for the glue it
// generates.
//
// It holds nothing but tests, and under internal/ what BenchmarkGlue's
// generated plugin is built from. Its test files hand-write a go-plugin
// client/server pair for each transport around the same tiny interface,
//
//	type Echoer interface{ Echo(ctx context.Context, msg []byte) ([]byte, error) }
//
// and serve it from a real child process: the test binary itself, run
// again with PLUGINK_TRANSPORTBENCH_SERVE=netrpc or =grpc. The gRPC pair
// needs no protoc: a hand-written grpc.ServiceDesc with one unary method
// carries wrapperspb.BytesValue both ways with the default proto codec.
//
// BenchmarkGlue compares the net/rpc pair with the glue plugink generates
// for the same interface (package gen/glue, over package process): the
// kind internal/echo, its plugin internal/echoimpl, the generated host
// side zz_plugink_glue_test.go and the generated plugin main
// internal/echomain, which it builds with the go command (and skips
// without one). TestGlueGenerated checks that the committed generated
// files are what gen/glue generates; TestGlueEcho, that the generated pair
// works (it builds the plugin: skipped with -short). BenchmarkStart/generated
// is the start-up of the generated plugin.
//
// BenchmarkEcho (64-byte messages) and BenchmarkEcho4KiB report ns/op,
// calls/s and per-call p50-µs and p99-µs for 1 and for 64 concurrent
// callers on one plugin client; BenchmarkStart times a plugin's start-up,
// from plugin.NewClient to the first successful call. Start-up costs
// milliseconds, so run it with far fewer iterations than the calls:
//
//	go test ./process/internal/transportbench -run '^$' -bench Echo -benchtime 2000x -count 3
//	go test ./process/internal/transportbench -run '^$' -bench Start -benchtime 100x -count 3
//	go test ./process/internal/transportbench -run '^$' -bench 'Glue|Echo/netrpc' -benchtime 5000x -count 3
package transportbench
