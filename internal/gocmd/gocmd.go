// Package gocmd runs the go command for plugink: one way to run it, with
// errors that carry the command line and what it printed.
package gocmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Cmd is a go command to run: which binary, in which directory, with which
// environment.
type Cmd struct {
	// Go is the go command; "" means "go" found in $PATH.
	Go string
	// Dir is the directory to run in; "" means the current one.
	Dir string
	// Env is the whole environment; nil means this process's.
	Env []string
	// Echo, if set, gets a copy of what Combined's command prints, as it
	// prints it.
	Echo io.Writer
}

// Path returns the go command's path, looked up in $PATH if need be.
func (c Cmd) Path() (string, error) {
	name := c.Go
	if name == "" {
		name = "go"
	}
	return exec.LookPath(name)
}

// Output runs go with args and returns its standard output. An error names
// the command and carries its standard error.
func (c Cmd) Output(ctx context.Context, args ...string) ([]byte, error) {
	cmd, err := c.command(ctx, args)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("go %s: stopped: %w", strings.Join(args, " "), ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Combined runs go with args and returns what it printed on both outputs
// (copied to Echo too, if set); the error is the command's own (an
// *exec.ExitError when it failed).
func (c Cmd) Combined(ctx context.Context, args ...string) ([]byte, error) {
	cmd, err := c.command(ctx, args)
	if err != nil {
		return nil, err
	}
	if c.Echo == nil {
		return cmd.CombinedOutput()
	}
	var out bytes.Buffer
	w := io.MultiWriter(&out, c.Echo)
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Run()
	return out.Bytes(), err
}

func (c Cmd) command(ctx context.Context, args []string) (*exec.Cmd, error) {
	path, err := c.Path()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir, cmd.Env = c.Dir, c.Env
	// Cancelled, the go command is interrupted, as by ^C, so that it stops
	// its compilers and removes its work directory; killed if it is still
	// there a few seconds later. Output's error is then the context's.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	return cmd, nil
}
