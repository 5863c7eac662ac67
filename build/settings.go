package build

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/plugink/plugink/internal/settings"
)

// envSettings are the environment variables that change what go build
// makes, as planBuilds asks go env for them: every setting of the table
// that is one (package settings), and the go command's own.
var envSettings = append(slices.Clone(settings.EnvVars), "GOVERSION", "GOFLAGS", "CC", "GOMOD", "GOWORK",
	"GOMODCACHE") // not a setting: where module versions are; see hashPackage

// effectiveSettings returns the settings a build gets, in a form where
// equal settings compare equal however they were given: goEnv (what go
// env says, in JSON) overridden by env (KEY=value, later winning), then
// the flags of GOFLAGS overridden by flags; a boolean flag as true or
// false, false left out; -tags as settings.NormalTags writes it.
func effectiveSettings(goEnv []byte, flags, env []string) (string, error) {
	vars := map[string]string{}
	if err := json.Unmarshal(goEnv, &vars); err != nil {
		return "", fmt.Errorf("parse go env output: %w", err)
	}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	set := map[string]string{}
	for _, f := range append(strings.Fields(vars["GOFLAGS"]), flags...) {
		name, value, hasValue := strings.Cut(f, "=")
		name = "-" + strings.TrimLeft(name, "-")
		if name == "-modfile" || name == "-mod" {
			continue // a pinning's temporary go.mod: planBuilds hashes its contents
		}
		if slices.Contains(settings.BoolFlags, name) && !hasValue {
			value = "true"
		}
		set[name] = value
	}
	delete(vars, "GOFLAGS")
	delete(vars, "GOMODCACHE")
	set["-tags"] = settings.NormalTags(set["-tags"])
	var lines []string
	for name, value := range set {
		if value != "false" && value != "" {
			lines = append(lines, name+"="+value)
		}
	}
	for k, v := range vars {
		lines = append(lines, k+"="+v)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n"), nil
}

// settingOf returns the value of name in settings, as effectiveSettings
// returns them; "" if it is not there.
func settingOf(settings, name string) string {
	for _, line := range strings.Split(settings, "\n") {
		if v, ok := strings.CutPrefix(line, name+"="); ok {
			return v
		}
	}
	return ""
}
