package runtime

import (
	"bytes"
	"testing"
)

// TestCompiledInWarnsOfMicroPlugin: a program whose plugins are compiled
// in says once, on standard error, that $MICRO_PLUGIN is not read.
func TestCompiledInWarnsOfMicroPlugin(t *testing.T) {
	var buf bytes.Buffer
	old := warnings
	warnings = &buf
	defer func() { warnings = old }()
	t.Setenv(EnvPlugins, "/opt/x/client_brpc.so")
	r := NewRegistry()
	for range 2 {
		if err := r.InitAll(nil, CompiledIn()); err != nil {
			t.Fatal(err)
		}
	}
	want := `$MICRO_PLUGIN names "/opt/x/client_brpc.so", but this program was built without -tags plugink_dynamic: its plugins are compiled in, and it loads no .so files` + "\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}
