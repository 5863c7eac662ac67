//go:build !unix

package fsx

// oNonblock is not needed where there are no FIFOs to open by path.
const oNonblock = 0

// busy is false here: opens do not refuse to wait.
func busy(error) bool { return false }
