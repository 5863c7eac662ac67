//go:build !unix

package loader

import "os/exec"

// isolate does nothing where there are no process groups; such systems
// cannot load Go plugins anyway.
func isolate(*exec.Cmd) {}
