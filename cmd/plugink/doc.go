// Command plugink generates and builds the plugins a Go program links, from
// its checked-in manifest, plugink.yaml. It is a thin front end: each
// command is a function of package gen, build or loader.
//
// Usage:
//
//	plugink init [-C dir] [-kind name=import/path.Var]...
//	plugink new [-C dir] [-manifest file] [-dir path] kind name
//	plugink gen [-C dir] [-manifest file] [-tags t,...] [-check]
//	plugink build [-C dir] [-manifest file] [-host binary [-hostsrc dir]] [-race] [-trimpath] [-tags t,...] [-j n] [-force] [-sign keyfile] [-v] [-x] [-progress] [name|kind/name...]
//	plugink list [-C dir] [-manifest file] [-host binary [-hostsrc dir]] [-json] [-check]
//	plugink inspect [-C dir] [-json] [-host binary] file.so
//	plugink keygen [-C dir] -o name
//	plugink version
//
// (or plugink --version). Flags may come before or after the arguments, as
// go test takes its own; -- ends the flags. -C changes to a directory
// first, as go -C does: a relative path in any other flag (-manifest,
// -host, -hostsrc, -sign) or argument is read from there, and a message
// about such a path says so. Paths that plugink prints (the files built,
// kept or removed, list's files, the paths of gen -check's diff) are
// relative to the directory it was started in when they are under it.
//
// In a host package, add
//
//	//go:generate go tool plugink gen
//
// and the tool to the module (go get -tool github.com/plugink/plugink/cmd/plugink).
//
// Exit codes: 0 success; 1 `gen -check` found generated files out of date
// (a diff on standard output, which git apply takes from where plugink was
// started; which files on standard error), `list -check` found an enabled
// plugin not built, not recorded in plugink.sum, built from other inputs,
// or (with -host) not fitting the host, or `inspect -host` found the plugin
// does not fit the host; 2 any error (bad usage, a bad manifest, a failed
// build). `list -host` without -check exits 0 whatever the fit. Errors go
// to standard error, each with hints, on lines of their own, that are
// commands to paste where they can be; every command takes -h.
package main
