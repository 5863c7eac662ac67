package runtime

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
)

// choiceFlag is the flag.Value behind --<kind>; it remembers whether the
// flag was set on the command line, so that it wins over the environment.
// flag.Parse may set it while other goroutines select, so it is locked.
type choiceFlag struct {
	kind string

	mu    sync.Mutex
	value string
	set   bool
}

func (c *choiceFlag) String() string {
	if c == nil { // the flag package calls String on a zero value
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value
}

func (c *choiceFlag) Set(s string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.value, c.set = s, true
	return nil
}

// get returns the flag's value and whether it was set.
func (c *choiceFlag) get() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value, c.set
}

// EnvVar returns the environment variable that selects an implementation of
// kind: MICRO_ followed by the kind's name in upper case, with '-' turned
// into '_' (MICRO_CLIENT for "client").
func EnvVar(kind string) string {
	return "MICRO_" + strings.ToUpper(strings.ReplaceAll(kind, "-", "_"))
}

// RegisterFlag defines the flag --<kind> on fs (flag.CommandLine when fs is
// nil), as go-micro's cmd did for --client, --broker and the rest.
func (k *Kind[F]) RegisterFlag(fs *flag.FlagSet) {
	if fs == nil {
		fs = flag.CommandLine
	}
	usage := fmt.Sprintf("%s implementation to use (or set %s)", k.name, EnvVar(k.name))
	fs.Var(&k.choice, k.name, usage)
}

// Choice returns the name the user chose for this kind: the --<kind> flag
// when it was set, else the environment variable [EnvVar], else def.
func (k *Kind[F]) Choice(def string) string {
	if v, set := k.choice.get(); set {
		return v
	}
	if v, ok := os.LookupEnv(EnvVar(k.name)); ok && v != "" {
		return v
	}
	return def
}

// Select returns the chosen name (see [Kind.Choice]) and its constructor.
// An unknown name is an [ErrUnknownName] error listing the names available;
// go-micro ignored such names silently and kept its default.
func (k *Kind[F]) Select(def string) (string, F, error) {
	name := k.Choice(def)
	f, err := k.Get(name)
	return name, f, err
}
