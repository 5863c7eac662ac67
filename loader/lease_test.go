package loader_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/internal/testmod"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/loader/internal/records"
)

// TestRecordedLoadDoesNotWaitForALease: a file another process holds a
// write lease on (it is changing it) is refused at once, also when a load
// record vouches for it: a blocking open would wait for the lease's
// holder, 45 seconds by default.
func TestRecordedLoadDoesNotWaitForALease(t *testing.T) {
	testmod.SkipIfShort(t)
	if goruntime.GOOS != "linux" {
		t.Skip("Linux's file leases")
	}
	dir := t.TempDir()
	plugin := filepath.Join(dir, "client_echo.so")
	copyFile(t, fixturePath(t, "echo"), plugin)
	recordsDir := os.Getenv(records.Env) // this process's, which TestMain set
	undo := loader.SetRecordSettle(0)
	defer undo()
	loader.Record(plugin, nil, time.Now(), "github.com/plugink/plugink/loader/testdata/_plugink/client/echo", nil)
	exe, err := os.Executable()
	require.NoError(t, err)
	run := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		spec, _ := json.Marshal(ldsoJob{Path: plugin, Records: recordsDir})
		cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), ldsoChildEnv+"="+string(spec))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// The record vouches for the file.
	spec, _ := json.Marshal(ldsoJob{Path: plugin, Records: recordsDir, Prepare: true})
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), ldsoChildEnv+"="+string(spec))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "recorded=true err=<nil>\n", string(out))

	f, err := os.OpenFile(plugin, os.O_RDONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	lease := func(typ int) error {
		if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_SETLEASE, uintptr(typ)); errno != 0 {
			return errno
		}
		return nil
	}
	if err := lease(syscall.F_WRLCK); err != nil {
		t.Skipf("cannot take a lease here: %v", err)
	}
	defer lease(syscall.F_UNLCK)
	start := time.Now()
	out2, err := run()
	require.NoError(t, err, "%s", out2)
	assert.Contains(t, out2, "another process holds a lease on the file")
	assert.Less(t, time.Since(start), 20*time.Second, "waited for the lease")
}

// TestNoRecordsOnTmpfs: on tmpfs a write through a shared mapping never
// changes a file's times, so a record could not tell such a change: a
// file there is never recorded.
func TestNoRecordsOnTmpfs(t *testing.T) {
	testmod.SkipIfShort(t)
	var st syscall.Statfs_t
	if goruntime.GOOS != "linux" || syscall.Statfs("/dev/shm", &st) != nil || st.Type != 0x01021994 {
		t.Skip("no tmpfs at /dev/shm")
	}
	dir, err := os.MkdirTemp("/dev/shm", "plugink-test-")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	plugin := filepath.Join(dir, "client_echo.so")
	copyFile(t, fixturePath(t, "echo"), plugin)
	defer loader.SetRecordSettle(0)()
	fi, err := os.Stat(plugin)
	require.NoError(t, err)
	loader.Record(plugin, nil, time.Now(), "example.com/p", nil)
	assert.NoFileExists(t, loader.RecordFile(fi))

	disk := filepath.Join(t.TempDir(), "client_echo.so") // the same on the test's own file system is
	copyFile(t, fixturePath(t, "echo"), disk)
	if syscall.Statfs(disk, &st) == nil && st.Type != 0x01021994 {
		fi, err := os.Stat(disk)
		require.NoError(t, err)
		loader.Record(disk, nil, time.Now(), "example.com/p", nil)
		assert.FileExists(t, loader.RecordFile(fi))
	}
}
