// Command provider-slim selects the service packages of the hashicorp/aws
// provider that an OpenTofu configuration uses, and regenerates the provider's
// two service registries for that set only:
//
//	internal/provider/sdkv2/service_packages_gen.go  (the registered service packages)
//	internal/conns/awsclient_gen.go                  (the AWSClient.<Service>Client methods)
//
// with the provider's own templates (internal/generate/servicepackages/file.tmpl
// and internal/generate/awsclient/file.gtpl) and its own service metadata
// (names/data). The resource implementations are untouched: `go build
// -overlay` swaps in the two files, so only the selected service packages, what
// they import, and the AWS SDK clients they call are compiled.
//
// The set is derived, never listed by hand:
//
//  1. every `resource "aws_…"`, `data "aws_…"` and `ephemeral "aws_…"` block in
//     the *.tf files under the given directories;
//  2. each type maps to the service package that registers it (the TypeName
//     entries of internal/service/*/service_package_gen.go, which the provider
//     generates from its @SDKResource/@FrameworkResource/... annotations); a type
//     that no package registers is an error;
//  3. closed over the code that gets compiled: every provider service package
//     imported by a compiled package is registered too, and so is every service
//     whose AWSClient.<Service>Client method a compiled package calls (otherwise
//     that call would fail at run time), until nothing new comes in.
//
// It is run from the provider module's root (it imports the module's names/data):
//
//	cd <provider source> && go run -trimpath <repo>/tools/provider-slim/main.go -out DIR <infrastructure dir>...
//
// and writes DIR/service_packages_gen.go, DIR/awsclient_gen.go, DIR/overlay.json
// and DIR/services.txt (the registered packages, one a line). Without -out it
// only prints the registered packages. Errors are one line on stderr, exit 1.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/build"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/hashicorp/terraform-provider-aws/names/data"
)

const (
	module       = "github.com/hashicorp/terraform-provider-aws"
	serviceRoot  = "internal/service"
	registryFile = "internal/provider/sdkv2/service_packages_gen.go"
	clientsFile  = "internal/conns/awsclient_gen.go"
	registryTmpl = "internal/generate/servicepackages/file.tmpl"
	clientsTmpl  = "internal/generate/awsclient/file.gtpl"
)

// A block of the configuration: `resource "aws_s3_bucket" "x"` is {resource, aws_s3_bucket}.
type block struct{ kind, typeName string }

var blockRE = regexp.MustCompile(`(?m)^[ \t]*(resource|data|ephemeral)[ \t]+"(aws_[A-Za-z0-9_]+)"`)

func main() {
	out := flag.String("out", "", "directory to write the generated files and overlay.json into")
	why := flag.Bool("why", false, "print why each service package is in (on stderr)")
	flag.Parse()
	if flag.NArg() == 0 {
		fail("usage: provider-slim [-out DIR] <OpenTofu directory>...")
	}
	if _, err := os.Stat(registryFile); err != nil {
		fail("run from the AWS provider's source root (%s not found)", registryFile)
	}

	blocks, err := scanConfig(flag.Args())
	if err != nil {
		fail("%s", err)
	}
	registered, err := registrations()
	if err != nil {
		fail("%s", err)
	}
	records, err := data.ReadAllServiceData()
	if err != nil {
		fail("reading the provider's service data: %s", err)
	}

	var unknown []string
	selected := map[string]bool{}
	reasons := map[string]string{}
	for b, where := range blocks {
		pkg, ok := registered[b]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%s %q (%s)", b.kind, b.typeName, where))
			continue
		}
		if !selected[pkg] {
			reasons[pkg] = fmt.Sprintf("%s %s (%s)", b.kind, b.typeName, where)
		}
		selected[pkg] = true
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		fail("no service package of this provider registers %s; fix the type or pin a provider that has it",
			strings.Join(unknown, ", "))
	}

	// The AWSClient methods the full provider generates, by name, with their service.
	clients := map[string]data.ServiceRecord{}
	for _, r := range records {
		if r.Exclude() || (r.NotImplemented() && !r.EndpointOnly()) || r.IsClientSDKV1() {
			continue // the same filter as internal/generate/awsclient
		}
		clients[r.ProviderNameUpper()+"Client"] = r
	}
	hasPackage := func(p string) bool {
		_, err := os.Stat(filepath.Join(serviceRoot, p, "service_package_gen.go"))
		return err == nil
	}

	called, err := closure(selected, reasons, clients, hasPackage)
	if err != nil {
		fail("%s", err)
	}
	if *why {
		for _, p := range sortedKeys(selected) {
			fmt.Fprintf(os.Stderr, "%s: %s\n", p, reasons[p])
		}
	}

	services := sortedKeys(selected)
	if *out == "" {
		fmt.Println(strings.Join(services, "\n"))
		return
	}
	if err := write(*out, services, called, clients); err != nil {
		fail("%s", err)
	}
	fmt.Println(strings.Join(services, "\n"))
}

// scanConfig finds every aws_ block type in the *.tf files under dirs, with one place it is used.
func scanConfig(dirs []string) (map[block]string, error) {
	found := map[block]string{}
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
			if !strings.HasSuffix(path, ".tf") {
				return nil
			}
			text, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range blockRE.FindAllStringSubmatch(string(text), -1) {
				b := block{m[1], m[2]}
				if _, seen := found[b]; !seen {
					found[b] = path
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading the OpenTofu code: %w", err)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("no aws_ resource, data or ephemeral block found under %s", strings.Join(dirs, ", "))
	}
	return found, nil
}

// registrations maps each block type to the service package that registers it,
// from the TypeName fields of every internal/service/*/service_package_gen.go.
func registrations() (map[block]string, error) {
	files, err := filepath.Glob(filepath.Join(serviceRoot, "*", "service_package_gen.go"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no %s/*/service_package_gen.go found", serviceRoot)
	}
	result := map[block]string{}
	fset := token.NewFileSet()
	for _, file := range files {
		pkg := filepath.Base(filepath.Dir(file))
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Body == nil {
				continue
			}
			kind := kindOf(fn.Name.Name)
			if kind == "" {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				kv, ok := n.(*ast.KeyValueExpr)
				if !ok {
					return true
				}
				if key, ok := kv.Key.(*ast.Ident); ok && key.Name == "TypeName" {
					if lit, ok := kv.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if name, err := strconv.Unquote(lit.Value); err == nil {
							result[block{kind, name}] = pkg
						}
					}
				}
				return true
			})
		}
	}
	return result, nil
}

// kindOf names the configuration block a servicePackage method registers.
func kindOf(method string) string {
	switch method {
	case "SDKResources", "FrameworkResources":
		return "resource"
	case "SDKDataSources", "FrameworkDataSources":
		return "data"
	case "EphemeralResources":
		return "ephemeral"
	}
	return "" // list resources and actions: blocks OpenTofu does not have
}

// closure grows selected until it is closed over the compiled code, and
// returns the AWSClient methods that code calls.
func closure(selected map[string]bool, reasons map[string]string, clients map[string]data.ServiceRecord, hasPackage func(string) bool) (map[string]bool, error) {
	called := map[string]bool{}
	visited := map[string]bool{}
	queue := []string{"."} // the provider's main package
	for p := range selected {
		queue = append(queue, serviceRoot+"/"+p)
	}
	fset := token.NewFileSet()
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		if visited[dir] {
			continue
		}
		visited[dir] = true

		bp, err := build.ImportDir(dir, 0)
		if err != nil {
			return nil, fmt.Errorf("reading package %s: %w", dir, err)
		}
		for _, name := range bp.GoFiles {
			path := filepath.Join(dir, name)
			if path == registryFile || path == clientsFile {
				continue // the two files we regenerate
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return nil, err
			}
			for _, imp := range f.Imports {
				ip, _ := strconv.Unquote(imp.Path.Value)
				rel, ok := strings.CutPrefix(ip, module+"/")
				if !ok {
					continue
				}
				if svc, ok := strings.CutPrefix(rel, serviceRoot+"/"); ok && !strings.Contains(svc, "/") && hasPackage(svc) && !selected[svc] {
					selected[svc] = true
					reasons[svc] = "imported by " + dir
				}
				queue = append(queue, rel)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if r, ok := clients[sel.Sel.Name]; ok {
						called[sel.Sel.Name] = true
						if p := r.ProviderPackage(); hasPackage(p) && !selected[p] {
							selected[p] = true
							reasons[p] = fmt.Sprintf("its client is called in %s", path)
							queue = append(queue, serviceRoot+"/"+p)
						}
					}
				}
				return true
			})
		}
		// Every selected package is compiled (the regenerated registry imports it): walk it too.
		for p := range selected {
			if !visited[serviceRoot+"/"+p] {
				queue = append(queue, serviceRoot+"/"+p)
			}
		}
	}
	// Every registered service's own client method exists, as in the full build.
	for name, r := range clients {
		if selected[r.ProviderPackage()] {
			called[name] = true
		}
	}
	return called, nil
}

func write(out string, services []string, called map[string]bool, clients map[string]data.ServiceRecord) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}

	type servicePackage struct{ ProviderPackage string }
	reg := struct {
		PackageName string
		Services    []servicePackage
	}{PackageName: "sdkv2"}
	for _, s := range services {
		reg.Services = append(reg.Services, servicePackage{s})
	}

	type client struct{ GoPackage, ProviderNameUpper string }
	cl := struct{ Services []client }{}
	for name := range called {
		r := clients[name]
		cl.Services = append(cl.Services, client{r.GoPackageName(), r.ProviderNameUpper()})
	}
	slices.SortStableFunc(cl.Services, func(a, b client) int { return strings.Compare(a.ProviderNameUpper, b.ProviderNameUpper) })

	overlay := map[string]map[string]string{"Replace": {}}
	for _, g := range []struct {
		tmpl, target string
		data         any
	}{{registryTmpl, registryFile, reg}, {clientsTmpl, clientsFile, cl}} {
		dest := filepath.Join(out, filepath.Base(g.target))
		if err := render(g.tmpl, dest, g.data); err != nil {
			return err
		}
		abs, err := filepath.Abs(g.target)
		if err != nil {
			return err
		}
		overlay["Replace"][abs] = dest
	}
	js, err := json.MarshalIndent(overlay, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "overlay.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "services.txt"), []byte(strings.Join(services, "\n")+"\n"), 0o644)
}

// render executes one of the provider's generator templates and gofmts the result.
func render(tmplPath, dest string, v any) error {
	text, err := os.ReadFile(tmplPath)
	if err != nil {
		return err
	}
	t, err := template.New(filepath.Base(tmplPath)).Parse(string(text))
	if err != nil {
		return fmt.Errorf("%s: %w", tmplPath, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return fmt.Errorf("%s: %w", tmplPath, err)
	}
	src, err := format.Source(buf.Bytes())
	if err != nil {
		return fmt.Errorf("formatting %s: %w", dest, err)
	}
	return os.WriteFile(dest, src, 0o644)
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "provider-slim: "+format+"\n", args...)
	os.Exit(1)
}
