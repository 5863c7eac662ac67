//go:build !linux

package process

import "os/exec"

// setParentDeath does nothing here: the plugin process watches its parent
// instead (see Serve).
func setParentDeath(*exec.Cmd) {}
