package runtime

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors wrapped by [Error]; test for them with [errors.Is].
var (
	// ErrInvalid reports a Config with an empty field or a nil NewFunc.
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
	// Detail says more, for ErrInvalid and ErrDuplicate.
	Detail string
	// Err is the sentinel error.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("plugink: ")
	switch {
	case e.Plugin != "" && e.Kind != "" && !errors.Is(e.Err, ErrUnknownKind):
		fmt.Fprintf(&b, "plugin %q (%s): ", e.Plugin, e.Kind)
	case e.Plugin != "":
		fmt.Fprintf(&b, "plugin %q: ", e.Plugin)
	case e.Kind != "" && !errors.Is(e.Err, ErrUnknownKind):
		fmt.Fprintf(&b, "kind %s: ", e.Kind)
	}
	switch {
	case errors.Is(e.Err, ErrUnknownKind):
		fmt.Fprintf(&b, "unknown kind %q (declared kinds: %s)", e.Kind, list(e.Known))
	case errors.Is(e.Err, ErrType):
		fmt.Fprintf(&b, "NewFunc has type %s; kind %s wants %s", e.Got, e.Kind, e.Want)
	case errors.Is(e.Err, ErrUnknownName):
		fmt.Fprintf(&b, "unknown name %q (available: %s)", e.Detail, list(e.Known))
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

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
