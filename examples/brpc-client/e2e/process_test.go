package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/internal/testmod"
)

// processDir returns the directory of the fixture plugin's executable.
func processDir() string { return filepath.Dir(fixtures.processPlugin) }

func TestProcessMode(t *testing.T) {
	s := startServer(t)

	t.Run("brpc runs as a process", func(t *testing.T) {
		out, err := greet(t, s, fixtures.process, t.TempDir(), []string{"PLUGINK_DIR=" + processDir()}, "--client=brpc")
		require.NoError(t, err, out)
		assert.Contains(t, out, `client=brpc (brpc) addr=`+s.brpcAddr+` reply="ping"`)
	})
	t.Run("grpc still the default, the plugin not started", func(t *testing.T) {
		// The plugin directory holds a client_brpc that leaves a mark if
		// anything runs it.
		dir, mark := t.TempDir(), filepath.Join(t.TempDir(), "started")
		script := "#!/bin/sh\necho started > '" + mark + "'\nexit 1\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, "client_brpc"), []byte(script), 0o755))
		out, err := greet(t, s, fixtures.process, t.TempDir(), []string{"PLUGINK_DIR=" + dir})
		require.NoError(t, err, out)
		assert.Contains(t, out, `client=grpc (grpc) addr=`+s.grpcAddr+` reply="ping"`)
		assert.NoFileExists(t, mark, "the greeter ran the plugin's executable")
	})
	t.Run("plugin missing", func(t *testing.T) {
		dir := t.TempDir()
		out, err := greet(t, s, fixtures.process, t.TempDir(), []string{"PLUGINK_DIR=" + dir}, "--client=brpc")
		require.Error(t, err, out)
		assert.Contains(t, out, filepath.Join(dir, "client_brpc"))
		assert.Contains(t, out, "plugink build")
	})
}

// TestProcessPluginKilled kills the plugin process under 8 callers: the
// greeter lives, its calls start the plugin again, every failure is
// reported, and none hangs.
func TestProcessPluginKilled(t *testing.T) {
	skipWithoutChildren(t)
	s := startServer(t)
	const timeout = 10 * time.Second
	g := startGreeter(t, s, fixtures.process, []string{"PLUGINK_DIR=" + processDir()},
		"--client=brpc", "-keep_going", "-c", "8", "-d", "3s", "-timeout", timeout.String())
	g.waitLine(t, "greeter: load: calls under way")
	pids := children(t, g.pid())
	require.Len(t, pids, 1, "the greeter's children")
	require.NoError(t, syscall.Kill(pids[0], syscall.SIGKILL))
	waitExit(t, pids[0])

	stdout := g.wait(t, time.Minute)
	r := parseKeepGoing(t, stdout)
	assert.Positive(t, r.failed, "no call failed: were none in flight when the plugin was killed?")
	assert.Positive(t, r.afterFailure, "no call succeeded after the first failure")
	assert.Less(t, r.longest, timeout, "a call took the whole timeout: it hung")
	sum := 0
	for _, f := range r.failures {
		sum += f.count
		// How the process ended, or that the connection to it failed:
		// whichever the host learnt first.
		assert.Contains(t, f.err, "plugin client/brpc: ")
		assert.Regexp(t, `the plugin process ended during the call \(signal: killed\)|the connection to the plugin process failed|the plugin process ended \(signal: killed\)`, f.err)
		assert.NotContains(t, f.err, "deadline exceeded", "a call hung until its timeout")
	}
	assert.Equal(t, r.failed, sum, "the failures listed do not add up to the count")
}

// TestProcessUpgradeBySignal replaces the plugin's executable under load
// and sends the greeter the manifest's upgrade signal: a new process serves
// the calls, the old one ends, and no call fails.
func TestProcessUpgradeBySignal(t *testing.T) {
	skipWithoutChildren(t)
	s := startServer(t)
	dir := t.TempDir()
	exe := filepath.Join(dir, "client_brpc")
	data, err := os.ReadFile(fixtures.processPlugin)
	require.NoError(t, err)
	install(t, exe, data)

	g := startGreeter(t, s, fixtures.process, []string{"PLUGINK_DIR=" + dir},
		"--client=brpc", "-keep_going", "-c", "4", "-d", "3s", "-timeout", "10s")
	g.waitLine(t, "greeter: load: calls under way")
	pids := children(t, g.pid())
	require.Len(t, pids, 1, "the greeter's children")
	old := pids[0]

	// Another build: the same program with bytes after its end, which
	// change its checksum and nothing else.
	install(t, exe, append(slices.Clip(data), "another build"...))
	require.NoError(t, syscall.Kill(g.pid(), syscall.SIGHUP))
	g.waitLine(t, "plugin client/brpc: upgraded on SIGHUP")
	pids = children(t, g.pid())
	assert.True(t, slices.ContainsFunc(pids, func(p int) bool { return p != old }), "no new plugin process among the greeter's children %v", pids)
	waitExit(t, old)

	stdout := g.wait(t, time.Minute)
	r := parseKeepGoing(t, stdout)
	assert.Zero(t, r.failed, "calls failed during the upgrade")
	assert.Positive(t, r.calls)
}

// install writes data as the executable exe, replacing any file there at
// once (a running executable cannot be written to), and records its
// checksum in the directory's plugink.sum.
func install(t *testing.T, exe string, data []byte) {
	t.Helper()
	tmp := exe + ".tmp"
	require.NoError(t, os.WriteFile(tmp, data, 0o755))
	require.NoError(t, os.Rename(tmp, exe))
	sum, err := sums.File(exe)
	require.NoError(t, err)
	require.NoError(t, sums.Record(filepath.Join(filepath.Dir(exe), "plugink.sum"), exe, sum))
}

// keepGoing is what a greeter run with -keep_going printed.
type keepGoing struct {
	calls, failed, afterFailure int
	longest                     time.Duration
	failures                    []struct {
		count int
		err   string
	}
}

var (
	callsLine   = regexp.MustCompile(`(?m)^client=\S+ callers=\d+ calls=(\d+) `)
	failedLine  = regexp.MustCompile(`(?m)^failed=(\d+) succeeded-after-first-failure=(\d+) longest-µs=(\S+)$`)
	failureLine = regexp.MustCompile(`(?m)^failure x(\d+): (.*)$`)
)

func parseKeepGoing(t *testing.T, stdout string) keepGoing {
	t.Helper()
	var r keepGoing
	m := callsLine.FindStringSubmatch(stdout)
	require.NotNil(t, m, "no result in the greeter's output:\n%s", stdout)
	r.calls, _ = strconv.Atoi(m[1])
	m = failedLine.FindStringSubmatch(stdout)
	require.NotNil(t, m, "no failure count in the greeter's output:\n%s", stdout)
	r.failed, _ = strconv.Atoi(m[1])
	r.afterFailure, _ = strconv.Atoi(m[2])
	us, err := strconv.ParseFloat(m[3], 64)
	require.NoError(t, err)
	r.longest = time.Duration(us * float64(time.Microsecond))
	for _, m := range failureLine.FindAllStringSubmatch(stdout, -1) {
		n, _ := strconv.Atoi(m[1])
		r.failures = append(r.failures, struct {
			count int
			err   string
		}{n, m[2]})
	}
	return r
}

// greeter is a greeter process running in the background.
type greeter struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	done   chan struct{} // closed when the process ended and its output was read
	err    error         // Wait's

	mu      sync.Mutex
	stderr  []string      // lines so far
	changed chan struct{} // closed at the next line, or the end
}

// startGreeter starts bin against s in load mode; the test waits for it to
// end (bounded), and kills it if it fails first.
func startGreeter(t *testing.T, s server, bin string, env []string, args ...string) *greeter {
	t.Helper()
	testmod.SkipIfShort(t)
	require.NoError(t, fixtures.err, "building the fixtures")
	g := &greeter{done: make(chan struct{}), changed: make(chan struct{})}
	g.cmd = exec.Command(bin, append([]string{"-grpc_addr", s.grpcAddr, "-brpc_addr", s.brpcAddr}, args...)...)
	g.cmd.Dir = t.TempDir()
	g.cmd.Env = append(cleanEnv(), env...)
	g.cmd.Stdout = &g.stdout
	r, err := g.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, g.cmd.Start())
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			g.mu.Lock()
			g.stderr = append(g.stderr, sc.Text())
			close(g.changed)
			g.changed = make(chan struct{})
			g.mu.Unlock()
		}
		io.Copy(io.Discard, r) // a line over the scanner's limit
		g.err = g.cmd.Wait()
		close(g.done)
	}()
	t.Cleanup(func() {
		select {
		case <-g.done:
		default:
			g.cmd.Process.Kill()
			<-g.done
			t.Logf("greeter killed; its stderr:\n%s", g.log())
		}
	})
	return g
}

func (g *greeter) pid() int { return g.cmd.Process.Pid }

func (g *greeter) log() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Join(g.stderr, "\n")
}

// waitLine waits for a line of the greeter's stderr that contains text
// (bounded: a minute).
func (g *greeter) waitLine(t *testing.T, text string) {
	t.Helper()
	bound := time.NewTimer(time.Minute)
	defer bound.Stop()
	for i := 0; ; {
		g.mu.Lock()
		for ; i < len(g.stderr); i++ {
			if strings.Contains(g.stderr[i], text) {
				g.mu.Unlock()
				return
			}
		}
		changed := g.changed
		g.mu.Unlock()
		select {
		case <-changed:
		case <-g.done:
			if !strings.Contains(g.log(), text) {
				t.Fatalf("the greeter ended (%v) without saying %q; stdout:\n%s\nstderr:\n%s", g.err, text, g.stdout.String(), g.log())
			}
		case <-bound.C:
			t.Fatalf("the greeter did not say %q within a minute; stderr so far:\n%s", text, g.log())
		}
	}
}

// wait waits for the greeter to exit 0, at most bound, logs what it wrote
// on stderr, and returns its stdout.
func (g *greeter) wait(t *testing.T, bound time.Duration) string {
	t.Helper()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case <-g.done:
	case <-timer.C:
		t.Fatalf("the greeter did not end within %v; stderr so far:\n%s", bound, g.log())
	}
	t.Logf("greeter's stdout:\n%s\ngreeter's stderr:\n%s", g.stdout.String(), g.log())
	require.NoError(t, g.err, "the greeter failed")
	return g.stdout.String()
}

// skipWithoutChildren skips t under -short, and where a process's children
// cannot be listed (/proc/<pid>/task/<tid>/children is Linux's, with
// CONFIG_PROC_CHILDREN); else it needs the fixtures.
func skipWithoutChildren(t *testing.T) {
	t.Helper()
	testmod.SkipIfShort(t)
	if goruntime.GOOS != "linux" {
		t.Skip("finds the plugin process in Linux's /proc")
	}
	if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(os.Getpid()) + "/children"); err != nil {
		t.Skipf("cannot list a process's children: %v", err)
	}
	require.NoError(t, fixtures.err, "building the fixtures")
}

// children returns the pids of the children of process pid, from each of
// its threads' lists.
func children(t *testing.T, pid int) []int {
	t.Helper()
	files, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	require.NoError(t, err)
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue // a thread that ended
		}
		require.NoError(t, err)
		for _, w := range strings.Fields(string(b)) {
			n, err := strconv.Atoi(w)
			require.NoError(t, err)
			if !slices.Contains(pids, n) {
				pids = append(pids, n)
			}
		}
	}
	slices.Sort(pids)
	return pids
}

// waitExit waits, at most 30s, for process pid (not a child of this one)
// to end: a pidfd becomes readable then.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return // ended, and waited for
	}
	require.NoError(t, err)
	defer unix.Close(fd)
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("process %d still runs after 30s", pid)
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		require.NoError(t, err)
		if n > 0 {
			return
		}
	}
}
