package runtime

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
)

// Kind is a kind of plugin: a name (such as "client") bound to a typed
// default map from implementation names to constructors of type F.
//
// The map stays the host's own (go-micro's cmd.DefaultClients binds as it
// is), but once plugins may load concurrently, read and write it only
// through the Kind: [Kind.Get], [Kind.Names], [Kind.Register], [Init].
type Kind[F any] struct {
	name string
	want reflect.Type
	id   uintptr // identity of the bound map, to make Declare idempotent

	mu     sync.RWMutex
	m      map[string]F
	notify []chan<- string // see Notify

	choice choiceFlag
}

// Declare binds the kind name to the default map m in the [Default] registry.
// See [DeclareIn].
func Declare[F any](name string, m map[string]F) (*Kind[F], error) {
	return DeclareIn(Default, name, m)
}

// MustDeclare is like [Declare] but panics on error. It suits package-level
// variable declarations, where a conflict is a programming error.
func MustDeclare[F any](name string, m map[string]F) *Kind[F] {
	k, err := Declare(name, m)
	if err != nil {
		panic(err)
	}
	return k
}

// DeclareIn binds the kind name to the default map m in registry r. F must
// be a func type. A nil m is replaced by a new map. Declaring the same name
// over the same map again returns the Kind declared first, so host code and
// generated code may both declare a kind; declaring it over another map or
// another type is an [ErrKindConflict].
func DeclareIn[F any](r *Registry, name string, m map[string]F) (*Kind[F], error) {
	want := reflect.TypeFor[F]()
	if err := CheckKindName(name); err != nil {
		return nil, &Error{Err: ErrInvalid, Detail: "kind name " + Quote(name) + " " + err.Error()}
	}
	if want.Kind() != reflect.Func {
		return nil, &Error{Kind: name, Err: ErrInvalid, Detail: fmt.Sprintf("constructor type %s is not a func type", want)}
	}
	if m == nil {
		m = map[string]F{}
	}
	k := &Kind[F]{name: name, want: want, id: reflect.ValueOf(m).Pointer(), m: m}
	k.choice.kind = name
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kinds == nil {
		r.kinds = map[string]kind{}
	}
	if old, ok := r.kinds[name]; ok {
		if prev, same := old.(*Kind[F]); same && prev.id == k.id {
			return prev, nil
		}
		return nil, &Error{Kind: name, Err: ErrKindConflict, Want: old.constructorType().String(), Got: want.String()}
	}
	r.kinds[name] = k
	return k, nil
}

// Name returns the kind's name, e.g. "client".
func (k *Kind[F]) Name() string { return k.name }

// ConstructorType returns F, the type every NewFunc of this kind must have.
func (k *Kind[F]) ConstructorType() reflect.Type { return k.want }

func (k *Kind[F]) constructorType() reflect.Type { return k.want }

// Get returns the constructor registered under name, or an [ErrUnknownName]
// error that lists the names available.
func (k *Kind[F]) Get(name string) (F, error) {
	k.mu.RLock()
	f, ok := k.m[name]
	k.mu.RUnlock()
	if !ok {
		var zero F
		return zero, &Error{Kind: k.name, Err: ErrUnknownName, Detail: name, Known: k.Names()}
	}
	return f, nil
}

// Names returns the registered implementation names, sorted.
func (k *Kind[F]) Names() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	names := make([]string, 0, len(k.m))
	for n := range k.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Register puts f into the default map under name. It is the typed
// counterpart of [Init]: the compiler checks f's type. Registering a name
// that exists is an [ErrDuplicate] unless opts allow it ([ReplaceOnly],
// [ReplaceAll]). Errors are as [Registry.InitAll]'s: one *[Error] as
// itself, several joined.
func (k *Kind[F]) Register(name string, f F, opts ...InitOption) error {
	o := applyInit(opts)
	c := &Config{Name: name, Type: k.name, NewFunc: f}
	v, err := k.check(c)
	if err != nil {
		o.errs = append(o.errs, err)
	}
	if len(o.errs) == 0 {
		o.errs = commit([]entry{{c, k, v}}, o)
	}
	return join(o.errs)
}

func (k *Kind[F]) lock()   { k.mu.Lock() }
func (k *Kind[F]) unlock() { k.mu.Unlock() }

// has reports whether name is registered; k.mu must be held.
func (k *Kind[F]) has(name string) bool {
	_, ok := k.m[name]
	return ok
}

// store registers v, a value check accepted, under name, and tells the
// channels of Notify; k.mu must be held.
func (k *Kind[F]) store(name string, v reflect.Value) {
	k.m[name] = v.Convert(k.want).Interface().(F)
	for _, c := range k.notify {
		select {
		case c <- name:
		default:
		}
	}
}

// Notify makes k send to c the name of every implementation registered or
// replaced from now on: a plugin loaded, or upgraded to a new generation
// (loader.Loader.Upgrade). Like os/signal.Notify, it does not block: give
// c a buffer, or names sent while c is full are lost. A host that built an
// implementation once, at start-up, uses it to build a new one when the
// plugin it came from is upgraded:
//
//	changed := make(chan string, 1)
//	client.Kind.Notify(changed)
//	... case name := <-changed: if name == current { rebuild } ...
func (k *Kind[F]) Notify(c chan<- string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.notify = append(k.notify, c)
}

// StopNotify makes k stop sending to c.
func (k *Kind[F]) StopNotify(c chan<- string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.notify = slices.DeleteFunc(k.notify, func(x chan<- string) bool { return x == c })
}

// check reports whether c has a name and a non-nil NewFunc whose dynamic
// type is assignable to F, and returns NewFunc as a reflect.Value.
func (k *Kind[F]) check(c *Config) (reflect.Value, error) {
	if err := CheckPluginName(c.Name); err != nil {
		return reflect.Value{}, &Error{Kind: k.name, Err: ErrInvalid, Detail: "Name " + Quote(c.Name) + " " + err.Error()}
	}
	if c.NewFunc == nil {
		return reflect.Value{}, &Error{Plugin: c.Name, Kind: k.name, Err: ErrInvalid, Detail: "nil NewFunc"}
	}
	v := reflect.ValueOf(c.NewFunc)
	if !v.Type().AssignableTo(k.want) {
		return reflect.Value{}, &Error{Plugin: c.Name, Kind: k.name, Err: ErrType, Got: v.Type().String(), Want: k.want.String()}
	}
	if v.Kind() == reflect.Func && v.IsNil() {
		return reflect.Value{}, &Error{Plugin: c.Name, Kind: k.name, Err: ErrInvalid, Detail: "nil NewFunc"}
	}
	return v, nil
}

// TypeCheck returns f unchanged. It exists for its signature: code
// generated by plugink wraps each plugin's constructor in it, so that the
// compiler checks that the constructor has the element type of the kind's
// default map. When a plugin's constructor changes type, the generated file
// stops compiling, naming the plugin's line:
//
//	NewFunc: runtime.TypeCheck(client.DefaultClients, brpc.NewClient)
func TypeCheck[F any](m map[string]F, f F) F { return f }

// TypeCheck returns f unchanged; like the package-level [TypeCheck], it
// lets generated code have the compiler check a constructor against the
// kind's type:
//
//	NewFunc: client.Kind.TypeCheck(brpc.NewClient)
func (k *Kind[F]) TypeCheck(f F) F { return f }
