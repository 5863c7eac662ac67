// Package yamlplug is a test plugin that links go.yaml.in/yaml/v3. The
// loader's tests copy it into a throwaway module that replaces yaml with a
// modified copy, so the plugin links another version of a package the
// test binary links too (through testify).
package yamlplug

import "go.yaml.in/yaml/v3"

// New is the plugin's constructor; no test registers it.
func New() ([]byte, error) { return yaml.Marshal(map[string]string{"plugin": "yamlplug"}) }
