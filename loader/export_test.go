package loader

// HostSettings exposes hostSettings to the tests, which build hand-written
// plugin main packages with the flags and environment Build would use.
var HostSettings = hostSettings
