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

// SetMapped makes f run each time the loader has mapped a file it is
// about to check, before it reads any of it, and returns the function that
// undoes it.
func SetMapped(f func(path string)) (undo func()) {
	testHookMapped = f
	return func() { testHookMapped = nil }
}
