package i18n_test

import (
	"fmt"
	"html"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/a-h/templ/parser/v2"
	"github.com/a-h/templ/parser/v2/visitor"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/store"
)

// The catalogs and the sources agree: every message is used somewhere, every message id the
// sources name exists, and no template writes English for people outside the catalogs.

var root = filepath.Join("..")

// sourceFiles are the files that may name message ids: Go (not tests, not generated templ
// code), templ, the mail templates and the browser's scripts.
func sourceFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", ".git", "vendor", "dist", "e2e", "var", "locales":
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		switch {
		case strings.HasSuffix(name, "_test.go"), strings.HasSuffix(name, "_templ.go"):
		case strings.HasSuffix(name, ".go"), strings.HasSuffix(name, ".templ"), strings.HasSuffix(name, ".js"):
			out = append(out, path)
		case strings.Contains(path, filepath.Join("mail", "templates")):
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// literal is a quoted string that looks like a message id ("area.key", "area.key.").
var literal = regexp.MustCompile(`["'` + "`" + `]([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+\.?)["'` + "`" + `]`)

// computed are the ids built in code rather than written out: each hazard type's, severity's
// and status's words (package hazard), the bodies' words for them (what a body handles, its
// mail) and each role's name.
func computed() []string {
	var ids []string
	for _, t := range hazard.Types {
		ids = append(ids, "hazard.type."+t.Code, "hazard.type."+t.Code+".help", "bodies.types."+t.Code)
	}
	for _, s := range hazard.Severities {
		ids = append(ids, "hazard.severity."+s.Code, "hazard.severity."+s.Code+".help", "hazard.severity."+s.Code+".words",
			"bodies.severity."+s.Code)
	}
	for _, s := range hazard.Statuses {
		ids = append(ids, "hazard.status."+string(s), "hazard.status."+string(s)+".inline")
	}
	for _, r := range store.Roles {
		ids = append(ids, "account.role."+string(r))
	}
	return ids
}

func TestEveryMessageIsUsed(t *testing.T) {
	named := map[string]bool{}
	for _, f := range sourceFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			named[m[1]] = true
		}
	}
	for _, id := range computed() {
		named[id] = true
	}
	for _, id := range i18n.Messages {
		if !named[id] {
			t.Errorf("message %s is in the catalogs but no source names it: remove it (or list it in computed if code builds its id)", id)
		}
	}
}

func TestEveryNamedMessageExists(t *testing.T) {
	known := map[string]bool{}
	areas := map[string]bool{}
	for _, id := range i18n.Messages {
		known[id] = true
		areas[strings.SplitN(id, ".", 2)[0]] = true
	}
	for _, id := range computed() {
		if !known[id] {
			t.Errorf("code builds message id %s, which the catalogs lack", id)
		}
	}
	for _, f := range sourceFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			id := m[1]
			if strings.HasSuffix(id, ".") || !areas[strings.SplitN(id, ".", 2)[0]] || notMessages[id] {
				continue // a prefix completed in code, or not a message id at all
			}
			if !known[id] {
				t.Errorf("%s names message %s, which the catalogs lack", f, id)
			}
		}
	}
}

// notMessages look like message ids but are not: event kinds and the like that share an area
// name with the catalogs.
var notMessages = map[string]bool{}

// templAllowlist are templ files not yet on the catalogs (none now; a file rebuilt in stages
// may be named here until it lands translated).
var templAllowlist []string

// names people read the same in every language.
var properNames = []string{"GeoNames", "CC BY 4.0", "CSV", "GeoJSON"}

var (
	word      = regexp.MustCompile(`[A-Za-z]{2,}`)
	readAttrs = []string{"placeholder", "aria-label", "title", "alt", "label", "aria-description", "aria-placeholder", "aria-roledescription", "aria-valuetext"}
)

// TestNoEnglishInTemplates fails on text nodes and on the attributes people read (placeholder,
// aria-label, title, alt) written in a templ file instead of coming from the catalogs.
func TestNoEnglishInTemplates(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(root, "views", "*.templ"))
	if len(files) == 0 {
		t.Fatal("no templ files found")
	}
	for _, f := range files {
		if slices.Contains(templAllowlist, filepath.Base(f)) {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		problems, err := englishIn(string(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, problem := range problems {
			t.Errorf("%s: %s", filepath.Base(f), problem)
		}
	}
}

// englishIn lists the English a templ source writes for people, found with templ's own parser:
// text nodes and constant values of the attributes people read. Go expressions, component calls
// and the contents of script and style elements are not looked at.
func englishIn(src string) ([]string, error) {
	tf, err := parser.ParseString(src)
	if err != nil {
		return nil, err
	}
	var out []string
	v := visitor.New()
	v.Text = func(n *parser.Text) error {
		text := strings.TrimSpace(html.UnescapeString(n.Value))
		if text != "" && !slices.Contains(properNames, text) && word.MatchString(text) {
			out = append(out, fmt.Sprintf("line %d: text %s", n.Range.From.Line+1, text))
		}
		return nil
	}
	v.ConstantAttribute = func(n *parser.ConstantAttribute) error {
		if slices.Contains(readAttrs, n.Key.String()) && word.MatchString(n.Value) {
			out = append(out, fmt.Sprintf("line %d: attribute %s=%s", n.Range.From.Line+1, n.Key, n.Value))
		}
		return nil
	}
	if err := tf.Visit(v); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// The scan itself: English in markup and in the read attributes is found, also when a tag spans
// lines; expressions, calls, statements and other attributes are not markup people read.
func TestEnglishInFindsLiterals(t *testing.T) {
	src := "package views\n\ntempl X(p Page) {\n\t<p>Hello { p.Name }</p>\n\t<input\n\t\tclass=\"input mt-2\"\n\t\tplaceholder=\"Your name\"\n\t\taria-label={ i18n.T(ctx, \"x.y\") }\n\t/>\n" +
		"\tif p.User != nil {\n\t\t@Layout(p)\n\t}\n\t<p>{ i18n.T(ctx, \"a.b\") } &middot; 42</p>\n\t<img alt=\"\"/>\n\t<span title=\"Close\">\n\t\tSee more\n\t</span>\n}\n"
	got, err := englishIn(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"line 15: attribute title=Close", "line 16: text See more", "line 4: text Hello", "line 7: attribute placeholder=Your name"}
	if !slices.Equal(got, want) {
		t.Fatalf("englishIn = %q, want %q", got, want)
	}
}

// physical are Tailwind classes for a fixed side, which do not mirror in right-to-left pages:
// margins, paddings, insets, borders, corners, text alignment, floats and horizontal spacing.
// The logical ones (ms-, me-, ps-, pe-, start-, end-, border-s, rounded-s, text-start) do.
var physical = regexp.MustCompile(`(?:^|[\s"'` + "`" + `:])(-?(?:m[lr]|p[lr]|left|right|border-[lr]|rounded-(?:[lr]|[tb][lr])|scroll-[mp][lr]|space-x|divide-x)-[\w./\[\]]+|text-(?:left|right)|float-(?:left|right)|clear-(?:left|right))(?:$|[\s"'` + "`" + `;])`)

// TestLogicalProperties fails on a Tailwind class for a fixed side in the templates, the Go
// code that picks class names, the scripts and the stylesheet's @apply rules.
func TestLogicalProperties(t *testing.T) {
	var files []string
	for _, g := range []string{"views/*.templ", "views/*.go", "handlers/*.go", "static/js/*.js", "static/src/*.css"} {
		m, _ := filepath.Glob(filepath.Join(root, g))
		files = append(files, m...)
	}
	for _, f := range files {
		name := filepath.Base(f)
		if slices.Contains(templAllowlist, name) || strings.HasSuffix(name, "_templ.go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(b), "\n") {
			if m := physical.FindStringSubmatch(line); m != nil && !strings.HasPrefix(strings.TrimSpace(line), "//") && !strings.HasPrefix(strings.TrimSpace(line), "/*") {
				t.Errorf("%s:%d: %s is for a fixed side; use its logical form (ms-/me-/ps-/pe-/start-/end-/text-start)", name, n+1, m[1])
			}
		}
	}
}

func TestPhysicalClassesFound(t *testing.T) {
	for _, s := range []string{`class="ml-2 x"`, `class="a text-right"`, `"pl-4"`, `@apply mr-1;`, `class="-left-3"`, `class="rounded-tl-md"`, `class="space-x-2"`} {
		if !physical.MatchString(s) {
			t.Errorf("%s not found", s)
		}
	}
	for _, s := range []string{`class="ms-2 pe-4 text-start"`, `var start = rtl ? "right" : "left"`, `right: auto; left: 0;`, `class="html-left"`, `aria-label="x"`} {
		if physical.MatchString(s) {
			t.Errorf("%s found", s)
		}
	}
}
