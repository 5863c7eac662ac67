//go:build cgo && (linux || freebsd || darwin)

package hostcmp

/*
#cgo linux LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

static void *plugink_lookup(const char *name) { return dlsym(RTLD_DEFAULT, name); }
*/
import "C"

import (
	"encoding/hex"
	"unsafe"
)

// selfFingerprint returns the fingerprint of pkg that plugin.Open will
// compare a plugin's with: the Go string at the symbol go:link.pkghash.<pkg>
// as the dynamic linker resolves it in this process (this program's, or
// that of a plugin loaded before, for a package the program does not link).
func selfFingerprint(pkg string) (string, bool) {
	name := C.CString("go:link.pkghash." + pkg)
	defer C.free(unsafe.Pointer(name))
	p := C.plugink_lookup(name)
	if p == nil {
		return "", false
	}
	return hex.EncodeToString([]byte(*(*string)(p))), true
}
