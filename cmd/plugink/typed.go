package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// invokedAs is how the user runs plugink, for the commands plugink tells
// them to type: "go tool plugink" when the go command runs it (from its
// build cache, as `go tool plugink` does, or `go run`), else "plugink".
// $PLUGINK_AS may say which of the two (the tests set it): no other value
// is taken.
func invokedAs() string {
	switch as := os.Getenv("PLUGINK_AS"); as {
	case "plugink", "go tool plugink":
		return as
	}
	exe, err := os.Executable()
	if err == nil && strings.Contains(filepath.ToSlash(exe), "/go-build") {
		return "go tool plugink"
	}
	return "plugink"
}

// commandRef finds "plugink <command>" in text meant to be typed: a hint,
// a next step. Text already saying "go tool plugink" is left alone.
var commandRef = regexp.MustCompile(`(^|[^A-Za-z0-9_./-])plugink (init|new|gen|build|list|inspect|keygen|version)\b`)

// asTyped rewrites the plugink commands in s as the user runs plugink
// (see invokedAs), so that a hint can be pasted as it is.
func asTyped(s string) string {
	as := invokedAs()
	if as == "plugink" {
		return s
	}
	out := commandRef.ReplaceAllString(s, "${1}"+as+" ${2}")
	return strings.ReplaceAll(out, "go tool go tool plugink", "go tool plugink")
}

// typedWriter rewrites what goes through it with asTyped, line by line
// as written (the commands that print next steps write whole lines).
type typedWriter struct{ w io.Writer }

func (t typedWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(t.w, asTyped(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
