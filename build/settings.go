package build

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/plugink/plugink/runtime"
)

// boolFlags are the go build flags that take no value.
var boolFlags = []string{"-race", "-trimpath", "-msan", "-asan", "-cover", "-a", "-linkshared"}

// envSettings are the environment variables that change what go build
// makes, as planBuilds asks go env for them.
var envSettings = []string{"GOVERSION", "GOOS", "GOARCH", "GOAMD64", "GOARM64", "GO386", "GOARM", "CGO_ENABLED", "GOFLAGS",
	"GOEXPERIMENT", "GOFIPS140", "CC", "CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_LDFLAGS", "GOMOD", "GOWORK",
	"GOMODCACHE"} // not a setting: where module versions are; see hashPackage

// effectiveSettings returns the settings a build gets, in a form where
// equal settings compare equal however they were given: goEnv (what go
// env says, in JSON) overridden by env (KEY=value, later winning), then
// the flags of GOFLAGS overridden by flags; a boolean flag as true or
// false, false left out; -tags as a sorted set without plugink_dynamic.
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
		if slices.Contains(boolFlags, name) && !hasValue {
			value = "true"
		}
		set[name] = value
	}
	delete(vars, "GOFLAGS")
	delete(vars, "GOMODCACHE")
	set["-tags"] = normalTags(set["-tags"])
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

// normalTags returns a comma-separated tag list sorted, without repeats
// and without runtime.DynamicTag (which only selects the host's generated
// file).
func normalTags(tags string) string {
	var out []string
	for _, t := range strings.Split(tags, ",") {
		if t = strings.TrimSpace(t); t != "" && t != runtime.DynamicTag {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), ",")
}
