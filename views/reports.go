package views

import (
	"fmt"
	"time"

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
	Photos     []KeptPhoto // photos kept from an earlier failed submit
	MaxPhotos  int
	TooClose   []ReportCard // reports of the same type very close by: "a different hazard?"
	PhotoGPS   *LatLng      // where a photo says it was taken, offered when no place was chosen
	Map        MapView
	// Guest: nobody is signed in, so the form asks for an email address (and offers to sign in).
	Guest        bool
	GoogleSignIn bool     // the Google button exists: offered as a way to sign in instead
	Emergency    []string // the numbers to call when life is in danger (EMERGENCY_NUMBERS)
}

// KeptPhoto is an uploaded photo a failed form carries back: Ref is the signed reference the
// form sends again, Thumb its preview (visible to its uploader only).
type KeptPhoto struct{ Ref, Thumb string }

// LatLng is a point for views.
type LatLng struct{ Lat, Lng float64 }

// ReportCard is a report in a list.
type ReportCard struct {
	ID            string
	TypeLabel     string
	TypeIcon      string
	Severity      string
	SeverityLabel string // "High severity"
	Status        string
	StatusLabel   string
	Description   string
	Address       string
	AddressLang   string // the language Address is in ("" = unknown)
	TimeAgo       string // Created in words, for lists without a <time> element
	Created       time.Time
	Confirmations int64
	Thumb         string // URL or ""
	Distance      string // "12 m away", for nearby lists
	Sent          string // the bodies it was sent to, for the "sent" mark ("" when none)
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
	Delivery    DeliveryView // the bodies that have it
	Updates     UpdatesView  // public updates and their form (updates.templ)
	// The reporter's own page says whether their contact goes to the bodies (others never see it).
	OwnReport, ContactShared bool
}

// PhotoView is a photo with its thumbnail.
type PhotoView struct{ Full, Thumb string }

// TimelineItem is one public change of a report.
type TimelineItem struct {
	At          time.Time
	Label, Note string
}

// ReportListView is /reports with its filters.
type ReportListView struct {
	Type, Status, Query string
	BBox                string // an area from the map ("minLng,minLat,maxLng,maxLat"), kept across filters
	Mine, SignedIn      bool
	Partial             bool // the search stopped before the end: narrower filters find the rest
	Types, Statuses     []Option
	Reports             []ReportCard
	Page                int
	PrevURL, NextURL    string
	Feed                string // the Atom feed of the list's type
}

func reportURL(id string) templ.SafeURL { return templ.SafeURL("/reports/" + id) }

func statusClass(status string) string { return "status status-" + status }

func severityClass(sev string) string { return "severity severity-" + sev }

func coord(f float64) string { return fmt.Sprintf("%.6f", f) }

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

// plural is for views not yet on the catalogs (views/moderation.templ); the others use i18n.N.
func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
