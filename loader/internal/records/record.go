// Package records keeps load records. Opening a plugin costs the checks before it (the structure
// check, the fingerprint comparison, the trial open) more than a third of
// what plugin.Open itself costs, at every start of a host. But a file that
// this very host program opened before, and that has not changed since,
// passes them again: so, after a successful open, the loader records the
// file's identity (device, inode, size, modification and change times)
// with the host's own, and a later start that finds the record skips those
// checks for that file. A checksum in a plugink.sum is still verified.
//
// What a record proves: that a file with this device, inode, size,
// modification and change times opened in this program before. The
// change time is what makes the identity hard to fake: write(2), rename
// and chmod set it to the current time, and no program can set it back.
// It is not proof of the contents: a write through a shared writable
// mapping changes no times on tmpfs (never recorded, then), and on ext4
// and most disk file systems only at the first write after the page was
// written back. Records guard against accidental change by ordinary
// writes; against a hostile writer, sign plugins (a signed file gets
// none of the checks records skip anyway). A file whose times are less than Settle old when it is
// checked is not recorded, since a write within the clock's granularity
// after the check could leave them as they were.
//
// Records live in a directory of the user's (Env, or
// <user cache dir>/plugink/loaded), which must belong to the user and be
// writable by nobody else; a record must be a regular file with the same
// owner and modes. Anything else, or a record that does not parse, is no
// record: the checks run.
package records

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/self"
	"github.com/plugink/plugink/loader/internal/pluginfile"
	"github.com/plugink/plugink/runtime"
)

// Env names the environment variable that says where the loader
// keeps its load records: a directory, or "off" for none. Unset, they go
// in <user cache dir>/plugink/loaded.
const Env = "PLUGINK_LOAD_RECORDS"

// Settle is how old a file's times must be for it to be recorded (a
// variable for tests).
var Settle = 2 * time.Second

// maxRecord bounds a record's size: a pluginpath and a fingerprint for
// each package the plugin links.
const maxRecord = 1 << 20

// maxRecords bounds how many records the directory keeps: past it, the
// oldest half goes.
const maxRecords = 1024

// recordMagic starts every record.
const recordMagic = "plugink load record 1\n"

// Record is what a record says of a file.
type Record struct {
	// PluginPath is the file's pluginpath.
	PluginPath string
	// FPs, to write, are the fingerprints of the packages the file links;
	// nil if the load compared none. See [Record.Fingerprints] for a
	// record read.
	FPs map[string]string

	file    string // the record's file, as read
	fpsText []byte // as read: the fingerprint lines; nil if none
}

// Fingerprints returns the fingerprints of a record read, parsing its
// fingerprint lines; nil if it has none.
func (r *Record) Fingerprints() (map[string]string, error) {
	if r.fpsText == nil {
		return r.FPs, nil
	}
	fps := map[string]string{}
	for line := range bytes.Lines(r.fpsText) {
		rest, ok := bytes.CutPrefix(line, []byte("package "))
		pkg, fp, ok2 := bytes.Cut(bytes.TrimSuffix(rest, []byte("\n")), []byte(" "))
		if !ok || !ok2 || len(fps) >= pluginfile.MaxPackages || !isHex(fp) {
			return nil, fmt.Errorf("bad fingerprint line %q", line)
		}
		fps[string(pkg)] = string(fp)
	}
	return fps, nil
}

// ID is the identity of a file's contents, as its metadata tells.
type ID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds
}

// bytes encodes id for a record's key.
func (id ID) bytes() []byte {
	return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(
		binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(
			binary.LittleEndian.AppendUint64(nil, id.dev), id.ino), uint64(id.size)), uint64(id.mtime)), uint64(id.ctime))
}

// settled reports whether the file's times are at least Settle
// before now, and finer than seconds: a file system that keeps whole
// seconds (or none) may leave a change within the second unseen.
func (id ID) settled(now time.Time) bool {
	limit := now.Add(-Settle).UnixNano()
	fine := id.mtime%int64(time.Second) != 0 || id.ctime%int64(time.Second) != 0
	return fine && id.mtime < limit && id.ctime < limit
}

// hostID is the identity of this program's file.
var hostID = sync.OnceValues(func() (ID, bool) {
	fi, err := os.Stat(self.Executable())
	if err != nil {
		return ID{}, false
	}
	return Identity(fi)
})

// recordDir returns the directory of load records, "" for none.
var recordDir = sync.OnceValue(func() string {
	switch dir := os.Getenv(Env); dir {
	case "off":
		return ""
	case "":
		cache, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(cache, "plugink", "loaded")
	default:
		return dir
	}
})

// Path returns the file of the record for the file fi, or "" if there
// can be none, and fi's identity.
func Path(fi fs.FileInfo) (string, ID) {
	dir := recordDir()
	host, ok := hostID()
	if dir == "" || !ok {
		return "", ID{}
	}
	id, ok := Identity(fi)
	if !ok {
		return "", ID{}
	}
	h := sha256.New()
	h.Write([]byte(recordMagic))
	h.Write(host.bytes())
	h.Write(id.bytes())
	return filepath.Join(dir, hex.EncodeToString(h.Sum(nil)[:16])+recordSuffix), id
}

// Read returns the record of the file fi, or nil.
func Read(fi fs.FileInfo) *Record {
	path, _ := Path(fi)
	if path == "" || !private(filepath.Dir(path), true) || !private(path, false) {
		return nil
	}
	data, err := fsx.ReadFile(path, maxRecord)
	if err != nil {
		return nil
	}
	r, err := parseRecord(data)
	if err != nil {
		return nil
	}
	r.file = path
	return r
}

// parseRecord parses a record written by formatRecord, all but its
// fingerprint lines (see loadRecord.fingerprints).
func parseRecord(data []byte) (*Record, error) {
	rest, ok := bytes.CutPrefix(data, []byte(recordMagic))
	if !ok {
		return nil, fmt.Errorf("not a load record")
	}
	line, rest, ok := bytes.Cut(rest, []byte("\n"))
	quoted, ok2 := bytes.CutPrefix(line, []byte("pluginpath "))
	if !ok || !ok2 {
		return nil, fmt.Errorf("no pluginpath")
	}
	pp, err := strconv.Unquote(string(quoted))
	if err != nil || runtime.CheckImportPath(pp) != nil && !strings.HasPrefix(pp, "plugin/unnamed-") {
		return nil, fmt.Errorf("bad pluginpath %s", quoted)
	}
	r := &Record{PluginPath: pp}
	switch fps, ok := bytes.CutPrefix(rest, []byte("fingerprints\n")); {
	case ok:
		r.fpsText = fps
	case len(rest) > 0:
		return nil, fmt.Errorf("unknown line after the pluginpath")
	}
	return r, nil
}

// formatRecord is the record of a load: the pluginpath, and the packages'
// fingerprints if they were compared.
func formatRecord(r *Record) []byte {
	var b bytes.Buffer
	b.WriteString(recordMagic)
	fmt.Fprintf(&b, "pluginpath %s\n", strconv.Quote(r.PluginPath))
	if r.FPs != nil {
		b.WriteString("fingerprints\n")
		for _, pkg := range slices.Sorted(maps.Keys(r.FPs)) {
			fmt.Fprintf(&b, "package %s %s\n", pkg, r.FPs[pkg])
		}
	}
	return b.Bytes()
}

// isHex reports whether s is a non-empty string of an even number of
// lower-case hex digits, as hex.EncodeToString writes.
func isHex(s []byte) bool {
	if len(s) == 0 || len(s)%2 != 0 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Write records that the file named file, which fi describes (read at the
// time read, before it was checked), loaded with the pluginpath and
// fingerprints of r. opened is the identity of the file plugin.Open
// mapped. It writes nothing for a file whose times were too recent then
// or are too coarse to tell a change, for a file that is not, by its
// identity, the one opened (changed or replaced since it was checked), for
// a file on a file system where writes through a shared mapping never
// change the times (tmpfs), or when there is no record directory; it
// reports nothing either way: a record only saves time.
func Write(file string, fi fs.FileInfo, read time.Time, opened ID, r *Record) {
	path, id := Path(fi)
	if path == "" || r.PluginPath == "" || !id.settled(read) || opened != id || !timesFollowWrites(file) {
		return
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil || !private(dir, true) {
		return
	}
	if entries, err := os.ReadDir(dir); err == nil && countRecords(entries) >= maxRecords {
		prune(dir, entries)
	}
	if _, err := os.Lstat(path); err == nil && !private(path, false) {
		os.Remove(path) // WriteFiles would keep it as it is, if its content is the same
	}
	_ = fsx.WriteFiles(fsx.File{Path: path, Data: formatRecord(r), Mode: 0o600})
}

// recordSuffix ends the name of every record; a record set aside while
// its file is opened ends in recordSuffix+pendingSuffix.
const (
	recordSuffix  = ".plugink-record"
	pendingSuffix = ".pending"
)

// isRecordName reports whether name is that of a record (or of one set
// aside): 32 hex digits and the suffix. prune removes nothing else.
func isRecordName(name string) bool {
	name = strings.TrimSuffix(name, pendingSuffix)
	hexName, ok := strings.CutSuffix(name, recordSuffix)
	return ok && len(hexName) == 32 && isHex([]byte(hexName))
}

// countRecords returns how many of entries are records (or set aside).
func countRecords(entries []fs.DirEntry) int {
	n := 0
	for _, e := range entries {
		if isRecordName(e.Name()) {
			n++
		}
	}
	return n
}

// prune removes the older half of the records in dir.
func prune(dir string, entries []fs.DirEntry) {
	type aged struct {
		name string
		mod  time.Time
	}
	var all []aged
	for _, e := range entries {
		if !isRecordName(e.Name()) {
			continue
		}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			all = append(all, aged{e.Name(), info.ModTime()})
		}
	}
	slices.SortFunc(all, func(a, b aged) int { return a.mod.Compare(b.mod) })
	for _, a := range all[:len(all)/2] {
		os.Remove(filepath.Join(dir, a.name))
	}
}

// Take sets the record r, as read, aside (renames it), and returns the
// function that puts it back. A process that dies in between leaves no
// record of the file.
func (r *Record) Take() (restore func()) {
	path := r.file
	if path == "" || os.Rename(path, path+pendingSuffix) != nil {
		return func() {}
	}
	return func() { _ = os.Rename(path+pendingSuffix, path) }
}

// SameIdentity reports whether a and b describe the same file with the
// same contents, as far as their identities tell.
func SameIdentity(a, b fs.FileInfo) bool {
	if a == nil || b == nil {
		return false
	}
	ia, ok := Identity(a)
	ib, ok2 := Identity(b)
	return ok && ok2 && ia == ib
}
