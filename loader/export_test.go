package loader

import (
	"os"
	"time"

	"github.com/plugink/plugink/loader/internal/mapped"
	"github.com/plugink/plugink/loader/internal/opened"
	"github.com/plugink/plugink/loader/internal/records"
)

// SetBeforeOpen makes f run right before each plugin.Open, for a test
// that changes the file there, and returns the function that undoes it.
func SetBeforeOpen(f func()) (undo func()) {
	opened.TestHookBeforeOpen = f
	return func() { opened.TestHookBeforeOpen = nil }
}

// SetMapped makes f run each time the loader has mapped a file it is
// about to check, before it reads any of it, and returns the function that
// undoes it.
func SetMapped(f func(path string)) (undo func()) {
	mapped.TestHook = f
	return func() { mapped.TestHook = nil }
}

// SetChecking makes f run each time Load has read a file's headers,
// before the structure check, and returns the function that undoes it.
func SetChecking(f func(path string)) (undo func()) {
	testHookChecking = f
	return func() { testHookChecking = nil }
}

// Prepared makes every check Load makes before opening path, and reports
// whether a load record vouched for the file instead, and its pluginpath.
func Prepared(l *Loader, path string) (recorded bool, pluginpath string, err error) {
	c, err := l.prepare(path)
	if err != nil {
		return false, "", err
	}
	return c.recorded, c.pluginpath, nil
}

// Record records the file at path, as it is now, as loaded, as a
// successful open would, with the fingerprints fps, as if fi had been read
// of it at the time read, before the checks (nil: as it is now).
func Record(path string, fi os.FileInfo, read time.Time, pluginpath string, fps map[string]string) {
	now, err := os.Stat(path)
	if err != nil {
		panic(err)
	}
	if fi == nil {
		fi = now
	}
	id, _ := records.Identity(now)
	records.Write(path, fi, read, id, &records.Record{PluginPath: pluginpath, FPs: fps})
}

// RecordFile returns the file of the record for the file fi describes (""
// if there can be none).
func RecordFile(fi os.FileInfo) string {
	p, _ := records.Path(fi)
	return p
}

// SetRecordSettle sets how old a file's times must be for it to be
// recorded, and returns the function that undoes it.
func SetRecordSettle(d time.Duration) (undo func()) {
	old := records.Settle
	records.Settle = d
	return func() { records.Settle = old }
}

// EnvPaths exposes envPaths to the tests.
var EnvPaths = envPaths
