// Package main is a plugin for the trial's tests. Its init does what the
// environment says: start a session leader that sleeps (the seconds are
// $PLUGINK_TEST_DAEMON, which marks it), then, with
// $PLUGINK_TEST_DAEMON_EXIT, exit at once; with $PLUGINK_TEST_MARKER,
// write that file.
package main

import (
	"os"
	"os/exec"
	"syscall"
)

func init() {
	if marker := os.Getenv("PLUGINK_TEST_MARKER"); marker != "" {
		if err := os.WriteFile(marker, []byte("opened\n"), 0o644); err != nil {
			panic(err)
		}
	}
	seconds := os.Getenv("PLUGINK_TEST_DAEMON")
	if seconds == "" {
		return
	}
	cmd := exec.Command("sleep", seconds)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	if os.Getenv("PLUGINK_TEST_DAEMON_EXIT") != "" {
		os.Exit(3)
	}
}

func main() {}
