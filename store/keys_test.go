package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func repoFile(t *testing.T, parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), ".."}, parts...)...)
}

// docFamilies are the key patterns in the first column of docs/redis.md's key tables.
func docFamilies(t *testing.T) []string {
	b, err := os.ReadFile(repoFile(t, "docs", "redis.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]*:[^`]*)` \\|")
	var out []string
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

// docs/redis.md lists every key family the code builds, and nothing the code no longer builds.
func TestKeysDocumented(t *testing.T) {
	docs := docFamilies(t)
	for _, k := range keyFamilies {
		if !slices.Contains(docs, k) {
			t.Errorf("key family %q is not in docs/redis.md", k)
		}
	}
	for _, k := range docs {
		if !slices.Contains(keyFamilies, k) {
			t.Errorf("docs/redis.md lists %q, which the code does not build (store/keys.go keyFamilies)", k)
		}
	}
}

// Key names are built in keys.go only: no other file of the store writes a key literal, and every
// builder in keys.go is listed in keyFamilies.
func TestKeysInOnePlace(t *testing.T) {
	files, _ := filepath.Glob(repoFile(t, "store", "*.go"))
	literal := regexp.MustCompile(`"(hw|cache|events):`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || filepath.Base(f) == "keys.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if literal.MatchString(line) {
				t.Errorf("%s:%d builds a key outside keys.go: %s", filepath.Base(f), i+1, strings.TrimSpace(line))
			}
		}
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, repoFile(t, "store", "keys.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	var builders []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if strings.HasSuffix(n.Name.Name, "Key") {
				builders = append(builders, n.Name.Name)
			}
		case *ast.ValueSpec:
			if len(n.Names) == 1 && n.Names[0].Name == "keyFamilies" {
				ast.Inspect(n, func(m ast.Node) bool {
					if id, ok := m.(*ast.Ident); ok {
						listed[id.Name] = true
					}
					return true
				})
			}
		}
		return true
	})
	for _, b := range builders {
		if !listed[b] {
			t.Errorf("keys.go builds %s, which keyFamilies does not list", b)
		}
	}
}
