package scaffold

import (
	"strings"
	"testing"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/runtime"
)

// TestAddPlugin: the entry goes where a person would put it, indented as
// the list is, and every other line stays as it was.
func TestAddPlugin(t *testing.T) {
	kinds := "kinds:\n  client: example.com/k.DefaultClients\n"
	entry := "  - name: hello\n    type: client\n    path: example.com/p/hello\n    newfunc: NewClient\n"
	tests := []struct{ name, in, want string }{
		{"no plugins key, no final newline", strings.TrimSuffix(kinds, "\n"), kinds + "plugins:\n" + entry},
		{"empty flow list", kinds + "plugins: [] # none yet\n", kinds + "plugins: # none yet\n" + entry},
		{"null", kinds + "plugins: ~\ndynamic:\n  dir: so\n", kinds + "plugins:\n" + entry + "dynamic:\n  dir: so\n"},
		{"nothing, then comments", kinds + "plugins:\n# - name: old\n\ndynamic: {}\n", kinds + "plugins:\n" + entry + "# - name: old\n\ndynamic: {}\n"},
		{"after the last entry and its comments, before what follows",
			kinds + "plugins:\n- name: a   # first\n  type: client\n  path: example.com/a\n  newfunc: New\n  # replace: true\n# dynamic:\n",
			kinds + "plugins:\n- name: a   # first\n  type: client\n  path: example.com/a\n  newfunc: New\n  # replace: true\n" +
				"- name: hello\n  type: client\n  path: example.com/p/hello\n  newfunc: NewClient\n# dynamic:\n"},
		{"wide indentation",
			"plugins:\n    -     name: a\n          type: client\n          path: example.com/a\n          newfunc: New\n" + kinds,
			"plugins:\n    -     name: a\n          type: client\n          path: example.com/a\n          newfunc: New\n" +
				"    -     name: hello\n          type: client\n          path: example.com/p/hello\n          newfunc: NewClient\n" + kinds},
		{"CRLF", strings.ReplaceAll(kinds, "\n", "\r\n") + "plugins: []\r\n", strings.ReplaceAll(kinds+"plugins:\n"+entry, "\n", "\r\n")},
	}
	c := &runtime.Config{Name: "hello", Type: "client", Path: "example.com/p/hello", NewFunc: "NewClient"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, err := gen.ParseManifest("plugink.yaml", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := addPlugin([]byte(tc.in), c)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out, tc.want)
			}
			after, err := gen.ParseManifest("plugink.yaml", out)
			if err != nil || !sameManifest(before, after, c) {
				t.Errorf("does not read back as the manifest with the plugin added: %v", err)
			}
		})
	}
	if _, _, err := addPlugin([]byte(kinds+"plugins: [{name: a, type: client, path: example.com/a, newfunc: New}]\n"), c); err == nil {
		t.Error("a flow list with entries: want an error")
	}
	// Values YAML would read as something else are quoted.
	odd := &runtime.Config{Name: "null", Type: "client", Path: "example.com/p/1.5", NewFunc: "New"}
	out, _, err := addPlugin([]byte(kinds), odd)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := gen.ParseManifest("plugink.yaml", out); err != nil || m.Plugins[0].Name != "null" {
		t.Errorf("%s: %v", out, err)
	}
}

func TestKindName(t *testing.T) {
	for _, tc := range []struct {
		v, pkg string
		isMap  bool
		want   string
	}{
		{"DefaultClients", "client", true, "client"},
		{"DefaultRegistries", "registry", true, "registry"},
		{"DefaultServerTransports", "transport", true, "server-transport"},
		{"DefaultHTTPHandlers", "web", true, "http-handler"},
		{"DefaultAddresses", "x", true, "address"},
		{"DefaultStatus", "x", true, "status"},
		{"Codecs", "codec", true, "codec"},
		{"Default", "broker", true, "broker"},
		{"Default_Brokers", "broker", true, "broker"},
		{"ClientKind", "x", false, "client"},
		{"Kind", "selector", false, "selector"},
		{"Kind", "_x", false, ""},
	} {
		if got := KindName(tc.v, tc.pkg, tc.isMap); got != tc.want {
			t.Errorf("KindName(%q, %q) = %q, want %q", tc.v, tc.pkg, got, tc.want)
		}
	}
}
