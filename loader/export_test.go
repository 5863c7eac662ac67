package loader

import (
	"os"
	"time"
)

// HostSettings exposes hostSettings to the tests, which build hand-written
// plugin main packages with the flags and environment Build would use.
var HostSettings = hostSettings

// SetBeforeOpen makes f run right before each plugin.Open, for a test
// that changes the file there, and returns the function that undoes it.
func SetBeforeOpen(f func()) (undo func()) {
	testHookBeforeOpen = f
	return func() { testHookBeforeOpen = nil }
}

// SetMapped makes f run each time the loader has mapped a file it is
// about to check, before it reads any of it, and returns the function that
// undoes it.
func SetMapped(f func(path string)) (undo func()) {
	testHookMapped = f
	return func() { testHookMapped = nil }
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
	opened, _ := identity(now)
	writeRecord(fi, read, opened, &loadRecord{pluginpath: pluginpath, fps: fps})
}

// RecordFile returns the file of the record for the file fi describes (""
// if there can be none).
func RecordFile(fi os.FileInfo) string {
	p, _ := recordPath(fi)
	return p
}

// SetRecordSettle sets how old a file's times must be for it to be
// recorded, and returns the function that undoes it.
func SetRecordSettle(d time.Duration) (undo func()) {
	old := recordSettle
	recordSettle = d
	return func() { recordSettle = old }
}
