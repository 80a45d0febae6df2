package mail

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"hazardwatch/i18n"
)

// Kind names a mail: a pair of templates in templates/, <kind>.txt (defining "subject" and
// "text") and <kind>.html (defining "body" and "footer" for layout.html).
type Kind string

const (
	Verify    Kind = "verify"    // VerifyData: confirm an email address
	Reset     Kind = "reset"     // ResetData: choose a new password
	Status    Kind = "status"    // StatusData: a report's status changed
	Duplicate Kind = "duplicate" // DuplicateData: a report was joined to an earlier one
	Expired   Kind = "expired"   // ReportData: a transient hazard expired
	// Registered tells an account's owner that someone tried to register their address
	// (VerifyData: the link is the reset page).
	Registered Kind = "registered"
	// Disabled answers a reset request for a disabled account (Common).
	Disabled Kind = "disabled"
	// GuestConfirm carries a guest report's confirmation link (GuestData); the same words
	// whether or not the address has an account.
	GuestConfirm Kind = "guestconfirm"
)

// Kinds lists every mail, for the preview page and the template test.
var Kinds = []Kind{Verify, Reset, Status, Duplicate, Expired, Registered, Disabled, GuestConfirm}

// Common is what every mail knows: the recipient's name and the account page (for opting out).
type Common struct {
	Name       string
	AccountURL string
}

// VerifyData fills Verify.
type VerifyData struct {
	Common
	Link string
}

// ResetData fills Reset; Valid says how long the link works ("30 minutes").
type ResetData struct {
	Common
	Link, Valid string
}

// ReportData is a mail about one report: its type as people read it and its page.
type ReportData struct {
	Common
	Type, Link string
}

// StatusData fills Status; Reporter chooses the reporter's wording over a follower's.
type StatusData struct {
	ReportData
	Status, Note string
	Reporter     bool
}

// DuplicateData fills Duplicate.
type DuplicateData struct {
	ReportData
	OriginalLink, Note string
}

// GuestData fills GuestConfirm: the report as the guest wrote it and the link that publishes it.
type GuestData struct {
	Name                             string // as the guest gave it, or ""
	Type, Description, Address, Link string
}

//go:embed templates
var files embed.FS

type pair struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// funcs are placeholders for parsing; Render binds t, n and title to the mail being made.
var funcs = map[string]any{
	"btn":   func(url, label string) map[string]string { return map[string]string{"URL": url, "Label": label} },
	"title": func() string { return "" },
	"t":     func(id string, data ...any) string { return id },
	"n":     func(id string, count int, data ...any) string { return id },
}

// localFuncs speak the recipient's language: {{t "mail.status.subject" .}}, {{n "id" .Count}}.
func localFuncs(l *i18n.Localizer) map[string]any {
	return map[string]any{"t": l.T, "n": l.N}
}

var pairs = func() map[Kind]pair {
	out := map[Kind]pair{}
	for _, k := range Kinds {
		t := texttemplate.Must(texttemplate.New(string(k)).Funcs(funcs).ParseFS(files, "templates/"+string(k)+".txt"))
		h := htmltemplate.Must(htmltemplate.New(string(k)).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+string(k)+".html"))
		out[k] = pair{t, h}
	}
	return out
}()

// Rendered is a mail's subject and bodies.
type Rendered struct{ Subject, Text, HTML string }

// Render fills kind's templates with data, in the language of ctx's localizer (put the
// recipient's there, not the actor's: i18n.With(ctx, i18n.For(user.Lang))).
func Render(ctx context.Context, kind Kind, data any) (Rendered, error) {
	p, ok := pairs[kind]
	if !ok {
		return Rendered{}, fmt.Errorf("mail: no template %q", kind)
	}
	loc := localFuncs(i18n.From(ctx))
	tt, err := p.text.Clone()
	if err != nil {
		return Rendered{}, err
	}
	tt.Funcs(loc)
	var subj, text, html bytes.Buffer
	if err := tt.ExecuteTemplate(&subj, "subject", data); err != nil {
		return Rendered{}, fmt.Errorf("mail: %s subject: %w", kind, err)
	}
	if err := tt.ExecuteTemplate(&text, "text", data); err != nil {
		return Rendered{}, fmt.Errorf("mail: %s text: %w", kind, err)
	}
	// The HTML title repeats the subject.
	subject := strings.TrimSpace(subj.String())
	h, err := p.html.Clone()
	if err == nil {
		loc["title"] = func() string { return subject }
		err = h.Funcs(loc).ExecuteTemplate(&html, "layout", data)
	}
	if err != nil {
		return Rendered{}, fmt.Errorf("mail: %s html: %w", kind, err)
	}
	return Rendered{Subject: subject, Text: strings.TrimLeft(text.String(), "\n"), HTML: html.String()}, nil
}

// Samples are example data for every kind, for /admin/mail-preview and the tests.
func Samples(base string) map[Kind]any {
	c := Common{Name: "Dana", AccountURL: base + "/account"}
	rep := ReportData{Common: c, Type: "pothole", Link: base + "/reports/abcdefghijklmnop"}
	return map[Kind]any{
		Verify:     VerifyData{Common: c, Link: base + "/verify-email?token=sample"},
		Reset:      ResetData{Common: c, Link: base + "/password/reset?token=sample", Valid: "30 minutes"},
		Status:     StatusData{ReportData: rep, Status: "In progress", Note: "A crew is on its way.", Reporter: true},
		Duplicate:  DuplicateData{ReportData: rep, OriginalLink: base + "/reports/qrstuvwxyz234567", Note: "Same hole, reported an hour earlier."},
		Expired:    rep,
		Registered: VerifyData{Common: c, Link: base + "/password/forgot"},
		Disabled:   c,
		GuestConfirm: GuestData{Name: "Dana", Type: "Pothole", Description: "Deep hole in the right lane.", Address: "Herzl Street, Haifa",
			Link: base + "/reports/confirm?token=sample"},
	}
}

// MainLink is the one action a mail asks for (logged by the file sender).
func (d VerifyData) MainLink() string { return d.Link }

// MainLink is the one action a mail asks for.
func (d GuestData) MainLink() string { return d.Link }

// MainLink is the one action a mail asks for.
func (d ResetData) MainLink() string { return d.Link }

// MainLink is the one action a mail asks for.
func (d ReportData) MainLink() string { return d.Link }
