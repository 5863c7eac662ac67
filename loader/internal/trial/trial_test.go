package trial

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/internal/settings"
	"github.com/plugink/plugink/internal/testmod"
)

// daemonPlugin builds testdata/daemon as a plugin with this test binary's
// settings, once.
var daemonPlugin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "plugink-trial-test-")
	if err != nil {
		return "", err
	}
	bi, _ := debug.ReadBuildInfo()
	flags, env, err := settings.Build(bi)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "daemon.so")
	cmd := exec.Command("go", append(append([]string{"build", "-buildmode=plugin", "-o", out}, flags...), "./testdata/daemon")...)
	cmd.Env = append(os.Environ(), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, msg)
	}
	return out, nil
})

func daemon(t *testing.T) string {
	t.Helper()
	testmod.SkipIfShort(t)
	path, err := daemonPlugin()
	require.NoError(t, err)
	return path
}

// sleepers returns the pids of the processes running "sleep <seconds>".
func sleepers(t *testing.T, seconds string) []int {
	t.Helper()
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, f := range cmdlines {
		data, err := os.ReadFile(f)
		if err == nil && bytes.Equal(data, []byte("sleep\x00"+seconds+"\x00")) {
			var pid int
			fmt.Sscan(filepath.Base(filepath.Dir(f)), &pid)
			pids = append(pids, pid)
		}
	}
	return pids
}

// uniqueSeconds is a sleep length no other test uses: it marks the
// processes of one test.
func uniqueSeconds(t *testing.T) string {
	return fmt.Sprintf("3600.%d%d", os.Getpid(), len(t.Name()))
}

// TestTrialEndsWhatInitStarted: a plugin whose init starts a long-lived
// session leader opens in the trial, and the trial returns with nothing
// left behind: the child kills and reaps what the plugin started.
func TestTrialEndsWhatInitStarted(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("the child ends what a plugin started on Linux")
	}
	path := daemon(t)
	seconds := uniqueSeconds(t)
	t.Setenv("PLUGINK_TEST_DAEMON", seconds)
	t.Cleanup(func() { killAll(t, seconds) })
	require.NoError(t, Run(path))
	assert.Empty(t, sleepers(t, seconds), "the session leader the plugin started outlived the trial")
}

// TestTrialEndsWhenTheChildDiesBeforeReporting: a plugin whose init
// starts a session leader (which inherits what it may) and then exits the
// process: the trial says so and returns; the session leader holds
// nothing that makes it wait.
func TestTrialEndsWhenTheChildDiesBeforeReporting(t *testing.T) {
	path := daemon(t)
	seconds := uniqueSeconds(t)
	t.Setenv("PLUGINK_TEST_DAEMON", seconds)
	t.Setenv("PLUGINK_TEST_DAEMON_EXIT", "1")
	t.Cleanup(func() { killAll(t, seconds) })
	err := Run(path)
	require.ErrorIs(t, err, ErrTrial)
	assert.EqualError(t, err, "opening it in a trial process failed: the process died opening it (exit status 3)", "no bare colon when the child printed nothing")
}

func killAll(t *testing.T, seconds string) {
	for _, pid := range sleepers(t, seconds) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// TestTrialSurvivesThreadsEnding: the parent-death signal is tied to the
// thread that started the child; a host whose goroutines lock and end OS
// threads while trials run must not get good plugins refused.
func TestTrialSurvivesThreadsEnding(t *testing.T) {
	path := daemon(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				done := make(chan struct{})
				go func() {
					goruntime.LockOSThread() // and exit locked: the thread ends
					close(done)
				}()
				<-done
			}
		})
	}
	defer func() { stop.Store(true); wg.Wait() }()
	for i := range 6 {
		require.NoError(t, Run(path), "trial %d", i)
	}
}

// TestEnvironmentAloneOpensNothing: a program that links the trial runs
// as usual when the trial's variable is set by anyone but Run: no pipe,
// or a pipe whose spec has another nonce. It opens nothing.
func TestEnvironmentAloneOpensNothing(t *testing.T) {
	path := daemon(t)
	exe, err := os.Executable()
	require.NoError(t, err)
	marker := filepath.Join(t.TempDir(), "opened")
	for _, tc := range []struct {
		name string
		spec *trialSpec // on descriptor 4, if set
	}{
		{"no pipe", nil},
		{"another nonce", &trialSpec{Nonce: "other", Path: path}},
		{"no nonce", &trialSpec{Path: path}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(exe, "-test.run=^TestHelperRunsAsUsual$", "-test.v")
			cmd.Env = append(os.Environ(), trialEnv+"=abc", "PLUGINK_TEST_HELPER=1", "PLUGINK_TEST_MARKER="+marker)
			if tc.spec != nil {
				spec, _ := json.Marshal(tc.spec)
				r, err := specPipe(spec)
				require.NoError(t, err)
				defer r.Close()
				devnull, err := os.Open(os.DevNull)
				require.NoError(t, err)
				defer devnull.Close()
				cmd.ExtraFiles = []*os.File{devnull, r}
			}
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), "ran as usual")
			assert.NoFileExists(t, marker, "the plugin was opened")
		})
	}
}

// TestHelperRunsAsUsual is run by TestEnvironmentAloneOpensNothing.
func TestHelperRunsAsUsual(t *testing.T) {
	if os.Getenv("PLUGINK_TEST_HELPER") == "" {
		t.Skip("run by TestEnvironmentAloneOpensNothing")
	}
	t.Log("ran as usual")
}

// TestParseSpec: a spec counts only with the nonce and a path.
func TestParseSpec(t *testing.T) {
	path, ok := parseSpec([]byte(`{"nonce":"n1","path":"/p.so"}`), "n1")
	assert.True(t, ok)
	assert.Equal(t, "/p.so", path)
	for _, bad := range []string{`{"nonce":"n2","path":"/p.so"}`, `{"nonce":"","path":"/p.so"}`, `{"nonce":"n1"}`, `"/p.so"`, `{`} {
		_, ok := parseSpec([]byte(bad), "n1")
		assert.False(t, ok, bad)
	}
	_, ok = parseSpec([]byte(`{"nonce":"","path":"/p.so"}`), "")
	assert.False(t, ok, "an empty nonce")
	assert.False(t, strings.Contains(trialEnv, "V1"), "the variable's name changed with its meaning")
}
