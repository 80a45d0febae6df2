package views

import (
	"fmt"

	"github.com/a-h/templ"
)

// Option is one choice of a select or radio group.
type Option struct {
	Value, Label, Icon, Help string
}

// ReportFormView is the report form with what was typed and uploaded so far.
type ReportFormView struct {
	Form       Form
	Types      []Option
	Severities []Option
	Photos     []string // stored photo hashes kept from an earlier failed submit
	MaxPhotos  int
	TooClose   []ReportCard // reports of the same type very close by: "a different hazard?"
	PhotoGPS   *LatLng      // where a photo says it was taken, offered when no place was chosen
	Map        MapView
	// Guest: nobody is signed in, so the form asks for an email address (and offers to sign in).
	Guest        bool
	GoogleSignIn bool     // the Google button exists: offered as a way to sign in instead
	Emergency    []string // the numbers to call when life is in danger (EMERGENCY_NUMBERS)
}

// LatLng is a point for views.
type LatLng struct{ Lat, Lng float64 }

// ReportCard is a report in a list.
type ReportCard struct {
	ID            string
	TypeLabel     string
	TypeIcon      string
	Severity      string
	Status        string
	StatusLabel   string
	Description   string
	Address       string
	TimeAgo       string
	Confirmations int64
	Thumb         string // URL or ""
	Distance      string // "12 m away", for nearby lists
}

// ReportView is one report's page.
type ReportView struct {
	ReportCard
	Lat, Lng    float64
	Photos      []PhotoView
	Reporter    string // "" unless they chose to show their name
	CreatedAt   string
	Timeline    []TimelineItem
	CanConfirm  bool
	Confirmed   bool
	CanEdit     bool // the owner, while pending
	CanFollow   bool // signed in and not the reporter
	Following   bool
	Version     int64
	DuplicateOf string
	Map         MapView
	EditForm    Form
	Unverified  bool
}

// PhotoView is a photo with its thumbnail.
type PhotoView struct{ Full, Thumb string }

// TimelineItem is one public change of a report.
type TimelineItem struct {
	When, Label, Note string
	WhenISO           string // RFC 3339: the page shows it in the viewer's time zone
}

// ReportListView is /reports with its filters.
type ReportListView struct {
	Type, Status, Query string
	Mine, SignedIn      bool
	Types, Statuses     []Option
	Reports             []ReportCard
	Page                int
	PrevURL, NextURL    string
}

func reportURL(id string) templ.SafeURL { return templ.SafeURL("/reports/" + id) }

func statusClass(status string) string { return "status status-" + status }

func severityClass(sev string) string { return "severity severity-" + sev }

func coord(f float64) string { return fmt.Sprintf("%.6f", f) }

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// InView is the list beside the map.
type InView struct {
	Total       int
	Reports     []ReportCard
	Unavailable bool // the reports could not be read just now
}

// MapFilters are the map's type, status and time controls.
type MapFilters struct {
	Types    []CheckOption
	Statuses []CheckOption
	Since    string // "", 24h, 7d, 30d
}

// CheckOption is a checkbox.
type CheckOption struct {
	Option
	Checked bool
}
