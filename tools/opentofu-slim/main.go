// Command opentofu-slim derives the state backends an OpenTofu configuration
// uses and writes a copy of OpenTofu's backend registry,
//
//	internal/backend/init/init.go
//
// that registers (and imports) only those, plus OpenTofu's own: every backend
// whose package is not under internal/backend/remote-state/ (local, and
// remote and cloud, which internal/command imports anyway, so dropping them
// would compile nothing less). The rest of the file is OpenTofu's, line for
// line; `go build -overlay` swaps the copy in, so the source stays untouched
// and a backend left out answers with OpenTofu's own "unsupported backend"
// error.
//
// The set is derived, never listed by hand: every `backend "<type>"` block in a
// `terraform` block, `cloud` blocks, and the `backend` argument of every
// `data "terraform_remote_state"` block in the *.tf and *.tf.json files under
// the given directories. A type the registry does not have is an error.
//
// It is run from the OpenTofu module's root (it uses the module's HCL):
//
//	cd <opentofu source> && go run -trimpath <repo>/tools/opentofu-slim/main.go -out DIR <infrastructure dir>...
//
// and writes DIR/init.go, DIR/overlay.json, DIR/backends.txt (the remote-state
// backends kept, one a line) and DIR/registered.txt (every backend the copy
// registers). Without -out it only prints the remote-state backends kept.
// Errors are one line on stderr, exit 1.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

const (
	registryFile = "internal/backend/init/init.go"
	remoteState  = "github.com/opentofu/opentofu/internal/backend/remote-state/"
)

// The registry as init.go declares it.
type registry struct {
	fset    *token.FileSet
	file    *ast.File
	entries map[string]*ast.KeyValueExpr // backends: name -> its entry
	aliases map[string]string            // backendAliases: alias -> name
	imports map[string]*ast.ImportSpec   // local package name -> import
	uses    map[string][]string          // backend name -> package names its entry uses
}

func main() {
	out := flag.String("out", "", "directory to write init.go, overlay.json and backends.txt into")
	flag.Parse()
	if flag.NArg() == 0 {
		fail("usage: opentofu-slim [-out DIR] <OpenTofu directory>...")
	}
	original, err := os.ReadFile(registryFile)
	if err != nil {
		fail("run from OpenTofu's source root (%s not found)", registryFile)
	}
	reg, err := parseRegistry(original)
	if err != nil {
		fail("%s: %s", registryFile, err)
	}
	used, err := scanConfig(flag.Args())
	if err != nil {
		fail("%s", err)
	}

	var unknown []string
	keep := map[string]bool{}
	for name, where := range used {
		if canonical, ok := reg.aliases[name]; ok {
			name = canonical
		}
		if _, ok := reg.entries[name]; !ok {
			unknown = append(unknown, fmt.Sprintf("%q (%s)", name, where))
			continue
		}
		keep[name] = true
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		fail("OpenTofu has no backend %s; it has %s; fix the backend type or pin an OpenTofu that has it",
			strings.Join(unknown, ", "), strings.Join(sortedKeys(reg.entries), ", "))
	}
	var kept []string // the remote-state backends, what the slim build is named after
	for name := range reg.entries {
		if reg.remoteState(name) {
			if keep[name] {
				kept = append(kept, name)
			}
		} else {
			keep[name] = true // OpenTofu's own
		}
	}
	sort.Strings(kept)

	text, err := reg.rewrite(original, keep)
	if err != nil {
		fail("rewriting %s: %s", registryFile, err)
	}
	if *out != "" {
		if err := write(*out, text, kept, sortedKeys(keep)); err != nil {
			fail("%s", err)
		}
	}
	if len(kept) > 0 {
		fmt.Println(strings.Join(kept, "\n"))
	}
}

func parseRegistry(src []byte) (*registry, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, registryFile, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	reg := &registry{fset: fset, file: f, entries: map[string]*ast.KeyValueExpr{},
		aliases: map[string]string{}, imports: map[string]*ast.ImportSpec{}, uses: map[string][]string{}}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		name := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		reg.imports[name] = imp
	}
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "Init" || fn.Recv != nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok || len(as.Lhs) != 1 || len(as.Rhs) != 1 {
				return true
			}
			target, _ := as.Lhs[0].(*ast.Ident)
			lit, _ := as.Rhs[0].(*ast.CompositeLit)
			if target == nil || lit == nil {
				return true
			}
			for _, elt := range lit.Elts {
				kv, _ := elt.(*ast.KeyValueExpr)
				key := stringLit(kv)
				if key == "" {
					continue
				}
				switch target.Name {
				case "backends":
					reg.entries[key] = kv
					ast.Inspect(kv.Value, func(n ast.Node) bool {
						if sel, ok := n.(*ast.SelectorExpr); ok {
							if id, ok := sel.X.(*ast.Ident); ok && reg.imports[id.Name] != nil {
								reg.uses[key] = append(reg.uses[key], id.Name)
							}
						}
						return true
					})
				case "backendAliases":
					if v, ok := kv.Value.(*ast.BasicLit); ok {
						reg.aliases[key], _ = strconv.Unquote(v.Value)
					}
				}
			}
			return false
		})
	}
	if len(reg.entries) == 0 {
		return nil, fmt.Errorf("no `backends = map[string]backend.InitFn{...}` in func Init (has OpenTofu changed how it registers backends?)")
	}
	return reg, nil
}

// stringLit is the key of a `"name": value` entry, or "".
func stringLit(kv *ast.KeyValueExpr) string {
	if kv == nil {
		return ""
	}
	lit, ok := kv.Key.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return ""
	}
	s, _ := strconv.Unquote(lit.Value)
	return s
}

// remoteState tells whether a backend is one of the remote-state backends (its
// entry uses a package under internal/backend/remote-state/).
func (r *registry) remoteState(name string) bool {
	for _, pkg := range r.uses[name] {
		if path, _ := strconv.Unquote(r.imports[pkg].Path.Value); strings.HasPrefix(path, remoteState) {
			return true
		}
	}
	return false
}

// rewrite drops the lines of the entries not kept and of the imports only they
// used, gofmts the result and checks that it registers exactly the kept set.
func (r *registry) rewrite(src []byte, keep map[string]bool) ([]byte, error) {
	drop := map[int]bool{} // line numbers
	dropRange := func(n ast.Node) {
		for l := r.fset.Position(n.Pos()).Line; l <= r.fset.Position(n.End()).Line; l++ {
			drop[l] = true
		}
	}
	stillUsed := map[string]bool{}
	for name := range keep {
		for _, pkg := range r.uses[name] {
			stillUsed[pkg] = true
		}
	}
	for name, kv := range r.entries {
		if keep[name] {
			continue
		}
		dropRange(kv)
		for _, pkg := range r.uses[name] {
			if !stillUsed[pkg] {
				dropRange(r.imports[pkg])
			}
		}
	}
	var lines []string
	for i, line := range strings.SplitAfter(string(src), "\n") {
		if !drop[i+1] {
			lines = append(lines, line)
		}
	}
	text, err := format.Source([]byte(strings.Join(lines, "")))
	if err != nil {
		return nil, err
	}
	check, err := parseRegistry(text)
	if err != nil {
		return nil, err
	}
	if got, want := sortedKeys(check.entries), sortedKeys(keep); !slices.Equal(got, want) {
		return nil, fmt.Errorf("the result registers %v, not %v", got, want)
	}
	return text, nil
}

// scanConfig finds every backend type the configuration under dirs names, with one place it does.
func scanConfig(dirs []string) (map[string]string, error) {
	found := map[string]string{}
	note := func(name string, rng hcl.Range) {
		if _, seen := found[name]; !seen {
			found[name] = rng.Filename
		}
	}
	p := hclparse.NewParser()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != dir && strings.HasPrefix(d.Name(), ".") { // .terraform and the like
					return filepath.SkipDir
				}
				return nil
			}
			var file *hcl.File
			var diags hcl.Diagnostics
			switch {
			case strings.HasSuffix(path, ".tf"):
				file, diags = p.ParseHCLFile(path)
			case strings.HasSuffix(path, ".tf.json"):
				file, diags = p.ParseJSONFile(path)
			default:
				return nil
			}
			if diags.HasErrors() {
				return fmt.Errorf("%s", diags.Errs()[0])
			}
			return scanFile(file.Body, note)
		})
		if err != nil {
			return nil, fmt.Errorf("reading the OpenTofu code: %w", err)
		}
	}
	return found, nil
}

func scanFile(body hcl.Body, note func(string, hcl.Range)) error {
	top, _, diags := body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "terraform"},
		{Type: "data", LabelNames: []string{"type", "name"}},
	}})
	if diags.HasErrors() {
		return fmt.Errorf("%s", diags.Errs()[0])
	}
	for _, b := range top.Blocks {
		switch b.Type {
		case "terraform":
			inner, _, diags := b.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
				{Type: "backend", LabelNames: []string{"type"}},
				{Type: "cloud"},
			}})
			if diags.HasErrors() {
				return fmt.Errorf("%s", diags.Errs()[0])
			}
			for _, ib := range inner.Blocks {
				if ib.Type == "cloud" {
					note("cloud", ib.DefRange)
				} else {
					note(ib.Labels[0], ib.DefRange)
				}
			}
		case "data":
			if b.Labels[0] != "terraform_remote_state" {
				continue
			}
			attrs, _, diags := b.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "backend"}}})
			if diags.HasErrors() {
				return fmt.Errorf("%s", diags.Errs()[0])
			}
			attr := attrs.Attributes["backend"]
			if attr == nil {
				continue // OpenTofu reports the missing argument
			}
			v, diags := attr.Expr.Value(nil)
			if diags.HasErrors() || v.Type() != cty.String || !v.IsKnown() || v.IsNull() {
				return fmt.Errorf("%s: the backend of data %q %q is not a literal string, so the slim profile cannot tell which backend it needs (SMARTSTACK_OPENTOFU_PROFILE=full builds them all)",
					attr.Range, b.Labels[0], b.Labels[1])
			}
			note(v.AsString(), attr.Range)
		}
	}
	return nil
}

func write(out string, text []byte, kept, registered []string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	dest := filepath.Join(out, "init.go")
	if err := os.WriteFile(dest, text, 0o644); err != nil {
		return err
	}
	abs, err := filepath.Abs(registryFile)
	if err != nil {
		return err
	}
	js, err := json.MarshalIndent(map[string]map[string]string{"Replace": {abs: dest}}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "overlay.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "backends.txt"), lines(kept), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "registered.txt"), lines(registered), 0o644)
}

func lines(items []string) []byte {
	var b strings.Builder
	for _, item := range items {
		b.WriteString(item + "\n")
	}
	return []byte(b.String())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "opentofu-slim: "+format+"\n", args...)
	os.Exit(1)
}
