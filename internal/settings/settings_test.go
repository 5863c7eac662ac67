package settings

import (
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	flags, env, err := Build(bi)
	require.NoError(t, err)
	assert.Equal(t, []string{"-trimpath=false", "-race=true", "-msan=false", "-asan=false", "-cover=false", "-tags=plugink_dynamic,x"}, flags)
	assert.Equal(t, []string{"GOOS=linux", "GOAMD64=v2", "GOEXPERIMENT=", "CGO_ENABLED=1"}, env)
}

// TestBuildRefusesWhatIsNotData: a host binary's build information is
// data: a value that would make go build run a program, write a file or
// hang is refused, naming the setting, and nothing is returned.
func TestBuildRefusesWhatIsNotData(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "default.pgo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	for _, tc := range []struct{ key, value, want string }{
		{"CGO_CFLAGS", "-O2 -g -wrapper /bin/sh,-c,touch", `"-wrapper" is not among the C flags`},
		{"CGO_LDFLAGS", "-Wl,-plugin,/tmp/evil.so", `"-Wl,-plugin,/tmp/evil.so"`},
		{"CGO_CPPFLAGS", "-B/tmp/evil", `"-B/tmp/evil"`},
		{"CGO_CXXFLAGS", "-fplugin=/tmp/evil.so", `"-fplugin=/tmp/evil.so"`},
		{"CGO_CFLAGS", "@/tmp/more-flags", `"@/tmp/more-flags"`},
		{"-gcflags", "all=-N -l -cpuprofile=/tmp/x", `"-cpuprofile=/tmp/x" is not among the compiler flags`},
		{"-asmflags", "-o=/tmp/x", `"-o=/tmp/x"`},
		{"-gcflags", "$(touch)=-N", `package pattern`},
		{"-pgo", fifo, "not a regular file"},
		{"-tags", "a,b -toolexec=/bin/sh", `tag "b -toolexec=/bin/sh"`},
		{"-race", "true -toolexec=x", "want true or false"},
		{"GOEXPERIMENT", "x;touch", "want letters"},
		{"GOAMD64", "v1\nGOFLAGS=-toolexec=x", "control character"},
		{"CGO_ENABLED", "yes", "want 0 or 1"},
	} {
		bi := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: tc.key, Value: strings.ReplaceAll(tc.value, "\\n", "\n")}}}
		flags, env, err := Build(bi)
		require.ErrorIs(t, err, ErrUntrusted, "%s=%s", tc.key, tc.value)
		assert.ErrorContains(t, err, tc.key+"=")
		assert.ErrorContains(t, err, tc.want)
		assert.Nil(t, flags)
		assert.Nil(t, env)
	}
}

// TestBuildPassesOrdinarySettings: what go build and gcc are commonly
// given passes.
func TestBuildPassesOrdinarySettings(t *testing.T) {
	bi := &debug.BuildInfo{Settings: []debug.BuildSetting{
		{Key: "CGO_CFLAGS", Value: "-O2 -g -Wall -Wno-unused -DNDEBUG -DVERSION=1.2 -I/usr/include/x -fPIC -march=x86-64-v2 -std=c11"},
		{Key: "CGO_LDFLAGS", Value: "-O2 -g -L/usr/lib/x -lssl -pthread"},
		{Key: "-gcflags", Value: "all=-N -l"},
		{Key: "-asmflags", Value: "-spectre=all"},
		{Key: "GOEXPERIMENT", Value: "rangefunc,nocoverageredesign"},
		{Key: "GOARM64", Value: "v8.0,lse"},
		{Key: "-tags", Value: "netgo,osusergo,plugink_dynamic"},
	}}
	_, _, err := Build(bi)
	require.NoError(t, err)
}
