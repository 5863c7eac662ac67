package self

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// viaDynamicLinker returns, for a program started by running the dynamic
// linker (the kernel executed ld.so, which then mapped the program), the
// program's file; "" otherwise. The program's file is the one mapped
// where this package's own code runs, when that is not the file the
// kernel executed and the kernel executed a dynamic linker.
var viaDynamicLinker = sync.OnceValue(func() string {
	exe, err := os.Readlink(procExe)
	if err != nil || !isDynamicLinker(filepath.Base(exe)) {
		return ""
	}
	var exeStat syscall.Stat_t
	if syscall.Stat(procExe, &exeStat) != nil {
		return ""
	}
	code := uint64(reflect.ValueOf(mkdev).Pointer())
	path, dev, ino := mappingOf(code)
	if path == "" || dev == exeStat.Dev && ino == exeStat.Ino {
		return ""
	}
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil || st.Ino != ino {
		return "" // replaced since it was mapped
	}
	return path
})

// isDynamicLinker reports whether name is that of a dynamic linker:
// ld-linux-x86-64.so.2, ld-linux-aarch64.so.1, ld64.so.2, ld.so, ...
func isDynamicLinker(name string) bool {
	return strings.HasPrefix(name, "ld-") || strings.HasPrefix(name, "ld.so") || strings.HasPrefix(name, "ld64.so")
}

// mappingOf returns the file mapped at addr in this process, with its
// device and inode, from /proc/self/maps; "" if none.
func mappingOf(addr uint64) (path string, dev, ino uint64) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return "", 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset major:minor inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || addr < start || addr >= end {
			continue
		}
		major, minor, _ := strings.Cut(fields[3], ":")
		maj, err1 := strconv.ParseUint(major, 16, 32)
		min, err2 := strconv.ParseUint(minor, 16, 32)
		inode, err3 := strconv.ParseUint(fields[4], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return "", 0, 0
		}
		return strings.Join(fields[5:], " "), mkdev(maj, min), inode
	}
	return "", 0, 0
}

// mkdev is the device number of major and minor, as stat reports it.
func mkdev(major, minor uint64) uint64 {
	return (major&0xfffff000)<<32 | (major&0xfff)<<8 | (minor&0xffffff00)<<12 | minor&0xff
}
