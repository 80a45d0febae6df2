// Package views holds the templ components. Each page takes a view model shaped like the screen;
// templates never call the store.
package views

import (
	"context"
	"encoding/json"

	"hazardwatch/i18n"
	"strconv"

	"github.com/a-h/templ"
)

// Page is what the base layout needs on every page.
type Page struct {
	Lang      i18n.Lang  // the page's language (html lang and dir)
	Langs     []LangLink // this page in every language, for the switcher
	Title     string
	Path      string // request path, to mark the current navigation item
	CSRFToken string
	Flashes   []Flash
	Nav       []NavItem
	User      *CurrentUser // nil when signed out
	Styles    []string     // extra embedded stylesheets, by static name
	Scripts   []string     // extra embedded scripts (deferred), by static name
}

// LangLink is this page in one language.
type LangLink struct {
	Lang i18n.Lang
	Href string
}

// CurrentUser is the signed-in user as the header shows them.
type CurrentUser struct {
	Name string
	Role string
}

// Flash is a one-time message shown above the content.
type Flash struct {
	Kind    string // "info", "success" or "error"
	Message string
}

// NavItem is one entry of the header navigation.
type NavItem struct {
	Label string // a catalog id
	Href  string
}

// htmxConfig switches off what a strict CSP forbids (inline indicator styles, eval) and makes htmx
// swap 422 answers (forms re-rendered with their errors) and error fragments, which the server
// always retargets to the flash area.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,` +
	`"historyCacheSize":0,"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},` +
	`{"code":"422","swap":true},{"code":"[45]..","swap":true,"error":true}]}`

// hxHeaders is the hx-headers value that makes every htmx request carry the CSRF token.
func hxHeaders(token string) string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": token})
	return string(b)
}

func flashClass(kind string) string {
	switch kind {
	case "error":
		return "flash flash-error"
	case "success":
		return "flash flash-success"
	default:
		return "flash flash-info"
	}
}

func navClass(p Page, href string) string {
	if p.Path == href {
		return "nav-link nav-link-current"
	}
	return "nav-link"
}

func ariaCurrent(p Page, href string) string {
	if p.Path == href {
		return "page"
	}
	return "false"
}

func pageTitle(ctx context.Context, p Page) string {
	if p.Title == "" {
		return i18n.T(ctx, "site.name")
	}
	return i18n.T(ctx, "site.title", map[string]any{"Page": p.Title})
}

func flashRole(kind string) string {
	if kind == "error" {
		return "alert"
	}
	return "status"
}

func inputClass(invalid bool) string {
	if invalid {
		return "input input-invalid"
	}
	return "input"
}

func itoa(n int) string { return strconv.Itoa(n) }

func boolAttr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// ariaFor ties an input to its error (and marks it invalid) or to its hint.
func ariaFor(f Form, fd Field) templ.Attributes {
	switch {
	case f.Err(fd.Name) != "":
		return templ.Attributes{"aria-invalid": "true", "aria-describedby": "f-" + fd.Name + "-error"}
	case fd.Hint != "":
		return templ.Attributes{"aria-describedby": "f-" + fd.Name + "-hint"}
	}
	return nil
}

func langTag(p Page) string { return cmpOr(p.Lang.Tag, "en") }
func langDir(p Page) string { return cmpOr(p.Lang.Dir, "ltr") }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
