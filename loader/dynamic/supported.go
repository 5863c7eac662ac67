//go:build cgo && (linux || darwin || freebsd)

package dynamic

// NeedsCgoOnLinuxDarwinOrFreeBSD exists only where a program can load Go
// plugins: see the package documentation.
const NeedsCgoOnLinuxDarwinOrFreeBSD = true
