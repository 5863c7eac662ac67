package runtime

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors wrapped by [Error]; test for them with [errors.Is].
var (
	// ErrInvalid reports a Config with an empty or invalid field, or a nil
	// NewFunc.
	ErrInvalid = errors.New("invalid config")
	// ErrUnknownKind reports a Config whose Type names no declared kind.
	ErrUnknownKind = errors.New("unknown kind")
	// ErrType reports a NewFunc whose type is not the kind's constructor type.
	ErrType = errors.New("constructor has the wrong type")
	// ErrDuplicate reports a name that is already registered in its kind.
	ErrDuplicate = errors.New("name already registered")
	// ErrUnknownName reports a selected name that no implementation has.
	ErrUnknownName = errors.New("unknown name")
	// ErrKindConflict reports a kind declared twice with different maps.
	ErrKindConflict = errors.New("kind already declared")
)

// Error is the error returned by [Init], [Declare] and selection. It names the
// plugin and the kind, and wraps one of the sentinel errors above.
type Error struct {
	// Plugin is the plugin's Name; empty for errors that concern a kind only.
	Plugin string
	// Kind is the kind concerned (the Config's Type).
	Kind string
	// Got and Want are the constructor types, for ErrType and ErrKindConflict.
	Got, Want string
	// Known lists the declared kinds (ErrUnknownKind) or the registered
	// names (ErrUnknownName), sorted.
	Known []string
	// Detail says more, for ErrInvalid and ErrDuplicate; for
	// ErrUnknownName it is the name asked for.
	Detail string
	// Hint says what to do about the error, if there is more to say than
	// the message; a command prints it on a line of its own (see [Hints]).
	Hint string
	// Err is the sentinel error.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	unknownKind := errors.Is(e.Err, ErrUnknownKind)
	switch {
	case e.Plugin != "" && e.Kind != "" && !unknownKind:
		fmt.Fprintf(&b, "plugin %s (%s): ", Quote(e.Plugin), e.Kind)
	case e.Plugin != "":
		fmt.Fprintf(&b, "plugin %s: ", Quote(e.Plugin))
	case e.Kind != "" && !unknownKind:
		fmt.Fprintf(&b, "kind %s: ", e.Kind)
	}
	switch {
	case unknownKind:
		fmt.Fprintf(&b, "unknown kind %s (declared kinds: %s)", Quote(e.Kind), list(e.Known))
	case errors.Is(e.Err, ErrType):
		fmt.Fprintf(&b, "NewFunc has type %s; kind %s wants %s", e.Got, e.Kind, e.Want)
	case errors.Is(e.Err, ErrUnknownName):
		fmt.Fprintf(&b, "unknown name %s (available: %s)", Quote(e.Detail), list(e.Known))
	case errors.Is(e.Err, ErrKindConflict):
		fmt.Fprintf(&b, "already declared over another map (%s); cannot bind %s", e.Want, e.Got)
	default:
		b.WriteString(e.Err.Error())
		if e.Detail != "" {
			b.WriteString(": ")
			b.WriteString(e.Detail)
		}
	}
	return b.String()
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

// ErrorHint returns e.Hint; see [Hints].
func (e *Error) ErrorHint() string { return e.Hint }

// list joins names for a message, quoting those that are not valid plugin
// or kind names (a host's map may hold any string).
func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n
		if CheckPluginName(n) != nil {
			out[i] = Quote(n)
		}
	}
	return strings.Join(out, ", ")
}

// Hints returns the hints of every error in err's tree (each error that has
// a method ErrorHint() string returning non-empty text), in the order
// errors.Is visits them, without repeats. plugink's errors keep advice out
// of their messages and in hints, so that a program prints the message
// where it logs errors and the hints only where a person reads them.
func Hints(err error) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
			return
		case interface{ ErrorHint() string }:
			if h := e.ErrorHint(); h != "" && !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
		}
		switch e := err.(type) {
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		}
	}
	walk(err)
	return out
}

// WithHint returns err with the hint h: its message is err's, errors.Is
// and errors.As see through it, and [Hints] finds h. WithHint(nil, h) is
// nil, so that it can wrap a call's result.
func WithHint(err error, h string) error {
	if err == nil {
		return nil
	}
	return &hinted{err, h}
}

// hinted is an error with a hint.
type hinted struct {
	err  error
	hint string
}

func (h *hinted) Error() string     { return h.err.Error() }
func (h *hinted) Unwrap() error     { return h.err }
func (h *hinted) ErrorHint() string { return h.hint }

// Explain returns err's message followed by its [Hints], one per line
// prefixed with "hint: ", for programs that print errors for a person:
//
//	if err := initPlugins(); err != nil {
//		log.Fatal(runtime.Explain(err))
//	}
func Explain(err error) string {
	if err == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(err.Error())
	for _, h := range Hints(err) {
		b.WriteString("\nhint: ")
		b.WriteString(h)
	}
	return b.String()
}
