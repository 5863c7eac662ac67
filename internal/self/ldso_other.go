//go:build !linux

package self

// viaDynamicLinker is Linux's: elsewhere a program is its own file.
func viaDynamicLinker() string { return "" }
