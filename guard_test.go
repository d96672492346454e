package pnonboard_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/tenants"
)

// sourceFiles parses every non-test Go file of the module.
func sourceFiles(t *testing.T) map[string]*ast.File {
	t.Helper()
	files := map[string]*ast.File{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		files[path] = f
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

// TestOnlyRunReadsTheEnvironment: configuration enters through run's getenv and nowhere else,
// so tests can pass a fake environment and stay parallel.
func TestOnlyRunReadsTheEnvironment(t *testing.T) {
	t.Parallel()
	forbidden := map[string]bool{"Getenv": true, "LookupEnv": true, "Environ": true, "Setenv": true, "ExpandEnv": true}
	for path, f := range sourceFiles(t) {
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok || !forbidden[sel.Sel.Name] {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && (pkg.Name == "os" || pkg.Name == "syscall") {
				require.Equal(t, filepath.Join("cmd", "server", "main.go"), path,
					"%s reads the environment (os.%s); only main passes os.Getenv to run", path, sel.Sel.Name)
			}
			return true
		})
	}
}

// TestNoPackageLevelMutableState: no init(), and package-level vars only for sentinel errors,
// embedded files, and compile-time interface checks. pgtest's one documented exception is the
// state Go tests need to share a database server.
func TestNoPackageLevelMutableState(t *testing.T) {
	t.Parallel()
	allowed := map[string]string{
		filepath.Join("internal", "pgtest", "pgtest.go") + ":current": "shared test server, set once by Main",
	}
	for path, f := range sourceFiles(t) {
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok {
				require.False(t, fn.Recv == nil && fn.Name.Name == "init", "%s has an init function", path)
				continue
			}
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.VAR {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					switch {
					case name.Name == "_":
					case strings.HasPrefix(name.Name, "Err") || strings.HasPrefix(name.Name, "err"):
						require.True(t, i < len(vs.Values) && isErrorConstructor(vs.Values[i]),
							"%s: %s looks like a sentinel error but is not built by errors.New or fmt.Errorf", path, name.Name)
					case hasEmbedDirective(gen, vs):
					case allowed[path+":"+name.Name] != "":
					default:
						t.Errorf("%s: package-level var %s; pass state explicitly", path, name.Name)
					}
				}
			}
		}
	}
}

func isErrorConstructor(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && (pkg.Name == "errors" && sel.Sel.Name == "New" || pkg.Name == "fmt" && sel.Sel.Name == "Errorf")
}

func hasEmbedDirective(gen *ast.GenDecl, vs *ast.ValueSpec) bool {
	for _, doc := range []*ast.CommentGroup{gen.Doc, vs.Doc} {
		if doc == nil {
			continue
		}
		for _, c := range doc.List {
			if strings.HasPrefix(c.Text, "//go:embed ") {
				return true
			}
		}
	}
	return false
}

// vocabulary is every word of a tenant's life that only internal/tenants may spell.
func vocabulary() map[string]bool {
	words := map[string]bool{}
	for _, s := range tenants.AllStates() {
		words[string(s)] = true
	}
	for _, a := range tenants.Actions() {
		words[string(a)] = true
	}
	for _, o := range tenants.Outcomes() {
		words[string(o)] = true
	}
	for _, k := range []tenants.KeysetState{tenants.KeysetPending, tenants.KeysetCreated, tenants.KeysetActive, tenants.KeysetDisabled} {
		words[string(k)] = true
	}
	return words
}

// allGoFiles parses every Go file of the module, tests included.
func allGoFiles(t *testing.T, fset *token.FileSet) map[string]*ast.File {
	t.Helper()
	files := map[string]*ast.File{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files[path] = f
		return nil
	})
	require.NoError(t, err)
	return files
}

// TestTenantLifeIsSpelledOnlyInTenants: outside internal/tenants, no Go code (tests included)
// spells a tenant state, timeline action or outcome as a string, and no SQL names the tenants
// tables: the lifecycle has one owner. The sandbox models PubNub's own vocabulary and is left
// out; map keys and indexes (JSON member names) and other types' constants are not words of
// a tenant's life.
func TestTenantLifeIsSpelledOnlyInTenants(t *testing.T) {
	t.Parallel()
	words := vocabulary()
	sql := regexp.MustCompile(`(?i)\b(from|join|update|into|table)\s+(tenants|tenant_keysets|tenant_events)\b`)
	fset := token.NewFileSet()
	for path, f := range allGoFiles(t, fset) {
		if strings.HasPrefix(path, filepath.Join("internal", "tenants")+string(filepath.Separator)) ||
			strings.HasPrefix(path, filepath.Join("internal", "pubnub", "sandbox")+string(filepath.Separator)) {
			continue
		}
		skip := map[ast.Node]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.KeyValueExpr:
				skip[n.Key] = true
			case *ast.IndexExpr:
				skip[n.Index] = true
			case *ast.Field:
				if n.Tag != nil {
					skip[n.Tag] = true
				}
			case *ast.ValueSpec:
				if n.Type != nil {
					for _, v := range n.Values {
						skip[v] = true // another type's constant, e.g. webhooks.DeliveryFailed
					}
				}
			case *ast.BasicLit:
				if n.Kind != token.STRING || skip[n] {
					return true
				}
				v, err := strconv.Unquote(n.Value)
				require.NoError(t, err)
				if words[v] {
					t.Errorf("%s: the string %q is a word of a tenant's life: use the internal/tenants constant", fset.Position(n.Pos()), v)
				}
				if sql.MatchString(v) {
					t.Errorf("%s: SQL on the tenants tables outside internal/tenants: %.60q", fset.Position(n.Pos()), v)
				}
			}
			return true
		})
	}
}

// TestNoErrorClassificationByText: errors are classified by type (errors.Is/As, a method),
// never by searching their text.
func TestNoErrorClassificationByText(t *testing.T) {
	t.Parallel()
	for path, f := range sourceFiles(t) {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "strings" {
				return true
			}
			for _, arg := range call.Args {
				inner, ok := arg.(*ast.CallExpr)
				if !ok {
					continue
				}
				if m, ok := inner.Fun.(*ast.SelectorExpr); ok && m.Sel.Name == "Error" && len(inner.Args) == 0 {
					t.Errorf("%s: strings.%s on an error's text; classify errors by type", path, sel.Sel.Name)
				}
			}
			return true
		})
	}
}
