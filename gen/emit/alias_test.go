package emit

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPluginAlias(t *testing.T) {
	tests := map[string]string{
		"example.com/plugins/brpc":        "brpc",
		"example.com/plugins/brpc/v2":     "brpc",
		"example.com/plugins/brpc/v0":     "v0",
		"example.com/plugins/go-brpc":     "go_brpc",
		"gopkg.in/yaml.v3":                "yaml_v3",
		"example.com/x/runtime":           "runtime",
		"example.com/x/string":            "stringpkg",
		"example.com/x/type":              "typepkg",
		"example.com/x/2fast":             "p2fast",
		"brpc":                            "brpc",
		"v2":                              "v2",
		"example.com/plugins/brpc/v2/sub": "sub",
	}
	for path, want := range tests {
		assert.Equal(t, want, PluginAlias(path), path)
	}
}
