package loader

// HostSettings exposes hostSettings to the tests, which build hand-written
// plugin main packages with the flags and environment Build would use.
var HostSettings = hostSettings

// SetBeforeOpen makes f run right before each plugin.Open, for a test
// that changes the file there, and returns the function that undoes it.
func SetBeforeOpen(f func()) (undo func()) {
	testHookBeforeOpen = f
	return func() { testHookBeforeOpen = nil }
}
