package settings

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNormalTags(t *testing.T) {
	assert.Equal(t, "a,b", NormalTags(" b, a ,plugink_dynamic,,a"))
	assert.Equal(t, "", NormalTags(""))
}

func TestValue(t *testing.T) {
	bi := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "-tags", Value: "z,a"}, {Key: "GOAMD64", Value: "v3"}}}
	assert.Equal(t, "a,z", Value(bi, "-tags"))
	assert.Equal(t, "false", Value(bi, "-race"), "a boolean flag not recorded")
	assert.Equal(t, "", Value(bi, "-gcflags"))
	assert.Equal(t, "v3", Value(bi, "GOAMD64"))
}

// TestBuild: a host's settings become go build flags and environment
// variables, in the table's order; the tags as the host records them.
func TestBuild(t *testing.T) {
	bi := &debug.BuildInfo{Settings: []debug.BuildSetting{
		{Key: "-race", Value: "true"}, {Key: "-tags", Value: "plugink_dynamic,x"}, {Key: "GOOS", Value: "linux"},
		{Key: "GOAMD64", Value: "v2"}, {Key: "-pgo", Value: "/nonexistent/default.pgo"}, {Key: "CGO_ENABLED", Value: "1"},
	}}
	flags, env := Build(bi)
	assert.Equal(t, []string{"-trimpath=false", "-race=true", "-msan=false", "-asan=false", "-cover=false", "-tags=plugink_dynamic,x"}, flags)
	assert.Equal(t, []string{"GOOS=linux", "GOAMD64=v2", "GOEXPERIMENT=", "CGO_ENABLED=1"}, env)
}
