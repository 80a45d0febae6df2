// Package hazard is the one list of hazard types, severities and statuses, with their labels,
// icons and the allowed status changes. Every screen, the API and Open311 read it from here; the
// system we replace had type lists that disagreed between screens.
package hazard

import "time"

// Type is a kind of hazard.
type Type struct {
	Code      string // stable id used in URLs, JSON and Redis
	Label     string
	Icon      string // an emoji: readable on every device, no image to load
	Help      string // one line shown under the choice
	Transient bool   // expires unless someone confirms it is still there
}

// Types lists every hazard type in the order forms show them.
var Types = []Type{
	{"pothole", "Pothole", "🕳️", "A hole in the road surface.", false},
	{"crack", "Crack", "〰️", "Cracks or breaks in the surface.", false},
	{"surface", "Surface damage", "🚧", "Sunken, raised or crumbling road or pavement.", false},
	{"debris", "Debris or object on road", "🪨", "Something lying on the road that should not be there.", true},
	{"flooding", "Flooding", "🌊", "Standing water across a road or path.", true},
	{"ice", "Ice or snow", "🧊", "Ice, snow or slush making a surface slippery.", true},
	{"tree", "Fallen tree", "🌳", "A tree or large branch down.", false},
	{"signal", "Broken traffic signal", "🚦", "A traffic light that is off, stuck or damaged.", false},
	{"sign", "Damaged or missing sign", "🪧", "A road sign that is down, turned or unreadable.", false},
	{"streetlight", "Streetlight out", "💡", "A street lamp that does not light.", false},
	{"manhole", "Missing manhole cover", "⚠️", "An open or broken drain or manhole.", false},
	{"other", "Other", "❓", "Anything else that puts people at risk.", false},
}

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
	Code  string
	Label string
	Help  string
}

// Severities, mildest first. "high" shows the emergency notice before submitting.
var Severities = []Severity{
	{"low", "Low", "A nuisance; no one is likely to be hurt."},
	{"medium", "Medium", "Could cause damage or a fall."},
	{"high", "High", "Could seriously hurt someone."},
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

// Label is the status as people read it.
func (s Status) Label() string {
	switch s {
	case Unconfirmed:
		return "Waiting for confirmation"
	case Pending:
		return "Unverified"
	case Open:
		return "Open"
	case InProgress:
		return "In progress"
	case Resolved:
		return "Resolved"
	case Rejected:
		return "Rejected"
	case Duplicate:
		return "Duplicate"
	case Expired:
		return "Expired"
	case Withdrawn:
		return "Withdrawn"
	}
	return string(s)
}

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
