package process

import (
	"context"
	"slices"
	"testing"
	"time"
)

type setOpts struct {
	Retries  int
	Name     string
	Tags     []string
	Labels   map[string]string
	Limit    *int
	At       time.Time
	Inner    struct{ N, M int }
	Context  context.Context
	Debug    bool
	internal int
}

// TestSetFields: a field the options set crosses, to zero too; one they do
// not touch does not (the plugin's default stays); an option that appends
// sets its field; a field Fill cannot fill (an interface) is set only if
// the options leave it other than zero.
func TestSetFields(t *testing.T) {
	apply := func(opts ...func(*setOpts)) []string {
		var z, f setOpts
		Fill(&f)
		for _, o := range opts {
			o(&z)
			o(&f)
		}
		return SetFields(&z, &f)
	}
	for _, tc := range []struct {
		what string
		opts []func(*setOpts)
		want []string
	}{
		{"none", nil, nil},
		{"a zero", []func(*setOpts){func(o *setOpts) { o.Retries = 0 }}, []string{"Retries"}},
		{"a value", []func(*setOpts){func(o *setOpts) { o.Name = "x" }}, []string{"Name"}},
		{"false", []func(*setOpts){func(o *setOpts) { o.Debug = false }}, []string{"Debug"}},
		{"an append", []func(*setOpts){func(o *setOpts) { o.Tags = append(o.Tags, "a") }}, []string{"Tags"}},
		{"a nil slice", []func(*setOpts){func(o *setOpts) { o.Tags = nil }}, []string{"Tags"}},
		{"a map entry", []func(*setOpts){func(o *setOpts) {
			if o.Labels == nil {
				o.Labels = map[string]string{}
			}
			o.Labels["k"] = "v"
		}}, []string{"Labels"}},
		{"a pointer", []func(*setOpts){func(o *setOpts) { n := 0; o.Limit = &n }}, []string{"Limit"}},
		{"a time", []func(*setOpts){func(o *setOpts) { o.At = time.Time{} }}, []string{"At"}},
		// Part of a struct field set to zero is not the field set (fields
		// cross whole, a top-level one at a time): the plugin's default
		// stays.
		{"part of a struct", []func(*setOpts){func(o *setOpts) { o.Inner.N = 0 }}, nil},
		{"all of a struct", []func(*setOpts){func(o *setOpts) { o.Inner.N, o.Inner.M = 0, 0 }}, []string{"Inner"}},
		{"a context", []func(*setOpts){func(o *setOpts) { o.Context = nil }}, nil},
		{"two", []func(*setOpts){func(o *setOpts) { o.Retries = 3 }, func(o *setOpts) { o.Name = "" }}, []string{"Retries", "Name"}},
	} {
		if got := apply(tc.opts...); !slices.Equal(got, tc.want) {
			t.Errorf("%s: SetFields = %q, want %q", tc.what, got, tc.want)
		}
	}
}
