//go:build !unix

package trial

import "os/exec"

// isolate does nothing where there are no process groups; such systems
// cannot load Go plugins anyway.
func isolate(*exec.Cmd) {}

// readSpec finds no spec here: no trial runs.
func readSpec(string) (string, bool) { return "", false }

func closeOnExec(int)  {}
func becomeSubreaper() {}
func endDescendants()  {}
