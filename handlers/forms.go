package handlers

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/i18n"
	"hazardwatch/password"
	"hazardwatch/store"
	"hazardwatch/views"
)

// form collects submitted values (copied: fasthttp reuses its buffers) and errors by field,
// said in the request's language.
type form struct {
	views.Form
	loc *i18n.Localizer
}

// newForm reads fields, in the order the page shows them (the error summary lists them so).
func newForm(c *fiber.Ctx, fields ...string) *form {
	f := emptyForm(c)
	f.Order = fields
	for _, name := range fields {
		f.Values[name] = strings.Clone(c.FormValue(name))
	}
	return f
}

// emptyForm is a form with nothing submitted yet.
func emptyForm(c *fiber.Ctx) *form {
	return &form{views.Form{Values: map[string]string{}, Errors: map[string]string{}}, i18n.From(c.UserContext())}
}

// fail records m as field's error ("" for the form as a whole), unless it has one already.
func (f *form) fail(field string, m i18n.Msg) {
	if _, ok := f.Errors[field]; !ok {
		f.Errors[field] = f.loc.Msg(m)
	}
}

// failText records text, already in the request's language, as field's error.
func (f *form) failText(field, text string) {
	if _, ok := f.Errors[field]; !ok {
		f.Errors[field] = text
	}
}

func (f *form) ok() bool { return len(f.Errors) == 0 }

// check records m as field's error unless it is the zero Msg.
func (f *form) check(field string, m i18n.Msg) {
	if !m.IsZero() {
		f.fail(field, m)
	}
}

// email checks an address and returns it trimmed.
func (f *form) email(field string) string {
	v := strings.TrimSpace(f.Values[field])
	f.Values[field] = v
	f.check(field, store.EmailProblem(v))
	return v
}

// name checks a display name and returns it with white space folded.
func (f *form) name(field string) string {
	v := store.CleanName(f.Values[field])
	f.Values[field] = v
	f.check(field, store.NameProblem(v))
	return v
}

// newPassword checks a password being set for the account with email and name.
func (f *form) newPassword(field, email, name string) string {
	v := f.Values[field]
	f.check(field, password.Problem(v, email, name))
	return v
}

// bodyValue is a field of the request body (URL-encoded or multipart), never of the query string:
// secrets such as the CSRF token or an API key must not travel in URLs, which end up in logs,
// browser history and Referer headers.
func bodyValue(c *fiber.Ctx, name string) string {
	if form, err := c.MultipartForm(); err == nil {
		if v := form.Value[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return string(c.Request().PostArgs().Peek(name)) // a copy: fasthttp reuses its buffers
}

// localPath accepts only same-site paths for post-sign-in redirects and returns "/" for anything
// else. Browsers drop tabs and newlines from URLs and read a backslash as a slash, so "/\t/evil"
// and "/\\evil" would become "//evil": another origin. Hence: one leading slash, no second
// slash or backslash after it, and no control characters or backslashes anywhere.
func localPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") {
		return "/"
	}
	for _, r := range p {
		if r == '\\' || unicode.IsControl(r) || r == utf8.RuneError {
			return "/"
		}
	}
	return p
}
