package mail

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"hazardwatch/hazard"
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
	// Body sends a report to the body that fixes it, in the body's language (BodyData).
	Body Kind = "body"
	// Alert is a new hazard in a watched area (AlertData); Digest is a day's worth (DigestData).
	Alert  Kind = "alert"
	Digest Kind = "digest"
	// Update is a public update on a report one made or follows (UpdateData).
	Update Kind = "update"
	// Questionnaire asks a reporter whether the hazard was fixed (QuestionnaireData).
	Questionnaire Kind = "questionnaire"
	// Corrected tells a reporter that a moderator corrected their report (CorrectedData).
	Corrected Kind = "corrected"
	// GuestConfirm carries a guest report's confirmation link (GuestData); the same words
	// whether or not the address has an account.
	GuestConfirm Kind = "guestconfirm"
)

// Kinds lists every mail, for the preview page and the template test.
var Kinds = []Kind{Verify, Reset, Status, Duplicate, Expired, Registered, Disabled, Alert, Digest, Update, Questionnaire, Body, Corrected, GuestConfirm}

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

// ResetData fills Reset; Minutes is how long the link works.
type ResetData struct {
	Common
	Link    string
	Minutes int
}

// ReportData is a mail about one report: its type as the recipient reads it (in their language)
// and its page. StillThere, when set, is a signed "it is still there" link (expiry and duplicate
// mails); Unsubscribe stops the mails to a reporter without an account.
type ReportData struct {
	Common
	Type, Link              string
	StillThere, Unsubscribe string
}

// AlertData fills Alert: the new report and the alert it matched (one mail per report however
// many of the user's alerts match; Area names the first).
type AlertData struct {
	Common
	Area, Type, Description, Address, Link string
	AlertsURL, Unsubscribe                 string
}

// DigestData fills Digest.
type DigestData struct {
	Common
	Items                  []DigestItem
	AlertsURL, Unsubscribe string
}

// DigestItem is one report in a digest.
type DigestItem struct{ Type, Address, Link string }

// UpdateData fills Update.
type UpdateData struct {
	ReportData
	Text     string
	Fixed    bool
	Reporter bool   // the recipient reported it (else follows it)
	Body     string // the body whose staff wrote it ("" someone from the public)
}

// QuestionnaireData fills Questionnaire: Answer is the single-use link.
type QuestionnaireData struct {
	ReportData
	Answer string
}

// StatusData fills Status (Status in the recipient's language); Reporter chooses the reporter's
// wording over a follower's.
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

// BodyData fills Body: a report as the body that fixes it needs it.
type BodyData struct {
	BodyName, Type, Severity, Address, Description string
	Lat, Lng                                       string // decimal degrees, 6 places
	MapLink, Link, Reference                       string
	Photos                                         []string // full-size photo URLs
	ReplyTo                                        string   // where replies go (the moderators)
	// The reporter's contact, only when they agreed to share it ("" otherwise).
	ContactName, ContactEmail string
}

// MainLink is the one action a mail asks for.
func (d BodyData) MainLink() string { return d.Link }

// CorrectedData fills Corrected: what a moderator changed (in the recipient's words) and why.
type CorrectedData struct {
	ReportData
	What, Reason string
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

// funcs are placeholders for parsing; Render binds t, n, lang, dir, start and title to the mail
// being made.
var funcs = map[string]any{
	"btn":   func(url, label string) map[string]string { return map[string]string{"URL": url, "Label": label} },
	"dict":  dict,
	"title": func() string { return "" },
	"t":     func(id string, data ...any) string { return id },
	"n":     func(id string, count int, data ...any) string { return id },
	"lang":  func() string { return "" },
	"dir":   func() string { return "" },
	"start": func() string { return "" },
}

// dict makes template data from pairs: (dict "Note" .).
func dict(pairs ...any) map[string]any {
	m := make(map[string]any, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		k, _ := pairs[i].(string)
		m[k] = pairs[i+1]
	}
	return m
}

// localFuncs speak the recipient's language: {{t "mail.hello" .}}, {{n "id" .Count}};
// lang and dir mark the HTML, start is the side text starts on ("left" or "right": mail clients
// know few logical CSS properties).
func localFuncs(l *i18n.Localizer) map[string]any {
	lang := l.Lang()
	start := "left"
	if lang.Dir == "rtl" {
		start = "right"
	}
	return map[string]any{
		"t": l.T, "n": l.N,
		"lang":  func() string { return lang.Tag },
		"dir":   func() string { return lang.Dir },
		"start": func() string { return start },
	}
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

// Samples are example data for every kind, in ctx's language, for /admin/mail-preview and the
// tests.
func Samples(ctx context.Context, base string) map[Kind]any {
	c := Common{Name: "Dana", AccountURL: base + "/account"}
	pothole, _ := hazard.TypeByCode("pothole")
	rep := ReportData{Common: c, Type: pothole.Label(ctx), Link: base + "/reports/abcdefghijklmnop"}
	return map[Kind]any{
		Verify: VerifyData{Common: c, Link: base + "/verify-email?token=sample"},
		Reset:  ResetData{Common: c, Link: base + "/password/reset?token=sample", Minutes: 30},
		Status: StatusData{ReportData: rep, Status: hazard.InProgress.Label(ctx), Note: i18n.T(ctx, "mail.sample.status_note"), Reporter: true},
		Duplicate: DuplicateData{ReportData: rep, OriginalLink: base + "/reports/qrstuvwxyz234567",
			Note: i18n.T(ctx, "mail.sample.duplicate_note")},
		Expired:    rep,
		Registered: VerifyData{Common: c, Link: base + "/password/forgot"},
		Disabled:   c,
		Body: BodyData{BodyName: "Camden Council", Type: "pothole", Severity: "high", Address: "Camden High Street, London",
			Description: "Deep pothole in the bus lane, about 40 cm wide.", Lat: "51.539000", Lng: "-0.142600",
			MapLink: "https://www.openstreetmap.org/?mlat=51.539000&mlon=-0.142600#map=18/51.539000/-0.142600",
			Link:    base + "/reports/abcdefghijklmnop", Reference: "abcdefghijklmnop", Photos: []string{base + "/photos/sample.jpg"},
			ReplyTo: "moderators@example.org", ContactName: "Alex Morgan", ContactEmail: "alex@example.org"},
		Alert: AlertData{Common: c, Area: "Home street", Type: "pothole", Description: "Deep hole by the bus stop",
			Address: "High Street, Camden", Link: rep.Link, AlertsURL: base + "/alerts", Unsubscribe: base + "/alerts/unsubscribe?token=sample"},
		Digest: DigestData{Common: c, Items: []DigestItem{{Type: "pothole", Address: "High Street", Link: rep.Link}, {Type: "flooding", Link: base + "/reports/qrstuvwxyz234567"}},
			AlertsURL: base + "/alerts", Unsubscribe: base + "/alerts/unsubscribe?token=sample"},
		Update:        UpdateData{ReportData: rep, Text: "Still there this morning, and deeper.", Reporter: true},
		Questionnaire: QuestionnaireData{ReportData: rep, Answer: base + "/questionnaire/sample"},
		Corrected:     CorrectedData{ReportData: rep, What: "the description", Reason: "We removed a phone number."},
		GuestConfirm: GuestData{Name: "Dana", Type: pothole.Label(ctx), Description: "Deep hole in the right lane.", Address: "Herzl Street, Haifa",
			Link: base + "/reports/confirm?token=sample"},
	}
}

// MainLink is the one action a mail asks for.
func (d AlertData) MainLink() string { return d.Link }

// MainLink is the one action a mail asks for.
func (d QuestionnaireData) MainLink() string { return d.Answer }

// MainLink is the one action a mail asks for (logged by the file sender).
func (d VerifyData) MainLink() string { return d.Link }

// MainLink is the one action a mail asks for.
func (d GuestData) MainLink() string { return d.Link }

// MainLink is the one action a mail asks for.
func (d ResetData) MainLink() string { return d.Link }

// MainLink is the one action a mail asks for.
func (d ReportData) MainLink() string { return d.Link }
