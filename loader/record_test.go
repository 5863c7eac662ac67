package loader_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/loader"
)

// recordedCopy copies the echo fixture to a new file, for tests that
// record it (the process never opens it: prepare only).
func recordedCopy(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "client_echo.so")
	copyFile(t, fixturePath(t, "echo"), path)
	return path
}

// recordOf returns the record file for the file at path as it is now.
func recordOf(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	rec := loader.RecordFile(fi)
	require.NotEmpty(t, rec)
	return rec
}

func TestLoadRecords(t *testing.T) {
	defer loader.SetRecordSettle(0)()
	const pp = "github.com/plugink/plugink/_plugink/client/echo"
	fps := map[string]string{"runtime": "00ff"}
	// Until the last case, without preflight: a record's fingerprints are
	// compared once the process has opened plugins, which depends on the
	// tests run before.
	noPreflight := func() *loader.Loader { return loader.NewPlugin(loader.WithoutPreflight()) }

	t.Run("a recorded file is not checked", func(t *testing.T) {
		path := recordedCopy(t)
		recorded, pluginpath, err := loader.Prepared(noPreflight(), path)
		require.NoError(t, err)
		assert.False(t, recorded, "no record yet")
		assert.Equal(t, pp, pluginpath, "from the file")

		loader.Record(path, nil, time.Now(), "example.com/from/the/record", fps)
		recorded, pluginpath, err = loader.Prepared(noPreflight(), path)
		require.NoError(t, err)
		assert.True(t, recorded)
		assert.Equal(t, "example.com/from/the/record", pluginpath)

		recorded, _, err = loader.Prepared(loader.NewPlugin(loader.WithoutRecords()), path)
		require.NoError(t, err)
		assert.False(t, recorded, "WithoutRecords")
	})

	t.Run("a changed file is checked", func(t *testing.T) {
		path := recordedCopy(t)
		loader.Record(path, nil, time.Now(), pp, fps)
		require.FileExists(t, recordOf(t, path))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.Write([]byte{0})
		require.NoError(t, err)
		require.NoError(t, f.Close())
		recorded, _, err := loader.Prepared(noPreflight(), path)
		require.NoError(t, err)
		assert.False(t, recorded)

		// Rewritten with the same bytes, the same size and its old
		// modification time: the change time still tells.
		path = recordedCopy(t)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		loader.Record(path, nil, time.Now(), pp, fps)
		require.FileExists(t, recordOf(t, path))
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, data, 0o644))
		require.NoError(t, os.Chtimes(path, fi.ModTime(), fi.ModTime()))
		recorded, _, err = loader.Prepared(noPreflight(), path)
		require.NoError(t, err)
		assert.False(t, recorded)

		// Replaced by a copy of itself.
		path = recordedCopy(t)
		loader.Record(path, nil, time.Now(), pp, fps)
		require.FileExists(t, recordOf(t, path))
		copyFile(t, path, path+".new")
		require.NoError(t, os.Rename(path+".new", path))
		recorded, _, err = loader.Prepared(noPreflight(), path)
		require.NoError(t, err)
		assert.False(t, recorded)
	})

	t.Run("a file changed less than the settling time before is not recorded", func(t *testing.T) {
		defer loader.SetRecordSettle(time.Hour)()
		path := recordedCopy(t)
		loader.Record(path, nil, time.Now(), pp, fps)
		assert.NoFileExists(t, recordOf(t, path))
	})

	t.Run("a file changed after it was read is not recorded", func(t *testing.T) {
		path := recordedCopy(t)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		read := time.Now()
		time.Sleep(10 * time.Millisecond)
		require.NoError(t, os.Chmod(path, 0o600)) // a new change time
		loader.Record(path, fi, read, pp, fps)
		old := loader.RecordFile(fi)
		require.NotEmpty(t, old)
		assert.NoFileExists(t, old, "not under the identity read before the change")
		assert.NoFileExists(t, recordOf(t, path), "nor under the file's now")
	})

	t.Run("records others could write are ignored", func(t *testing.T) {
		path := recordedCopy(t)
		loader.Record(path, nil, time.Now(), pp, fps)
		rec := recordOf(t, path)
		recorded, _, err := loader.Prepared(noPreflight(), path)
		require.NoError(t, err)
		require.True(t, recorded, "as written")
		require.NoError(t, os.Chmod(rec, 0o666))
		recorded, _, err = loader.Prepared(noPreflight(), path)
		require.NoError(t, err)
		assert.False(t, recorded, "a record others can write")
		require.NoError(t, os.Chmod(rec, 0o600))

		dir := filepath.Dir(rec)
		require.NoError(t, os.Chmod(dir, 0o777))
		recorded, _, err = loader.Prepared(noPreflight(), path)
		require.NoError(t, os.Chmod(dir, 0o700))
		require.NoError(t, err)
		assert.False(t, recorded, "a directory others can write")

		elsewhere := filepath.Join(t.TempDir(), "elsewhere")
		require.NoError(t, os.Rename(rec, elsewhere)) // a good record, 0600
		require.NoError(t, os.Symlink(elsewhere, rec))
		recorded, _, err = loader.Prepared(noPreflight(), path)
		require.NoError(t, err)
		assert.False(t, recorded, "a symbolic link")
		require.NoError(t, os.Remove(rec))
	})

	t.Run("a damaged record is no record", func(t *testing.T) {
		path := recordedCopy(t)
		loader.Record(path, nil, time.Now(), pp, fps)
		rec := recordOf(t, path)
		good, err := os.ReadFile(rec)
		require.NoError(t, err)
		for name, data := range map[string]string{
			"empty":          "",
			"other magic":    "plugink load record 2\n" + string(good[len("plugink load record 1\n"):]),
			"no pluginpath":  "plugink load record 1\nfingerprints\n",
			"bad pluginpath": "plugink load record 1\npluginpath \"a b\"\n",
			"unquoted":       "plugink load record 1\npluginpath a/b\n",
			"unknown line":   string(good[:strings.Index(string(good), "fingerprints")]) + "trust me\n",
			"huge":           string(good) + strings.Repeat("package x 00\n", 200_000),
			"binary":         string(good[:30]) + "\x00\xff\x00",
		} {
			require.NoError(t, os.WriteFile(rec, []byte(data), 0o600), name)
			recorded, _, err := loader.Prepared(noPreflight(), path)
			require.NoError(t, err, name)
			assert.False(t, recorded, name)
		}
	})

	t.Run("fingerprints are compared once a plugin was opened", func(t *testing.T) {
		// This process has opened plugins (other tests; ensured here), so a
		// record's fingerprints are compared with the process's.
		_, err := loader.Load(fixturePath(t, "greet"))
		require.NoError(t, err)
		path := recordedCopy(t)
		loader.Record(path, nil, time.Now(), pp, map[string]string{"runtime": "00ff"})
		_, _, err = loader.Prepared(loader.NewPlugin(), path)
		var mm *loader.MismatchError
		require.ErrorAs(t, err, &mm)
		assert.Equal(t, "package runtime (as a plugin loaded before links it)", mm.Diffs[0].What)
		assert.Equal(t, path, mm.Path)

		// None recorded, or lines that do not parse: the file is checked.
		loader.Record(path, nil, time.Now(), pp, nil)
		recorded, pluginpath, err := loader.Prepared(loader.NewPlugin(), path)
		require.NoError(t, err)
		assert.False(t, recorded)
		assert.Equal(t, pp, pluginpath)
		loader.Record(path, nil, time.Now(), pp, map[string]string{"runtime": "00ff"})
		rec := recordOf(t, path)
		good, err := os.ReadFile(rec)
		require.NoError(t, err)
		for _, bad := range []string{strings.Replace(string(good), "00ff", "zz", 1), string(good) + "trust me\n"} {
			require.NoError(t, os.WriteFile(rec, []byte(bad), 0o600))
			recorded, _, err := loader.Prepared(loader.NewPlugin(), path)
			require.NoError(t, err)
			assert.False(t, recorded)
		}
	})
}

// TestLoadRecordsPrune: past 1,024 entries, writing a record removes the
// older half of the records, and nothing else in the directory.
func TestLoadRecordsPrune(t *testing.T) {
	defer loader.SetRecordSettle(0)()
	path := recordedCopy(t)
	rec := recordOf(t, path)
	dir := filepath.Dir(rec)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	old := time.Now().Add(-time.Hour)
	var others, records []string
	for i := range 1100 { // over the limit of records, 1024, whatever else the directory holds
		record := filepath.Join(dir, fmt.Sprintf("%032x.plugink-record", i))
		files := []string{record}
		records = append(records, record)
		if i < 600 {
			other := filepath.Join(dir, fmt.Sprintf("photo-%d.jpg", i))
			files, others = append(files, other), append(others, other)
		}
		for _, f := range files {
			require.NoError(t, os.WriteFile(f, nil, 0o600))
			require.NoError(t, os.Chtimes(f, old, old))
		}
	}
	defer func() {
		for _, f := range append(others, records...) {
			os.Remove(f)
		}
	}()
	loader.Record(path, nil, time.Now(), "example.com/p", nil)
	assert.FileExists(t, rec)
	for _, f := range others {
		require.FileExists(t, f, "not a record: kept")
	}
	left := 0
	for _, f := range records {
		if _, err := os.Stat(f); err == nil {
			left++
		}
	}
	assert.Less(t, left, 1100, "records pruned")
}

// TestLoadRecordsAcrossProcesses loads one file in two fresh processes of
// this test binary: the first records it, the second finds the record.
func TestLoadRecordsAcrossProcesses(t *testing.T) {
	path := recordedCopy(t)
	time.Sleep(2100 * time.Millisecond) // the settling time: a new file is not recorded
	rec := recordOf(t, path)
	exe, err := os.Executable()
	require.NoError(t, err)
	for i, want := range []string{"recorded=false", "recorded=true"} {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), benchChildEnv+"="+recordedCheck+":"+path)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "child %d: %s", i, out)
		assert.Equal(t, want+"\n", string(out), "child %d", i)
		_, err = os.Stat(rec)
		assert.NoError(t, err, "child %d: the record is there after it", i)
	}
}
