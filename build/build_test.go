package build

import (
	"testing"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/runtime"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSelectPlugins: names are unique only within a kind, so a bare name
// selects it in every kind, and kind/name selects one plugin.
func TestSelectPlugins(t *testing.T) {
	m := &gen.Manifest{File: "plugink.yaml", Plugins: []*gen.PluginDecl{
		{Config: runtime.Config{Name: "brpc", Type: "client"}},
		{Config: runtime.Config{Name: "brpc", Type: "server"}},
		{Config: runtime.Config{Name: "grpc", Type: "client"}},
		{Config: runtime.Config{Name: "old", Type: "client"}, Disabled: true},
	}}
	names := func(ps []*gen.PluginDecl) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Type+"/"+p.Name)
		}
		return out
	}
	tests := []struct {
		args []string
		want []string
	}{
		{nil, []string{"client/brpc", "server/brpc", "client/grpc"}},
		{[]string{"brpc"}, []string{"client/brpc", "server/brpc"}},
		{[]string{"server/brpc"}, []string{"server/brpc"}},
		{[]string{"grpc", "brpc", "client/grpc"}, []string{"client/grpc", "client/brpc", "server/brpc"}},
	}
	for _, tc := range tests {
		got, err := selectPlugins(m, tc.args)
		require.NoError(t, err, tc.args)
		assert.Equal(t, tc.want, names(got), tc.args)
	}
	_, err := selectPlugins(m, []string{"old", "client/nope"})
	assert.EqualError(t, err, "plugink.yaml: no enabled plugin named old, client/nope (plugins: client/brpc, server/brpc, client/grpc)")
}
