//go:build !unix

package trial

import "os/exec"

// isolate does nothing where there are no process groups; such systems
// cannot load Go plugins anyway.
func isolate(*exec.Cmd) {}
