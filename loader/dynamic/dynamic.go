// Package dynamic holds one constant, declared only where a program can
// load Go plugins: built with cgo, on linux, darwin or freebsd. The file
// plugink generates for a dynamic host (built with -tags plugink_dynamic)
// refers to it, so that a host that could never load its plugins fails to
// build, with the reason in the compiler's error
// ("undefined: dynamic.NeedsCgoOnLinuxDarwinOrFreeBSD"), instead of
// failing at run time:
//
//	var _ = dynamic.NeedsCgoOnLinuxDarwinOrFreeBSD
//
// Build such a host with CGO_ENABLED=1 (and a C compiler) for one of
// those systems, or build it without -tags plugink_dynamic: its plugins
// are then compiled in.
package dynamic
