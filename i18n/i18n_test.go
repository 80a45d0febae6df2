package i18n

import (
	"context"
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
)

// Every language has every message of the source language, and no message the source lacks.
func TestCatalogsComplete(t *testing.T) {
	ids := func(tag string) map[string]bool {
		out := map[string]bool{}
		files, _ := fs.Glob(locales, "locales/"+tag+"/*.toml")
		for _, f := range files {
			b, _ := locales.ReadFile(f)
			var m map[string]any
			if err := toml.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for id := range m {
				if out[id] {
					t.Errorf("%s: %s is defined twice in %s", f, id, path.Dir(f))
				}
				out[id] = true
			}
		}
		return out
	}
	src := ids(Languages[0].Tag)
	for _, l := range Languages[1:] {
		got := ids(l.Tag)
		for id := range src {
			if !got[id] {
				t.Errorf("%s lacks %s", l.Tag, id)
			}
		}
		for id := range got {
			if !src[id] {
				t.Errorf("%s has %s, which %s does not", l.Tag, id, Languages[0].Tag)
			}
		}
	}
}

func TestLocalize(t *testing.T) {
	if got := For("he").T("nav.map"); got != "מפה" {
		t.Fatalf("he: %q", got)
	}
	if got := T(context.Background(), "nav.map"); got != "Map" {
		t.Fatalf("default: %q", got)
	}
	if got := For("xx").T("nav.map"); got != "Map" {
		t.Fatalf("unknown language: %q", got)
	}
	if Match("he-IL,he;q=0.9,en;q=0.5").Tag != "he" || Match("fr,de").Tag != "en" || Match("").Tag != "en" {
		t.Fatal("Accept-Language matching")
	}
	if _, ok := ByTag("en-XA"); ok {
		t.Fatal("the pseudo-locale is not one of the offered languages")
	}
	if got := For("en-XA").T("nav.map"); !strings.HasPrefix(got, "[Ṁàþ") || len([]rune(got)) < len("Map")*14/10 {
		t.Fatalf("pseudo: %q", got)
	}
}

// A message with plural forms has, in each language, every form that language's CLDR rules
// (go-i18n's) pick for a count (Hebrew: one, two and other), so no count shows a message id.
func TestPluralFormsComplete(t *testing.T) {
	for _, l := range Languages {
		for id, m := range rawMessages[l.Tag] {
			if m.One == "" && m.Two == "" && m.Few == "" && m.Many == "" && m.Zero == "" {
				continue // no plural forms: one text for every count
			}
			for n := 0; n <= 1000; n++ {
				if _, err := For(l.Tag).loc.Localize(&goi18n.LocalizeConfig{MessageID: id, PluralCount: n, TemplateData: map[string]any{"Count": n}}); err != nil {
					t.Errorf("%s: %s with count %d: %v", l.Tag, id, n, err)
					break
				}
			}
		}
	}
}
