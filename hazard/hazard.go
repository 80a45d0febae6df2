// Package hazard is the one list of hazard types, severities and statuses, with their icons and
// the allowed status changes. Every screen, the API and Open311 read it from here; the system we
// replace had type lists that disagreed between screens. Their words are in the catalogs
// (i18n/locales/*/hazard.toml: hazard.type.<code>, hazard.severity.<code>, hazard.status.<code>),
// said in the reader's language by the Label and Help methods.
package hazard

import (
	"context"
	"slices"
	"time"

	"hazardwatch/i18n"
)

// Type is a kind of hazard.
type Type struct {
	Code      string // stable id used in URLs, JSON and Redis
	Icon      string // an emoji: readable on every device, no image to load
	Transient bool   // expires unless someone confirms it is still there
}

// Types lists every hazard type in the order forms show them.
var Types = []Type{
	{"pothole", "🕳️", false},
	{"crack", "〰️", false},
	{"surface", "🚧", false},
	{"debris", "🪨", true},
	{"flooding", "🌊", true},
	{"ice", "🧊", true},
	{"tree", "🌳", false},
	{"signal", "🚦", false},
	{"sign", "🪧", false},
	{"streetlight", "💡", false},
	{"manhole", "⚠️", false},
	{"other", "❓", false},
}

// Label is the type's name in ctx's language ("Pothole").
func (t Type) Label(ctx context.Context) string { return i18n.T(ctx, t.LabelMsg().ID) }

// LabelMsg is the type's name, to be said later.
func (t Type) LabelMsg() i18n.Msg { return i18n.M("hazard.type." + t.Code) }

// Help is the line shown under the choice ("A hole in the road surface.").
func (t Type) Help(ctx context.Context) string { return i18n.T(ctx, "hazard.type."+t.Code+".help") }

// TypeByCode finds a type.
func TypeByCode(code string) (Type, bool) {
	for _, t := range Types {
		if t.Code == code {
			return t, true
		}
	}
	return Type{}, false
}

// Severity is how dangerous a hazard is.
type Severity struct {
	Code string
}

// Severities, mildest first. "high" shows the emergency notice before submitting.
var Severities = []Severity{{"low"}, {"medium"}, {"high"}}

// Label is the severity's name in ctx's language ("High").
func (s Severity) Label(ctx context.Context) string { return i18n.T(ctx, "hazard.severity."+s.Code) }

// Words name the severity on its own, as the map and badges do ("High severity").
func (s Severity) Words(ctx context.Context) string {
	return i18n.T(ctx, "hazard.severity."+s.Code+".words")
}

// Help says what the severity means ("Could seriously hurt someone.").
func (s Severity) Help(ctx context.Context) string {
	return i18n.T(ctx, "hazard.severity."+s.Code+".help")
}

// SeverityByCode finds a severity.
func SeverityByCode(code string) (Severity, bool) {
	for _, s := range Severities {
		if s.Code == code {
			return s, true
		}
	}
	return Severity{}, false
}

// Status is where a report stands.
type Status string

const (
	Unconfirmed Status = "unconfirmed" // a guest's report waiting for the mailed link; never public
	Pending     Status = "pending"     // new, not yet verified by a moderator
	Open        Status = "open"        // verified
	InProgress  Status = "in_progress"
	Resolved    Status = "resolved"
	Rejected    Status = "rejected"
	Duplicate   Status = "duplicate" // linked to the original report
	Expired     Status = "expired"   // a transient hazard nobody confirmed in time
	Withdrawn   Status = "withdrawn" // the reporter took it back while pending
)

// Statuses lists every status in workflow order.
var Statuses = []Status{Unconfirmed, Pending, Open, InProgress, Resolved, Rejected, Duplicate, Expired, Withdrawn}

// ActiveStatuses are the hazards still out there (see Active).
var ActiveStatuses = []Status{Pending, Open, InProgress}

// Label is the status as people read it, in ctx's language ("Unverified" for pending).
func (s Status) Label(ctx context.Context) string { return i18n.Say(ctx, s.LabelMsg()) }

// LabelMsg is the status's name, to be said later in the reader's language.
func (s Status) LabelMsg() i18n.Msg { return i18n.M("hazard.status." + string(s)) }

// InlineMsg is the status's name as it reads inside a sentence ("marked in progress"), to be
// said later in the reader's language.
func (s Status) InlineMsg() i18n.Msg { return i18n.M("hazard.status." + string(s) + ".inline") }

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, x := range Statuses {
		if x == s {
			return true
		}
	}
	return false
}

// Active statuses are hazards still out there: shown by default, offered as duplicates, and
// subject to expiry.
func (s Status) Active() bool { return s == Pending || s == Open || s == InProgress }

// Public statuses are visible to everyone; rejected and withdrawn reports only to their reporter
// and moderators (pending ones also, under pre-moderation); unconfirmed ones to nobody on the site.
func (s Status) Public() bool { return s != Rejected && s != Withdrawn && s != Unconfirmed }

// Open311 maps a status to GeoReport v2's open/closed.
func (s Status) Open311() string {
	if s.Active() {
		return "open"
	}
	return "closed"
}

// Attention is why the public asks moderators to look at a report again, beside its status: a
// flag, not a status, so the map, the workflow and the counts stay as they are.
type Attention string

const (
	ReportedFixed    Attention = "reported_fixed" // an update said the hazard is gone
	ReopenedByPublic Attention = "reopened"       // its reporter or a photo update said it is back
)

// Action is a moderator's (or reporter's) verb; Transitions says where it may lead.
type Action string

const (
	Approve       Action = "approve"
	Reject        Action = "reject"
	Start         Action = "start"
	Resolve       Action = "resolve"
	Reopen        Action = "reopen"
	MarkDuplicate Action = "duplicate"
	Expire        Action = "expire"        // the expiry job
	Withdraw      Action = "withdraw"      // the reporter, while pending
	ConfirmEmail  Action = "confirm_email" // a guest opened the mailed link
)

// Transitions is the whole workflow: action -> from-statuses -> new status.
var Transitions = map[Action]struct {
	From []Status
	To   Status
}{
	Approve:       {[]Status{Pending}, Open},
	Reject:        {[]Status{Pending, Open}, Rejected},
	Start:         {[]Status{Pending, Open}, InProgress},
	Resolve:       {[]Status{Pending, Open, InProgress}, Resolved},
	Reopen:        {[]Status{Resolved, Rejected, Expired, Duplicate}, Open},
	MarkDuplicate: {[]Status{Pending, Open, InProgress}, Duplicate},
	Expire:        {[]Status{Pending, Open}, Expired},
	Withdraw:      {[]Status{Pending}, Withdrawn},
	ConfirmEmail:  {[]Status{Unconfirmed}, Pending},
}

// Next returns the status action leads to from s, or false when the workflow forbids it.
func Next(s Status, a Action) (Status, bool) {
	t, ok := Transitions[a]
	if !ok {
		return "", false
	}
	for _, f := range t.From {
		if f == s {
			return t.To, true
		}
	}
	return "", false
}

// Defaults for the report rules (configurable where CONTRACT.md or the issues say so).
const (
	MaxDescription  = 2000
	MaxPhotos       = 5
	DefaultExpiry   = 48 * time.Hour
	DuplicateRadius = 50.0 // metres: open reports of the same type listed while filling the form
	TooCloseRadius  = 15.0 // metres: a submit this close asks "is it a different hazard?"
)

// relatedTypes groups the types one hazard is often reported as: a moderator looking for the
// original of a duplicate is offered reports of the same group, not only of the same type.
var relatedTypes = [][]string{
	{"pothole", "crack", "surface", "manhole"},
	{"debris", "tree"},
	{"flooding", "ice"},
	{"signal", "sign", "streetlight"},
}

// Related reports whether reports of types a and b may describe the same hazard: the same type,
// types of one group, or either one "other".
func Related(a, b string) bool {
	if a == b || a == "other" || b == "other" {
		return true
	}
	for _, g := range relatedTypes {
		if slices.Contains(g, a) && slices.Contains(g, b) {
			return true
		}
	}
	return false
}
