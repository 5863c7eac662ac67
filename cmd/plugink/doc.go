// Command plugink generates and builds the plugins a Go program links, from
// its checked-in manifest, plugink.yaml. It is a thin front end: each
// command is a function of package gen, build or loader.
//
// Usage:
//
//	plugink gen [-C dir] [-manifest file] [-tags t,...] [-check]
//	plugink build [-C dir] [-manifest file] [-host binary [-hostsrc dir]] [-race] [-trimpath] [-tags t,...] [-j n] [-force] [-sign keyfile] [name|kind/name...]
//	plugink list [-C dir] [-manifest file] [-host binary [-hostsrc dir]] [-json]
//	plugink inspect [-C dir] [-json] [-host binary] file.so
//	plugink keygen [-C dir] -o name
//	plugink version
//
// In a host package, add
//
//	//go:generate go tool plugink gen
//
// and the tool to the module (go get -tool github.com/plugink/plugink/cmd/plugink).
//
// Exit codes: 0 success; 1 `gen -check` found generated files out of date
// (a diff is printed) or `inspect -host` found the plugin does not fit the
// host; 2 any error (bad usage, a bad manifest, a failed build). Errors go
// to standard error; every command takes -h.
package main
