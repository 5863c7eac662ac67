package runtime

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"sync"
)

// kind is what a Registry needs of a *Kind[F], whatever F is.
type kind interface {
	constructorType() reflect.Type
	check(c *Config) (reflect.Value, error)
	register(c *Config, v reflect.Value, opts []InitOption) error
	Names() []string
	// lock and unlock hold the kind's map for a batch; has and store
	// need the lock held.
	lock()
	unlock()
	has(name string) bool
	store(name string, v reflect.Value)
}

// Registry holds declared kinds. Most programs use [Default] through the
// package-level functions; tests and embedders may make their own. The zero
// value is an empty registry, like [NewRegistry]'s. A Registry is safe for
// concurrent use.
type Registry struct {
	mu    sync.RWMutex
	kinds map[string]kind
}

// Default is the registry used by the package-level functions and by
// plugink's generated code.
var Default = NewRegistry()

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{kinds: map[string]kind{}}
}

// InitOption changes how [Init] registers a plugin.
type InitOption func(*initOptions)

type initOptions struct {
	replaceAll bool
	replace    map[string]bool // "kind/name" of the plugins that may replace
}

// mayReplace reports whether c may overwrite a registered implementation.
func (o initOptions) mayReplace(c *Config) bool {
	return o.replaceAll || o.replace[c.String()]
}

// Replace lets Init overwrite an implementation already registered under the
// same name (for example, a plugin that replaces a built-in default). With
// no arguments it applies to every Config; otherwise only to the plugins it
// names as "kind/name" (Config.String), e.g. Replace("client/grpc").
func Replace(plugins ...string) InitOption {
	return func(o *initOptions) {
		if len(plugins) == 0 {
			o.replaceAll = true
			return
		}
		if o.replace == nil {
			o.replace = map[string]bool{}
		}
		for _, p := range plugins {
			o.replace[p] = true
		}
	}
}

func applyInit(opts []InitOption) initOptions {
	var o initOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Init registers c in the [Default] registry. See [Registry.Init].
func Init(c *Config, opts ...InitOption) error { return Default.Init(c, opts...) }

// InitAll registers every config in the [Default] registry, or none of
// them. See [Registry.InitAll].
func InitAll(cs []*Config, opts ...InitOption) error { return Default.InitAll(cs, opts...) }

// Init registers c under c.Name in the default map of the kind c.Type, after
// checking that c.NewFunc's type is assignable to the kind's constructor type.
// Errors are *[Error] values naming the plugin, the kind, and the types or
// names involved. A failed Init registers nothing.
func (r *Registry) Init(c *Config, opts ...InitOption) error {
	k, v, err := r.validate(c)
	if err != nil {
		return err
	}
	return k.register(c, v, opts)
}

// validate finds c's kind and checks c against it.
func (r *Registry) validate(c *Config) (kind, reflect.Value, error) {
	if c == nil {
		return nil, reflect.Value{}, &Error{Err: ErrInvalid, Detail: "nil *Config"}
	}
	if c.Type == "" {
		return nil, reflect.Value{}, &Error{Plugin: c.Name, Err: ErrInvalid, Detail: "empty Type"}
	}
	k, err := r.kind(c.Name, c.Type)
	if err != nil {
		return nil, reflect.Value{}, err
	}
	v, err := k.check(c)
	return k, v, err
}

// InitAll registers every config in cs, or none of them: it checks each as
// [Registry.Init] does, and that no two of them share a kind and a name,
// then registers them all at once, holding every kind involved so that no
// other registration can come in between. On failure it registers nothing
// and returns every problem (each an *[Error]) joined into one error.
func (r *Registry) InitAll(cs []*Config, opts ...InitOption) error {
	type entry struct {
		c *Config
		k kind
		v reflect.Value
	}
	var entries []entry
	var errs []error
	for _, c := range cs {
		k, v, err := r.validate(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		entries = append(entries, entry{c, k, v})
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	kinds := map[string]kind{}
	for _, e := range entries {
		kinds[e.c.Type] = e.k
	}
	order := slices.Sorted(maps.Keys(kinds)) // one order for every batch: no deadlock
	for _, name := range order {
		kinds[name].lock()
	}
	defer func() {
		for _, name := range order {
			kinds[name].unlock()
		}
	}()
	o := applyInit(opts)
	batch := map[string]bool{}
	for _, e := range entries {
		key := e.c.String()
		switch {
		case o.mayReplace(e.c):
		case batch[key]:
			errs = append(errs, &Error{Plugin: e.c.Name, Kind: e.c.Type, Err: ErrDuplicate, Detail: "given twice in one batch"})
		case e.k.has(e.c.Name):
			errs = append(errs, errRegistered(e.c))
		}
		batch[key] = true
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, e := range entries {
		e.k.store(e.c.Name, e.v)
	}
	return nil
}

// errRegistered reports that c's name is already registered in its kind.
func errRegistered(c *Config) *Error {
	return &Error{Plugin: c.Name, Kind: c.Type, Err: ErrDuplicate, Detail: "pass runtime.Replace() to replace it"}
}

// Check reports whether c could be registered: its kind is declared and its
// NewFunc has the kind's constructor type. It registers nothing, so a loader
// can validate every plugin of a file before registering any.
func (r *Registry) Check(c *Config) error {
	_, _, err := r.validate(c)
	return err
}

func (r *Registry) kind(plugin, name string) (kind, error) {
	r.mu.RLock()
	k, ok := r.kinds[name]
	r.mu.RUnlock()
	if !ok {
		return nil, &Error{Plugin: plugin, Kind: name, Err: ErrUnknownKind, Known: r.Kinds()}
	}
	return k, nil
}

// Kinds returns the names of the declared kinds, sorted.
func (r *Registry) Kinds() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Names returns the implementation names registered in kind, sorted.
func (r *Registry) Names(kind string) ([]string, error) {
	k, err := r.kind("", kind)
	if err != nil {
		return nil, err
	}
	return k.Names(), nil
}

// ConstructorType returns the constructor type of kind.
func (r *Registry) ConstructorType(kind string) (reflect.Type, error) {
	k, err := r.kind("", kind)
	if err != nil {
		return nil, err
	}
	return k.constructorType(), nil
}
