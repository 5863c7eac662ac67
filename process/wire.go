package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Header begins the arguments of every call: the generated argument types
// embed it, and the host side fills it in.
type Header struct {
	// Instance is the remote instance the call is for.
	Instance uint64
	// Call numbers the call, for its cancellation.
	Call uint64
	// Deadline is the deadline of the call's context; zero if none.
	Deadline time.Time
}

func (h *Header) header() *Header { return h }

// Args is a generated argument type: a struct embedding [Header].
type Args interface{ header() *Header }

// NewReply is the answer to the construction of an instance.
type NewReply struct {
	// Instance is the new instance's number.
	Instance uint64
	// Err is the constructor's error, if it returned one.
	Err *Error
}

// Error is an error that crossed the process boundary: its message, and
// the name of the sentinel error it wraps, if any.
type Error struct {
	// Msg is the error's message.
	Msg string
	// Sentinel is the name ("client.ErrNotFound") of the sentinel of the
	// kind's package that the error matched with errors.Is, or "".
	Sentinel string
}

// Sentinel names an exported error variable of the kind's package, so
// that errors.Is holds across the process boundary.
type Sentinel struct {
	// Name is the variable's name as Go code reads it ("client.ErrClosed").
	Name string
	// Err is the variable's value.
	Err error
}

// EncodeError returns err as it crosses: nil for nil.
func EncodeError(err error, sentinels []Sentinel) *Error {
	if err == nil {
		return nil
	}
	e := &Error{Msg: err.Error()}
	for _, s := range sentinels {
		if s.Err != nil && errors.Is(err, s.Err) {
			e.Sentinel = s.Name
			break
		}
	}
	return e
}

// DecodeError returns the error e describes (nil for nil): a
// [*RemoteError] that wraps the sentinel e names, if the host knows it.
func DecodeError(e *Error, sentinels []Sentinel) error {
	if e == nil {
		return nil
	}
	r := &RemoteError{Msg: e.Msg}
	for _, s := range sentinels {
		if s.Name == e.Sentinel && e.Sentinel != "" {
			r.Sentinel = s.Err
			break
		}
	}
	return r
}

// RemoteError is an error a plugin process returned: its message, and the
// sentinel it matched in the plugin, if any (errors.Is sees it).
type RemoteError struct {
	// Msg is the error's message in the plugin.
	Msg string
	// Sentinel is the kind's sentinel error the plugin's error matched.
	Sentinel error
}

// Error returns the plugin's message.
func (e *RemoteError) Error() string { return e.Msg }

// Unwrap returns the sentinel, or nil.
func (e *RemoteError) Unwrap() error { return e.Sentinel }

// Message is a protocol buffers message as it crosses: its full name and
// its wire form.
type Message struct {
	// Name is the message's full name ("example.EchoRequest").
	Name string
	// Data is the message's wire form.
	Data []byte
	// Set is false for a nil message.
	Set bool
	// Same, in a reply, says the callee left the message as it came.
	Same bool
}

// marshal and unmarshal take messages as they are: a response not yet
// filled lacks its required fields (proto2), and the plugin or the
// caller, not the crossing, decides whether that is an error.
var (
	marshal   = proto.MarshalOptions{Deterministic: true, AllowPartial: true}
	unmarshal = proto.UnmarshalOptions{AllowPartial: true}
)

// MarshalMessage returns m as it crosses.
func MarshalMessage(m proto.Message) (Message, error) {
	if m == nil || !m.ProtoReflect().IsValid() && reflect.ValueOf(m).Kind() == reflect.Pointer && reflect.ValueOf(m).IsNil() {
		return Message{}, nil
	}
	data, err := marshal.Marshal(m)
	if err != nil {
		return Message{}, fmt.Errorf("marshal %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	d := m.ProtoReflect().Descriptor()
	if _, err := descriptorSet(d); err != nil { // kept for a plugin that asks for it
		return Message{}, err
	}
	return Message{Name: string(d.FullName()), Data: data, Set: true}, nil
}

// descs caches the marshalled FileDescriptorSet of each message type.
var descs sync.Map // protoreflect.FullName -> []byte

// descriptorSet returns the marshalled FileDescriptorSet of d's file and
// its imports, in dependency order.
func descriptorSet(d protoreflect.MessageDescriptor) ([]byte, error) {
	if b, ok := descs.Load(d.FullName()); ok {
		return b.([]byte), nil
	}
	var set descriptorpb.FileDescriptorSet
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imps := f.Imports()
		for i := range imps.Len() {
			add(imps.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	add(d.ParentFile())
	b, err := marshal.Marshal(&set)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", d.FullName(), err)
	}
	descs.Store(d.FullName(), b)
	return b, nil
}

// dynamicTypes caches the message types made from descriptors, by name,
// with the descriptor they came from.
var dynamicTypes sync.Map // string -> dynamicType

type dynamicType struct {
	t protoreflect.MessageType
}

// maxDesc bounds the descriptor a peer may send.
const maxDesc = 4 << 20

// needDescriptor begins the error of a plugin that neither links a
// message's type nor was given its descriptor: the host then sends it
// ([Server.PluginkDescribe]) and calls again. The name follows, quoted.
const needDescriptor = "plugink: need the descriptor of message "

// messageType returns the type of m: the one linked into this program, else
// one made from the descriptor the host gave.
func (m Message) messageType() (protoreflect.MessageType, error) {
	t, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(m.Name))
	if err == nil {
		return t, nil
	}
	if v, ok := dynamicTypes.Load(m.Name); ok {
		return v.(dynamicType).t, nil
	}
	return nil, fmt.Errorf("%s%q: this program does not link it", needDescriptor, m.Name)
}

// describe makes the type of message name from desc, a marshalled
// FileDescriptorSet that holds it.
func describe(name string, desc []byte) error {
	if len(desc) > maxDesc {
		return fmt.Errorf("message %s: descriptor of %d bytes, over %d", name, len(desc), maxDesc)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(desc, &set); err != nil {
		return fmt.Errorf("message %s: descriptor: %w", name, err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return fmt.Errorf("message %s: descriptor: %w", name, err)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return fmt.Errorf("message %s: descriptor: %w", name, err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return fmt.Errorf("message %s: the descriptor names no message", name)
	}
	dynamicTypes.LoadOrStore(name, dynamicType{t: dynamicpb.NewMessageType(md)})
	return nil
}

// wantedDescriptor returns the name of the message whose descriptor a
// plugin's error asks for, and the descriptor, if this program has it.
func wantedDescriptor(msg string) (string, []byte, bool) {
	_, rest, ok := strings.Cut(msg, needDescriptor)
	if !ok {
		return "", nil, false
	}
	name, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", nil, false
	}
	if name, err = strconv.Unquote(name); err != nil {
		return "", nil, false
	}
	d, ok := descs.Load(protoreflect.FullName(name))
	if !ok {
		return "", nil, false
	}
	return name, d.([]byte), true
}

// New returns a new message of m's type, found by its full name among the
// message types linked into this program, holding m's data; nil if m is
// not set.
func (m Message) New() (proto.Message, error) {
	if !m.Set {
		return nil, nil
	}
	t, err := m.messageType()
	if err != nil {
		return nil, err
	}
	v := t.New().Interface()
	if err := unmarshal.Unmarshal(m.Data, v); err != nil {
		return nil, fmt.Errorf("unmarshal %s: %w", m.Name, err)
	}
	return v, nil
}

// Into replaces dst's content with m's: a callee's answer copied back into
// the caller's message. A reply marked Same leaves dst as it is.
func (m Message) Into(dst proto.Message) error {
	if m.Same || dst == nil {
		return nil
	}
	if !m.Set {
		proto.Reset(dst)
		return nil
	}
	if got := string(dst.ProtoReflect().Descriptor().FullName()); got != m.Name {
		return fmt.Errorf("message %s cannot be copied into a %s", m.Name, got)
	}
	proto.Reset(dst)
	if err := unmarshal.Unmarshal(m.Data, dst); err != nil {
		return fmt.Errorf("unmarshal %s: %w", m.Name, err)
	}
	return nil
}

// Return returns the message to send back for after, the callee's view of
// a message that came as m: marked Same if the callee did not change it.
func (m Message) Return(after proto.Message) (Message, error) {
	back, err := MarshalMessage(after)
	if err != nil {
		return Message{}, err
	}
	if back.Set == m.Set && bytes.Equal(back.Data, m.Data) {
		return Message{Same: true}, nil
	}
	return back, nil
}

// IsZero reports whether v is its type's zero value.
func IsZero(v any) bool {
	if v == nil {
		return true
	}
	return reflect.ValueOf(v).IsZero()
}

// Fill sets every exported field of the struct *ptr to a value that is not
// its type's zero (a number 1, a string, true, a non-nil empty slice or
// map, a pointer to a filled value), for [SetFields].
func Fill(ptr any) {
	v := reflect.ValueOf(ptr).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); v.Type().Field(i).IsExported() && f.CanSet() {
			fill(f, 0)
		}
	}
}

// fill sets f to a value that is not its type's zero, depth levels deep.
func fill(f reflect.Value, depth int) {
	switch f.Kind() {
	case reflect.Bool:
		f.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		f.SetUint(1)
	case reflect.Float32, reflect.Float64:
		f.SetFloat(1)
	case reflect.Complex64, reflect.Complex128:
		f.SetComplex(1)
	case reflect.String:
		f.SetString("\x00plugink")
	case reflect.Slice:
		f.Set(reflect.MakeSlice(f.Type(), 0, 0))
	case reflect.Map:
		f.Set(reflect.MakeMap(f.Type()))
	case reflect.Pointer:
		p := reflect.New(f.Type().Elem())
		if depth < 4 {
			fill(p.Elem(), depth+1)
		}
		f.Set(p)
	case reflect.Struct:
		if f.Type() == reflect.TypeFor[time.Time]() {
			f.Set(reflect.ValueOf(time.Unix(1, 0)))
			return
		}
		for i := range f.NumField() {
			if g := f.Field(i); f.Type().Field(i).IsExported() && g.CanSet() && depth < 4 {
				fill(g, depth+1)
			}
		}
	case reflect.Array:
		for i := range f.Len() {
			fill(f.Index(i), depth+1)
		}
	}
}

// SetFields returns the names of the fields functional options set: zero
// is what they made of a zero value, filled of one that [Fill] filled. A
// field the options set holds the same in both, or something other than
// zero in zero (an option that appends to a slice). Options applied on the
// host cross as these fields: a field they did not set keeps the plugin
// constructor's default, and one they set to zero crosses as zero.
func SetFields(zero, filled any) []string {
	z, f := reflect.ValueOf(zero).Elem(), reflect.ValueOf(filled).Elem()
	probe := reflect.New(z.Type())
	Fill(probe.Interface())
	var out []string
	for i := range z.NumField() {
		sf := z.Type().Field(i)
		if !sf.IsExported() {
			continue
		}
		// A field Fill cannot fill (an interface, a struct without
		// exported fields) tells nothing when both are zero: not set.
		zf, ff := z.Field(i), f.Field(i)
		fillable := !probe.Elem().Field(i).IsZero()
		if !zf.IsZero() || fillable && reflect.DeepEqual(zf.Interface(), ff.Interface()) {
			out = append(out, sf.Name)
		}
	}
	return out
}

// CheckContext reports a context.Context held in a field (where, such as
// "client.Options.Context") that carries something: values and
// cancellation of such a context cannot reach a plugin process. A nil
// context, context.Background() and context.TODO() carry nothing.
func CheckContext(ctx context.Context, where string) error {
	if ctx == nil || ctx == context.Background() || ctx == context.TODO() {
		return nil
	}
	return fmt.Errorf("%s holds a context with values or a deadline, which cannot cross to a plugin process; leave it unset, or run the plugin compiled in or as a .so", where)
}
