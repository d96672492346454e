package pnonboard_test

import (
	"fmt"
	"go/ast"
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
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// sourceFiles parses every non-test Go file of the module.
func sourceFiles(t *testing.T) map[string]*ast.File {
	t.Helper()
	files := parseModule(t, token.NewFileSet(), false, parser.ParseComments)
	require.NotEmpty(t, files)
	return files
}

// parseModule parses the module's Go files, test files too when tests is set, skipping hidden
// directories, testdata and bin.
func parseModule(t *testing.T, fset *token.FileSet, tests bool, mode parser.Mode) map[string]*ast.File {
	t.Helper()
	files := map[string]*ast.File{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || !tests && strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, mode)
		if err != nil {
			return err
		}
		files[path] = f
		return nil
	})
	require.NoError(t, err)
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

// typedConsts parses the non-test files of dir and returns, for every string type declared
// there, the values of its constants (type name → values), as the source spells them.
func typedConsts(t *testing.T, dir string) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	stringTypes := map[string]bool{}
	var specs []*ast.GenDecl
	entries, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	for _, path := range entries {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			switch gen.Tok {
			case token.TYPE:
				for _, spec := range gen.Specs {
					ts := spec.(*ast.TypeSpec)
					if id, ok := ts.Type.(*ast.Ident); ok && id.Name == "string" {
						stringTypes[ts.Name.Name] = true
					}
				}
			case token.CONST:
				specs = append(specs, gen)
			}
		}
	}
	out := map[string][]string{}
	for _, gen := range specs {
		typ := ""
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			if vs.Type != nil {
				typ = ""
				if id, ok := vs.Type.(*ast.Ident); ok {
					typ = id.Name
				}
			} else if len(vs.Values) > 0 {
				typ = "" // an untyped constant
			}
			if !stringTypes[typ] {
				continue
			}
			for _, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				require.True(t, ok && lit.Kind == token.STRING, "%s: a %s constant that is not a string literal", fset.Position(v.Pos()), typ)
				word, err := strconv.Unquote(lit.Value)
				require.NoError(t, err)
				out[typ] = append(out[typ], word)
			}
		}
	}
	return out
}

// lifeWord is a word of a tenant's life: who may spell it, and whether it is a state (the
// words maps are keyed by).
type lifeWord struct {
	owner string
	state bool
}

// lifeTypes are internal/tenants' string types, each a word list of a tenant's life or not
// (and why not). Every string type of the package must be here, so a new one is decided on.
func lifeTypes() map[string]string {
	return map[string]string{
		"State": "", "Desired": "", "KeysetState": "", "Action": "", "Outcome": "",
		"Verb":         "not words of a life: disable, enable, retry, check are also URL segments, libpq's sslmode=disable, PubNub's update permission",
		"DriftKind":    "shared with other vocabularies: access_manager_off is also a token problem code",
		"CheckRequest": "operator and sweep are who asked, not what happened",
	}
}

// lifeWords is every word of a tenant's life, each mapped to the one package that may spell
// it: the values of internal/tenants' constants of the lifeTypes (read from the source, so a
// new constant such as KeysetRetired is covered the day it is written), and the webhook
// event types, which internal/webhooks owns.
func lifeWords(t *testing.T) map[string]lifeWord {
	t.Helper()
	tenantsDir, webhooksDir := filepath.Join("internal", "tenants"), filepath.Join("internal", "webhooks")
	words := map[string]lifeWord{}
	consts := typedConsts(t, tenantsDir)
	types := lifeTypes()
	for typ, values := range consts {
		why, ok := types[typ]
		require.True(t, ok, "internal/tenants declares the string type %s: add it to lifeTypes (a word list, or why not)", typ)
		if why != "" {
			continue
		}
		for _, w := range values {
			state := typ == "State" || typ == "Desired" || typ == "KeysetState"
			words[w] = lifeWord{owner: tenantsDir, state: state || words[w].state}
		}
	}
	for typ := range types {
		require.Contains(t, consts, typ, "lifeTypes names %s, which internal/tenants no longer declares", typ)
	}
	for _, w := range webhooks.EventTypes() {
		words[w] = lifeWord{owner: webhooksDir}
	}
	return words
}

// TestTenantsListsAreComplete: each list of internal/tenants holds every constant of its type,
// so what iterates the list (the API's enums, metrics, this guard's vocabulary) misses none.
func TestTenantsListsAreComplete(t *testing.T) {
	t.Parallel()
	consts := typedConsts(t, filepath.Join("internal", "tenants"))
	lists := map[string][]string{
		"State": strs(tenants.AllStates()), "KeysetState": strs(tenants.KeysetStates()),
		"DriftKind": strs(tenants.DriftKinds()), "Action": strs(tenants.Actions()), "Outcome": strs(tenants.Outcomes()),
	}
	for typ, list := range lists {
		want := slices.Clone(consts[typ])
		require.NotEmpty(t, want, typ)
		sort.Strings(want)
		got := slices.Clone(list)
		sort.Strings(got)
		require.Equal(t, want, got, "the list of %s is not every %s constant", typ, typ)
	}
	require.Equal(t, consts["State"], strs(tenants.AllStates()), "AllStates is in declaration (lifecycle) order")
}

func strs[S ~string](xs []S) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// allGoFiles parses every Go file of the module, tests included.
func allGoFiles(t *testing.T, fset *token.FileSet) map[string]*ast.File {
	t.Helper()
	return parseModule(t, fset, true, 0)
}

// ownWords is, per directory, the values of the constants its files declare with a type of
// their own, or string (webhooks' DeliveryFailed DeliveryStatus = "failed", usage's
// CallFailed string = "failed"): in that package such a word is its own, not a tenant's.
// A constant of a tenants type (tenants.State) is never another package's own, nor is a var.
func ownWords(files map[string]*ast.File) map[string]map[string]bool {
	own := map[string]map[string]bool{}
	for path, f := range files {
		dir := filepath.Dir(path)
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				if _, ok := vs.Type.(*ast.Ident); !ok {
					continue
				}
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if w, err := strconv.Unquote(lit.Value); err == nil {
							if own[dir] == nil {
								own[dir] = map[string]bool{}
							}
							own[dir][w] = true
						}
					}
				}
			}
		}
	}
	return own
}

// lifeChecker finds the words of a tenant's life and SQL on the tenants tables in one file.
type lifeChecker struct {
	words map[string]lifeWord
	inner *regexp.Regexp   // a word as a value inside a longer string
	sql   []*regexp.Regexp // SQL naming a tenants table
}

func newLifeChecker(words map[string]lifeWord) *lifeChecker {
	alts := make([]string, 0, len(words))
	for w := range words {
		alts = append(alts, regexp.QuoteMeta(w))
	}
	sort.Slice(alts, func(i, j int) bool { return len(alts[i]) > len(alts[j]) })
	// A value inside a longer string: quoted ("active", 'active', `active`), or after = with
	// no space (state=active, ?state=active). Prose (the tenant is active) is neither.
	alt := strings.Join(alts, "|")
	// SQL names a table after a keyword that takes one (schema-qualified, quoted or not), or
	// later in a comma-separated FROM list.
	table := `(?:"?public"?\s*\.\s*)?"?(?:tenants|tenant_keysets|tenant_events)"?\b`
	sql := []*regexp.Regexp{
		regexp.MustCompile(`(?is)\b(?:from|join|update|into|table|truncate|using|references|copy|lock)\s+` +
			`(?:only\s+|if\s+(?:not\s+)?exists\s+)*` + table),
		regexp.MustCompile(`(?is)\bfrom\s+(?:[\w."]+(?:\s+(?:as\s+)?\w+)?\s*,\s*)+` + table),
	}
	return &lifeChecker{words: words, inner: regexp.MustCompile(`(["'` + "`" + `]|\w=)(` + alt + `)([^\w.-]|$)`), sql: sql}
}

// sqlOnTenantsTables reports whether s is SQL naming one of the tenants tables.
func (c *lifeChecker) sqlOnTenantsTables(s string) bool {
	return slices.ContainsFunc(c.sql, func(re *regexp.Regexp) bool { return re.MatchString(s) })
}

// check returns the findings in f (at path); own are the words f's package declares itself.
func (c *lifeChecker) check(fset *token.FileSet, path string, f *ast.File, own map[string]bool) []string {
	var found []string
	report := func(n ast.Node, format string, args ...any) {
		found = append(found, fmt.Sprintf("%s: ", fset.Position(n.Pos()))+fmt.Sprintf(format, args...))
	}
	owner := func(w string) bool { return strings.HasPrefix(path, c.words[w].owner+string(filepath.Separator)) }
	mine := func(w string) bool { return own[w] || owner(w) }
	// Keys are JSON member names, label names, field names ("enabled", "failed" as a count)
	// unless they are states: maps are keyed by state (counts by state), and an untyped
	// "failed" converts to a tenants.State key silently. The keys of a literal whose type says
	// map[string]... are member or label names.
	tags, keys, stringKeyed := map[ast.Node]bool{}, map[ast.Node]bool{}, map[ast.Node]bool{}
	stateKey := regexp.MustCompile(`(?i)\bstate"?\s*[:=]\s*["'` + "`" + `]?$`)
	inChain := map[ast.Node]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Field:
			if n.Tag != nil {
				tags[n.Tag] = true // struct tags name JSON members, not states
			}
		case *ast.CompositeLit:
			var keyType *ast.Ident
			if mt, ok := n.Type.(*ast.MapType); ok {
				keyType, _ = mt.Key.(*ast.Ident)
			}
			for _, e := range n.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok {
					keys[kv.Key] = true
					stringKeyed[kv.Key] = keyType != nil && keyType.Name == "string"
				}
			}
		case *ast.IndexExpr:
			keys[n.Index] = true
		case *ast.BinaryExpr:
			if n.Op != token.ADD || inChain[n] {
				return true
			}
			// A concatenation of strings: the SQL rule reads it whole.
			text, parts := foldStrings(n)
			partMatches := false
			for _, p := range parts {
				inChain[p] = true
				if lit, ok := p.(*ast.BasicLit); ok {
					v, _ := strconv.Unquote(lit.Value)
					partMatches = partMatches || c.sqlOnTenantsTables(v) // reported as itself
				}
			}
			if len(parts) > 1 && !partMatches && c.sqlOnTenantsTables(text) && !strings.HasPrefix(path, filepath.Join("internal", "tenants")+string(filepath.Separator)) {
				report(n, "SQL on the tenants tables outside internal/tenants (concatenated): %.80q", text)
			}
		case *ast.BasicLit:
			if n.Kind != token.STRING || tags[n] {
				return true
			}
			v, err := strconv.Unquote(n.Value)
			if err != nil {
				return true
			}
			if word, ok := c.words[v]; ok {
				if !mine(v) && !stringKeyed[n] && (!keys[n] || word.state) {
					report(n, "the string %q is a word of a tenant's life: use the %s constant", v, word.owner)
				}
			} else {
				seen := map[string]bool{}
				for _, ix := range c.inner.FindAllStringSubmatchIndex(v, -1) {
					m := make([]string, 4)
					for g := range m {
						if ix[2*g] >= 0 {
							m[g] = v[ix[2*g]:ix[2*g+1]]
						}
					}
					w := m[2]
					// After a state key (state="failed", "state":"failed"), a word is a
					// tenant's even where the package has its own word alike.
					stateValue := stateKey.MatchString(v[:ix[4]])
					if seen[w] {
						continue
					}
					quote := m[1]
					if len(quote) == 1 && !(m[3] == quote && !followedByColon(v, m)) {
						continue // not the same quote after, or a JSON member name ("enabled":)
					}
					seen[w] = true
					if !mine(w) || !owner(w) && stateValue && c.words[w].state {
						report(n, "%q holds the word %q of a tenant's life as a value: build it from the %s constant", v, w, c.words[w].owner)
					}
				}
			}
			if c.sqlOnTenantsTables(v) && !strings.HasPrefix(path, filepath.Join("internal", "tenants")+string(filepath.Separator)) {
				report(n, "SQL on the tenants tables outside internal/tenants: %.80q", v)
			}
		}
		return true
	})
	return found
}

// followedByColon reports whether the match m in s is a quoted member name ("x": or "x" :).
func followedByColon(s string, m []string) bool {
	i := strings.Index(s, m[0]) + len(m[0])
	return strings.HasPrefix(strings.TrimLeft(s[i:], " "), ":")
}

// foldStrings evaluates a + chain of string literals and constants declared in the same file;
// what it cannot evaluate reads as "?". parts are the chain's nodes.
func foldStrings(e ast.Expr) (string, []ast.Node) {
	switch e := e.(type) {
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "?", nil
		}
		l, lp := foldStrings(e.X)
		r, rp := foldStrings(e.Y)
		return l + r, append(append([]ast.Node{e}, lp...), rp...)
	case *ast.ParenExpr:
		return foldStrings(e.X)
	case *ast.BasicLit:
		if v, err := strconv.Unquote(e.Value); err == nil && e.Kind == token.STRING {
			return v, []ast.Node{e}
		}
	case *ast.Ident:
		if e.Obj != nil && e.Obj.Kind == ast.Con {
			if vs, ok := e.Obj.Decl.(*ast.ValueSpec); ok {
				for i, name := range vs.Names {
					if name.Name == e.Name && i < len(vs.Values) {
						v, _ := foldStrings(vs.Values[i])
						return v, []ast.Node{e}
					}
				}
			}
		}
	}
	return "?", []ast.Node{e}
}

// TestTenantLifeIsSpelledOnlyInTenants: outside internal/tenants, no Go code (tests included)
// spells a tenant state, keyset state, desired state, drift kind, verb, timeline action or
// outcome as a string, whether the string is the word (also as a typed var or const, a map
// key or an index) or holds it as a value (`state="active"`, `"state":"active"`,
// `?state=active`, SQL's 'active'); no webhook event type is spelled outside
// internal/webhooks; and no SQL names the tenants tables (schema-qualified, in a comma join,
// or concatenated): the lifecycle has one owner. The sandbox models PubNub's own vocabulary
// and is left out; struct tags, a package's own typed constants, and prose are not words of a
// tenant's life.
func TestTenantLifeIsSpelledOnlyInTenants(t *testing.T) {
	t.Parallel()
	c := newLifeChecker(lifeWords(t))
	fset := token.NewFileSet()
	files := allGoFiles(t, fset)
	own := ownWords(files)
	for path, f := range files {
		if strings.HasPrefix(path, filepath.Join("internal", "pubnub", "sandbox")+string(filepath.Separator)) {
			continue
		}
		for _, msg := range c.check(fset, path, f, own[filepath.Dir(path)]) {
			t.Error(msg)
		}
	}
}

// errorChecker finds errors classified by their text, and errors compared with == or !=
// where errors.Is belongs.
type errorChecker struct{}

// textFindings: strings (or bytes, or a regexp) searching an error's text, directly
// (strings.Contains(err.Error(), ...)) or through a variable (msg := err.Error()), and ==, !=
// and switch on that text.
func (errorChecker) textFindings(fset *token.FileSet, f *ast.File) []string {
	var found []string
	report := func(n ast.Node, format string, args ...any) {
		found = append(found, fmt.Sprintf("%s: ", fset.Position(n.Pos()))+fmt.Sprintf(format, args...))
	}
	// The guard parses without type information, so the parser's own identifier resolution
	// (ast.Object) is what it has: good enough for variables assigned in the same file.
	//lint:ignore SA1019 syntactic resolution is all a type-less guard has
	texts := map[*ast.Object]bool{} // variables holding an error's text
	isErrorCall := func(e ast.Expr) bool {
		call, ok := e.(*ast.CallExpr)
		if !ok || len(call.Args) != 0 {
			return false
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		return ok && sel.Sel.Name == "Error"
	}
	isText := func(e ast.Expr) bool {
		if isErrorCall(e) {
			return true
		}
		id, ok := e.(*ast.Ident)
		return ok && id.Obj != nil && texts[id.Obj]
	}
	// First the variables, wherever they are assigned.
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if len(n.Lhs) == len(n.Rhs) {
				for i, r := range n.Rhs {
					if id, ok := n.Lhs[i].(*ast.Ident); ok && id.Obj != nil && isErrorCall(r) {
						texts[id.Obj] = true
					}
				}
			}
		case *ast.ValueSpec:
			for i, v := range n.Values {
				if i < len(n.Names) && n.Names[i].Obj != nil && isErrorCall(v) {
					texts[n.Names[i].Obj] = true
				}
			}
		}
		return true
	})
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			// The predicates: what answers "is it this error?". Functions that cut or trim the
			// text for display (Cut, LastIndex, TrimPrefix) are formatting, not classifying.
			pkg, _ := sel.X.(*ast.Ident)
			name := sel.Sel.Name
			predicate := strings.HasPrefix(name, "Contains") || name == "HasPrefix" || name == "HasSuffix" ||
				name == "EqualFold" || name == "Count"
			search := pkg != nil && (pkg.Name == "strings" || pkg.Name == "bytes") && predicate ||
				strings.HasPrefix(name, "Match")
			if !search {
				return true
			}
			for _, arg := range n.Args {
				if isText(arg) {
					report(n, "%s on an error's text; classify errors by type", sel.Sel.Name)
				}
			}
		case *ast.BinaryExpr:
			if (n.Op == token.EQL || n.Op == token.NEQ) && (isText(n.X) || isText(n.Y)) && !isNil(n.X) && !isNil(n.Y) {
				report(n, "an error's text compared with %s; classify errors by type", n.Op)
			}
		case *ast.SwitchStmt:
			if n.Tag != nil && isText(n.Tag) {
				report(n, "switch on an error's text; classify errors by type")
			}
		}
		return true
	})
	return found
}

// sentinelFindings: == and != (and switch cases) against a sentinel error (io.EOF, pgx.ErrNoRows,
// ErrNotFound, context.Canceled, ...): a wrapped error would not match; errors.Is does. Two
// comparisons are identity by nature and allowed: inside an Is(target error) bool method (the
// implementation of errors.Is), and of a value recover() returned (a panic value such as
// http.ErrAbortHandler is re-panicked as is, never wrapped).
func (errorChecker) sentinelFindings(fset *token.FileSet, f *ast.File) []string {
	var found []string
	//lint:ignore SA1019 syntactic resolution is all a type-less guard has (see textFindings)
	recovered := map[*ast.Object]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
			for i, r := range as.Rhs {
				if call, ok := r.(*ast.CallExpr); ok {
					if fn, ok := call.Fun.(*ast.Ident); ok && fn.Name == "recover" {
						if id, ok := as.Lhs[i].(*ast.Ident); ok && id.Obj != nil {
							recovered[id.Obj] = true
						}
					}
				}
			}
		}
		return true
	})
	isRecovered := func(e ast.Expr) bool {
		id, ok := e.(*ast.Ident)
		return ok && id.Obj != nil && recovered[id.Obj]
	}
	for _, decl := range f.Decls {
		if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv != nil && fn.Name.Name == "Is" {
			continue
		}
		ast.Inspect(decl, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BinaryExpr:
				if n.Op != token.EQL && n.Op != token.NEQ {
					return true
				}
				for _, pair := range [][2]ast.Expr{{n.X, n.Y}, {n.Y, n.X}} {
					if name := sentinelName(pair[0]); name != "" && !isNil(pair[1]) && !isRecovered(pair[1]) {
						found = append(found, fmt.Sprintf("%s: compared with %s %s; use errors.Is", fset.Position(n.Pos()), n.Op, name))
						break
					}
				}
			case *ast.SwitchStmt:
				if n.Tag == nil || isRecovered(n.Tag) {
					return true
				}
				for _, stmt := range n.Body.List {
					for _, e := range stmt.(*ast.CaseClause).List {
						if name := sentinelName(e); name != "" {
							found = append(found, fmt.Sprintf("%s: switch case %s compares with ==; use errors.Is", fset.Position(e.Pos()), name))
						}
					}
				}
			}
			return true
		})
	}
	return found
}

// sentinelName is the name of a sentinel error e refers to (ErrX, errX, pkg.ErrX, io.EOF,
// context.Canceled, context.DeadlineExceeded), or "".
func sentinelName(e ast.Expr) string {
	looksSentinel := regexp.MustCompile(`^(Err|err)[A-Z0-9]`)
	switch e := e.(type) {
	case *ast.Ident:
		if looksSentinel.MatchString(e.Name) {
			return e.Name
		}
	case *ast.SelectorExpr:
		pkg, ok := e.X.(*ast.Ident)
		if !ok {
			return ""
		}
		name := pkg.Name + "." + e.Sel.Name
		if strings.HasPrefix(e.Sel.Name, "Err") || name == "io.EOF" || name == "context.Canceled" || name == "context.DeadlineExceeded" {
			return name
		}
	}
	return ""
}

func isNil(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "nil"
}

// TestNoErrorClassificationByText: errors are classified by type (errors.Is/As, a method),
// never by searching their text (production code; tests may assert on messages).
func TestNoErrorClassificationByText(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	for path, f := range allGoFiles(t, fset) {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		for _, msg := range (errorChecker{}).textFindings(fset, f) {
			t.Error(msg)
		}
	}
}

// TestSentinelErrorsAreMatchedWithErrorsIs: nowhere (tests included) is an error compared with
// a sentinel by == or !=.
func TestSentinelErrorsAreMatchedWithErrorsIs(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	for _, f := range allGoFiles(t, fset) {
		for _, msg := range (errorChecker{}).sentinelFindings(fset, f) {
			t.Error(msg)
		}
	}
}

// TestGuardsCatchPlantedViolations: each rule above fires on a violation of it (the holes an
// audit found once, so they stay closed), and stays quiet on the allowed forms beside them.
func TestGuardsCatchPlantedViolations(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join("testdata", "planted.go.txt"))
	require.NoError(t, err)
	planted := string(src)
	fset := token.NewFileSet()
	path := filepath.Join("internal", "planted", "planted.go")
	f, err := parser.ParseFile(fset, path, planted, 0)
	require.NoError(t, err)
	var found []string
	// The planted package has its own word "disabled", as webhooks has "failed".
	found = append(found, newLifeChecker(lifeWords(t)).check(fset, path, f, map[string]bool{"disabled": true})...)
	found = append(found, (errorChecker{}).textFindings(fset, f)...)
	found = append(found, (errorChecker{}).sentinelFindings(fset, f)...)

	lines := strings.Split(planted, "\n")
	byLine := map[int][]string{}
	for _, msg := range found {
		// planted.go:LINE:COL: message
		rest := strings.TrimPrefix(msg, path+":")
		n, err := strconv.Atoi(rest[:strings.Index(rest, ":")])
		require.NoError(t, err, msg)
		byLine[n] = append(byLine[n], msg)
	}
	marker := regexp.MustCompile(`// (V[0-9]+)$`)
	for i, line := range lines {
		want := ""
		if m := marker.FindStringSubmatch(line); m != nil {
			want = m[1]
		}
		got := byLine[i+1]
		if want != "" {
			require.NotEmpty(t, got, "planted violation %s on line %d was not reported: %s", want, i+1, line)
		} else {
			require.Empty(t, got, "line %d is allowed: %s", i+1, line)
		}
	}
}
