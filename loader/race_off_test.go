//go:build !race

package loader_test

// raceEnabled is true in a test binary built with -race.
const raceEnabled = false
