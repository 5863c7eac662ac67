package trial

import (
	"encoding/json"
	"fmt"
	"os"
	"plugin"

	"github.com/plugink/plugink/loader/internal/opened"
)

// A trial child is this program started by Run: trialEnv names a nonce,
// and descriptor 4 is a pipe that already holds Run's spec, whole, with
// the same nonce. Anything else (the variable set by someone else, with
// no such pipe) leaves the program to run as usual: an environment
// variable alone never makes a program open a file.
func init() {
	nonce, ok := os.LookupEnv(trialEnv)
	if !ok {
		return
	}
	os.Unsetenv(trialEnv) // not for the processes a plugin's init may start
	path, ok := readSpec(nonce)
	if !ok {
		return
	}
	os.Exit(child(path))
}

// child opens path with plugin.Open, reports on descriptor 3, then ends
// whatever the plugin's init functions started (see endDescendants).
func child(path string) int {
	closeOnExec(3) // a process the plugin's init starts does not get the report pipe
	becomeSubreaper()
	report := os.NewFile(3, "trial report")
	if report == nil {
		return 2
	}
	var r trialReport
	if err := openRecovering(path); err != nil {
		r.Error = opened.Message(path, err)
	} else {
		r.Opened = true
	}
	err := json.NewEncoder(report).Encode(r)
	report.Close()
	endDescendants()
	if err != nil {
		return 2
	}
	return 0
}

// parseSpec returns the path of a spec that carries nonce.
func parseSpec(data []byte, nonce string) (string, bool) {
	var s trialSpec
	if json.Unmarshal(data, &s) != nil || s.Nonce == "" || s.Nonce != nonce || s.Path == "" {
		return "", false
	}
	return s.Path, true
}

// openRecovering is plugin.Open, with a panic in an init function turned
// into an error.
func openRecovering(path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("a package init function panicked: %v", r)
		}
	}()
	_, err = plugin.Open(path)
	return err
}
