package scaffold

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/gen/emit"
	"github.com/plugink/plugink/runtime"
)

// KindSpec names a kind and the variable it binds to, as a manifest's
// kinds section does (client: example.com/svc/client.DefaultClients).
type KindSpec struct {
	// Name is the kind's name.
	Name string
	// Ref is the variable's qualified name, import/path.Var. [Init] also
	// takes a package name for the import path of a variable it found
	// (client.DefaultClients).
	Ref string
}

// String returns the spec as plugink init -kind takes it: name=ref.
func (k KindSpec) String() string { return k.Name + "=" + k.Ref }

// ParseKindSpec parses name=import/path.Var (or name=pkg.Var).
func ParseKindSpec(s string) (KindSpec, error) {
	name, ref, ok := strings.Cut(s, "=")
	if !ok || name == "" || ref == "" {
		return KindSpec{}, errors.New("want name=import/path.Var, as in client=example.com/svc/micro/client.DefaultClients")
	}
	if err := runtime.CheckKindName(name); err != nil {
		return KindSpec{}, fmt.Errorf("kind name %s %w", runtime.Quote(name), err)
	}
	pkg, _, ok := gen.SplitQualified(ref)
	if !ok {
		return KindSpec{}, fmt.Errorf("%s is not a qualified Go name; want import/path.Var, as in example.com/svc/micro/client.DefaultClients", runtime.Quote(ref))
	}
	if err := runtime.CheckImportPath(pkg); err != nil {
		return KindSpec{}, fmt.Errorf("import path %s %w", runtime.Quote(pkg), err)
	}
	return KindSpec{Name: name, Ref: ref}, nil
}

// InitOptions says where [Init] runs and which kinds it declares.
type InitOptions struct {
	// Dir is the host package's directory, where the manifest goes; ""
	// is the current directory.
	Dir string
	// Kinds are the kinds to declare; none means each kind [FindKinds]
	// finds, named as it names them.
	Kinds []KindSpec
	// HintDir is the directory (-C) that commands suggested in hints
	// change to, if any.
	HintDir string
}

// InitResult is what [Init] writes, and what to tell the user.
type InitResult struct {
	Scaffold
	// Checked is the new manifest, checked: its kinds.
	Checked *gen.Checked
	// Found is how many kinds FindKinds found, when InitOptions.Kinds
	// named none.
	Found int
	// GenerateFile is the new file that holds the go:generate line, or ""
	// if a file of the package has one.
	GenerateFile string
	// CallsInit says the host package calls initPlugins already.
	CallsInit bool
}

// ErrNoKind reports that [Init] found no kind, and none was named.
var ErrNoKind = errors.New("no kind found")

// GenerateFileName is the file [Init] adds the go:generate line in, so as
// to edit none of the host's own files.
const GenerateFileName = "plugink.go"

// Init prepares a new manifest in the host package's directory: it
// declares the kinds o names, or those [FindKinds] finds, and no plugins;
// with it, the go:generate line in a new file ([GenerateFileName]) unless
// the package has one, and the generated files. It refuses if the
// manifest exists. Nothing is written until [Scaffold.Write].
func Init(ctx context.Context, o InitOptions) (*InitResult, error) {
	dir := o.Dir
	if dir == "" {
		dir = "."
	}
	file := filepath.Join(dir, gen.ManifestFile)
	if _, err := os.Lstat(file); err == nil {
		return nil, runtime.WithHint(&ExistsError{Op: "init", Path: file, Why: "init writes a new manifest and never overwrites one"},
			fmt.Sprintf("add a plugin to it: %s; or remove it first to start over", Command(o.HintDir, "new", "<kind>", "<name>")))
	}
	found, err := FindKinds(ctx, dir)
	if err != nil {
		return nil, runtime.WithHint(fmt.Errorf("init: %w", err), "run plugink init in the package that selects implementations, usually main, in a module (go mod init)")
	}
	specs, err := chooseKinds(found, o)
	if err != nil {
		return nil, err
	}
	text := initManifest(specs)
	m, err := gen.ParseManifest(file, text)
	if err != nil || len(m.Plugins) > 0 || len(m.Kinds) != len(specs) {
		return nil, fmt.Errorf("init: the manifest written does not read back as written (please report): %v", err)
	}
	ch, err := gen.Check(ctx, m, gen.Options{Dir: dir})
	if err != nil {
		return nil, fmt.Errorf("init: %w", oneLine(err))
	}
	generated, err := gen.Emit(ctx, ch, gen.Options{Dir: dir})
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	res := &InitResult{Checked: ch}
	if len(o.Kinds) == 0 {
		res.Found = len(found.Kinds)
	}
	res.Files, res.Create = []gen.File{{Path: file, Data: text}}, []string{file}
	var directive bool
	directive, res.CallsInit = hostFiles(dir)
	if !directive {
		g := filepath.Join(dir, GenerateFileName)
		if _, err := os.Lstat(g); err == nil {
			return nil, runtime.WithHint(&ExistsError{Op: "init", Path: g, Why: "init adds the go:generate line in a new file of that name"},
				fmt.Sprintf("add the line %s to a file of the package yourself, then run %s again", emit.GenerateDirective, Command(o.HintDir, "init")))
		}
		data, err := emit.GenerateFile(found.PackageName)
		if err != nil {
			return nil, err
		}
		res.Files, res.Create, res.GenerateFile = append(res.Files, gen.File{Path: g, Data: data}), append(res.Create, g), g
	}
	res.Files = append(res.Files, generated...)
	return res, nil
}

// oneLine returns an ErrorList about a manifest not yet written as one
// error, its messages without positions.
func oneLine(err error) error {
	var list gen.ErrorList
	if !errors.As(err, &list) {
		return err
	}
	var msgs []string
	for _, e := range list {
		msgs = append(msgs, e.Msg)
	}
	return errors.New(strings.Join(msgs, "; "))
}

// chooseKinds returns the kinds to declare, sorted by name: those o names,
// with a package name resolved among those found, or those found.
func chooseKinds(found *Found, o InitOptions) ([]KindSpec, error) {
	if len(o.Kinds) > 0 {
		return resolveKinds(found, o)
	}
	if len(found.Kinds) == 0 && len(found.InPackage) > 0 {
		var names []string
		for _, k := range found.InPackage {
			names = append(names, found.PackageName+"."+k.Var)
		}
		return nil, runtime.WithHint(fmt.Errorf("init: %w that the generated files can import: %s is in package %s itself", ErrNoKind, strings.Join(names, ", "), found.Package),
			fmt.Sprintf("move it to a package of its own (as go-micro's client.DefaultClients is), then: %s", Command(o.HintDir, "init")))
	}
	if len(found.Kinds) == 0 {
		example := KindSpec{Name: "client", Ref: "example.com/yourframework/client.DefaultClients"}
		err := fmt.Errorf("init: %w in %s or the packages it imports from module %s: looked for an exported package-level variable of type map[string]F, F a func type (a go-micro default map: var DefaultClients = map[string]func(...Option) Client{...}), or *runtime.Kind[F] (runtime.MustDeclare)",
			ErrNoKind, found.Package, found.Module)
		return nil, runtime.WithHint(runtime.WithHint(err,
			fmt.Sprintf("or write plugink.yaml by hand, with the line %q under \"kinds:\"", "  "+example.Name+": "+example.Ref)),
			"name the variable yourself: "+Command(o.HintDir, "init", "-kind", example.String()))
	}
	byName := map[string][]*FoundKind{}
	var specs []KindSpec
	for _, k := range found.Kinds {
		byName[k.Name] = append(byName[k.Name], k)
		specs = append(specs, KindSpec{Name: k.Name, Ref: k.Ref()})
	}
	for _, k := range found.Kinds {
		if same := byName[k.Name]; k.Name == "" || len(same) > 1 {
			var refs []string
			for _, s := range same {
				refs = append(refs, s.Ref())
			}
			msg := fmt.Sprintf("init: two kinds would be named %s: %s", k.Name, strings.Join(refs, ", "))
			if k.Name == "" {
				msg = fmt.Sprintf("init: found no kind name for %s", k.Ref())
			}
			return nil, runtime.WithHint(errors.New(msg), "name each kind to declare: "+Command(o.HintDir, "init", kindFlags(renamed(specs))...))
		}
	}
	slices.SortStableFunc(specs, func(a, b KindSpec) int { return strings.Compare(a.Name, b.Name) })
	return specs, nil
}

// renamed returns specs with names made unique (client, client2) and
// filled in (kind).
func renamed(specs []KindSpec) []KindSpec {
	seen := map[string]bool{}
	out := slices.Clone(specs)
	for i, s := range out {
		base := s.Name
		if base == "" {
			base = "kind"
		}
		name := base
		for n := 2; seen[name]; n++ {
			name = base + strconv.Itoa(n)
		}
		seen[name], out[i].Name = true, name
	}
	return out
}

// kindFlags returns specs as -kind flags.
func kindFlags(specs []KindSpec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, "-kind", s.String())
	}
	return out
}

// resolveKinds checks the kinds o names against those found: a package
// name (client.DefaultClients) must name one found, and a *runtime.Kind
// whose declaration names it keeps that name.
func resolveKinds(found *Found, o InitOptions) ([]KindSpec, error) {
	specs := slices.Clone(o.Kinds)
	seen := map[string]bool{}
	for i, s := range specs {
		if seen[s.Name] {
			return nil, fmt.Errorf("init: -kind %s: kind %s is named twice", s, s.Name)
		}
		seen[s.Name] = true
		pkg, v, _ := gen.SplitQualified(s.Ref)
		if !strings.ContainsAny(pkg, "./") {
			var refs, names []string
			for _, k := range found.Kinds {
				names = append(names, k.PkgName+"."+k.Var)
				if k.PkgName == pkg && k.Var == v {
					refs = append(refs, k.Ref())
				}
			}
			switch len(refs) {
			case 0:
				example := "example.com/svc/micro/client.DefaultClients"
				if len(found.Kinds) > 0 {
					example = found.Kinds[len(found.Kinds)-1].Ref()
				}
				return nil, fmt.Errorf("init: -kind %s: no variable %s among the kinds found (%s); give its import path, as in -kind %s=%s", s, s.Ref, strings.Join(names, ", "), s.Name, example)
			case 1:
				specs[i].Ref = refs[0]
			default:
				return nil, fmt.Errorf("init: -kind %s: %s names several variables (%s); give the import path of one", s, s.Ref, strings.Join(refs, ", "))
			}
		}
		for _, k := range found.Kinds {
			if k.Ref() == specs[i].Ref && !k.IsMap && k.Declared.IsValid() && k.Name != s.Name {
				fixed := slices.Clone(specs)
				fixed[i].Name = k.Name
				return nil, runtime.WithHint(fmt.Errorf("init: -kind %s: the variable is declared as kind %q (at %s); a *runtime.Kind keeps that name", s, k.Name, relPos(k.Declared)),
					Command(o.HintDir, "init", kindFlags(fixed)...))
			}
		}
	}
	slices.SortStableFunc(specs, func(a, b KindSpec) int { return strings.Compare(a.Name, b.Name) })
	return specs, nil
}
