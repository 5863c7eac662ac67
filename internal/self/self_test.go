package self

import (
	"runtime/debug"
	"testing"
)

// TestMainPackageDir: the main package's directory, relative to its
// module's root, when the build information tells it.
func TestMainPackageDir(t *testing.T) {
	for _, tc := range []struct {
		path, module string
		want         string
		ok           bool
	}{
		{"example.com/svc/cmd/svc", "example.com/svc", "cmd/svc", true},
		{"example.com/svc", "example.com/svc", ".", true},
		{"example.com/svc/loader.test", "example.com/svc", "", false}, // a test binary
		{"command-line-arguments", "example.com/svc", "", false},      // go build file.go
		{"example.com/svcx/cmd", "example.com/svc", "", false},
		{"example.com/svc/cmd", "", "", false},
	} {
		bi := &debug.BuildInfo{Path: tc.path, Main: debug.Module{Path: tc.module}}
		if got, ok := MainPackageDir(bi); got != tc.want || ok != tc.ok {
			t.Errorf("MainPackageDir(%s in %s) = %q, %v; want %q, %v", tc.path, tc.module, got, ok, tc.want, tc.ok)
		}
	}
}
