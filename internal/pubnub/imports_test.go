package pubnub_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportsOnlyStandardLibrary proves that the non-test code of the client
// and the sandbox imports nothing of this module (nor anything outside the
// standard library): the client must stay a leaf, and the sandbox an
// independent model of the API rather than a mirror of the client.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	t.Parallel()

	for _, dir := range []string{".", "sandbox"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			files, err := filepath.Glob(filepath.Join(dir, "*.go"))
			require.NoError(t, err)
			checked := 0
			for _, file := range files {
				if strings.HasSuffix(file, "_test.go") {
					continue
				}
				src, err := os.ReadFile(file)
				require.NoError(t, err)
				f, err := parser.ParseFile(token.NewFileSet(), file, src, parser.ImportsOnly)
				require.NoError(t, err)
				for _, imp := range f.Imports {
					path, err := strconv.Unquote(imp.Path.Value)
					require.NoError(t, err)
					first, _, _ := strings.Cut(path, "/")
					require.NotContains(t, first, ".", "%s imports %s, which is not in the standard library", file, path)
				}
				checked++
			}
			require.NotZero(t, checked)
		})
	}
}
