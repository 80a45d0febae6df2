// Package lifecycle is every rule of a report's life: who may see it, how it is made (web form,
// Open311, seed), and every change after that (edit, withdraw, moderation actions, duplicates,
// relocation, re-categorising, expiry), each stored with its events. Handlers parse input, call it
// and render; store keeps the data. It is its own package because those rules belong neither to
// HTTP nor to Redis, and the web form and the Open311 API must share them.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"hazardwatch/geocode"
	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/store"
)

// Config is the part of the app's settings the rules depend on.
type Config struct {
	Moderation     string        // "post": public at once, unverified; "pre": public once approved
	ReportExpiry   time.Duration // transient hazards expire this long after the last confirmation
	TooCloseRadius float64       // metres: a new report this close to one of its type asks first
	FixedByPublic  int           // "it is fixed" from this many people resolves a report (0: DefaultFixedCount)
}

// Service applies the rules.
type Service struct {
	st  *store.Store
	geo geocode.Provider
	cfg Config
	log *slog.Logger
}

// New builds the service; geo names the place of new reports (nil: no address).
func New(st *store.Store, geo geocode.Provider, cfg Config, log *slog.Logger) *Service {
	return &Service{st: st, geo: geo, cfg: cfg, log: log}
}

// Actor is who asks for a change. The zero Actor is nobody signed in.
type Actor struct {
	ID   string
	Name string
	Role store.Role
	Body string // a body's staff: the body they act for
	// BodyName is set by Authorise for a body's staff: the history shows their change as the
	// body's, under the name the body had then.
	BodyName string
}

// ActorOf is u as an actor (nil: nobody).
func ActorOf(u *store.User) Actor {
	if u == nil {
		return Actor{}
	}
	a := Actor{ID: u.ID, Name: u.Name, Role: u.Role}
	if u.Role == store.RoleStaff {
		a.Body = u.Body
	}
	return a
}

// System is the app itself (the expiry job).
var System = Actor{ID: "system", Role: store.RoleAdmin}

func (a Actor) moderator() bool { return a.ID != "" && a.Role.AtLeast(store.RoleModerator) }

// Kind is what went wrong, as an HTTP status would say it.
type Kind int

const (
	NotFound  Kind = iota + 1 // 404: no such report, or not one the asker may see
	Forbidden                 // 403: the asker may not do this
	Conflict                  // 409: changed by someone else, or not possible from its status
	Invalid                   // 422: the input breaks a rule; Fields says where
)

// Error is a refusal with a sentence for people: a catalog message, said in the reader's
// language where it is shown (handlers/errors.go, a form, an Open311 answer).
type Error struct {
	Kind   Kind
	Msg    i18n.Msg
	Fields map[string]i18n.Msg // Invalid: field -> message ("" for the form as a whole)
	Close  []store.NearbyReport
}

func (e *Error) Error() string { return e.Msg.String() }

// fail is a refusal saying catalog message id with data pairs (i18n.M).
func fail(k Kind, id string, pairs ...any) *Error { return &Error{Kind: k, Msg: i18n.M(id, pairs...)} }

// invalidField is an Invalid refusal whose message also marks one field.
func invalidField(field string, m i18n.Msg) *Error {
	return &Error{Kind: Invalid, Msg: m, Fields: map[string]i18n.Msg{field: m}}
}

// KindOf is err's Kind, or 0 when err is not a refusal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

var errGone = fail(NotFound, "errors.report_gone")

// Event kinds on the report stream.
const (
	Created       = "report.created"
	Published     = "report.published" // became visible to the public
	StatusChanged = "report.status_changed"
	Updated       = "report.updated"
	Relocated     = "report.relocated"
	Recategorised = "report.recategorised"
)

// --- visibility: the one rule ---

// Visible reports whether viewer (nil: nobody signed in) may see a report in status whose
// reporter is reporter: its reporter and moderators always; everyone else public statuses, and
// pending ones only under post-moderation. It does not know which report: a body's staff see
// what citizens see here (lists and maps of everyone's reports), and more only through CanSee.
func (s *Service) Visible(viewer *store.User, status hazard.Status, reporter string) bool {
	if viewer != nil && (viewer.ID == reporter || viewer.Role.AtLeast(store.RoleModerator)) {
		return true
	}
	return status.Public() && !(s.cfg.Moderation == "pre" && status == hazard.Pending)
}

// CanSee is Visible for a report, and for a body's staff also every report they may moderate
// (Authorise: their body's, rejected or hidden ones too). An error reading Redis hides it.
func (s *Service) CanSee(ctx context.Context, viewer *store.User, r *store.Report) bool {
	ok, _ := s.canSee(ctx, viewer, r)
	return ok
}

func (s *Service) canSee(ctx context.Context, viewer *store.User, r *store.Report) (bool, error) {
	if s.Visible(viewer, r.Status, r.ReporterID) {
		return true, nil
	}
	if viewer == nil || viewer.Role != store.RoleStaff {
		return false, nil
	}
	return s.moderates(ctx, viewer, r.ID)
}

// PhotoVisible reports whether viewer may see photo hash of r: a shown photo of a report
// visible to them; anything else (a hidden photo, a hidden update's, any photo of a report only
// its moderators see) only to those who moderate it, asked once.
func (s *Service) PhotoVisible(ctx context.Context, viewer *store.User, r *store.Report, hash string) bool {
	return s.Visible(viewer, r.Status, r.ReporterID) && shownPhoto(r, hash) || s.Moderates(ctx, viewer, r.ID)
}

// shownPhoto reports whether hash is one of r's photos that anyone who sees r may see.
func shownPhoto(r *store.Report, hash string) bool {
	if slices.Contains(r.Photos, hash) {
		return true
	}
	for _, u := range r.Updates {
		if u.Photo == hash && !u.Hidden() {
			return true
		}
	}
	return false
}

// VisibleStatuses keeps the statuses of want that viewer may see whoever reported them: what a
// map or list may show of everyone's reports.
func (s *Service) VisibleStatuses(viewer *store.User, want []hazard.Status) []hazard.Status {
	return s.VisibleStatusesOf(viewer, want, "")
}

// VisibleStatusesOf keeps the statuses of want that viewer may see in reporter's reports (their
// own list shows their rejected and withdrawn reports too).
func (s *Service) VisibleStatusesOf(viewer *store.User, want []hazard.Status, reporter string) []hazard.Status {
	var out []hazard.Status
	for _, st := range want {
		if s.Visible(viewer, st, reporter) {
			out = append(out, st)
		}
	}
	return out
}

// PublicNow reports whether a report in status is visible to the public (events say when a
// report becomes so).
func (s *Service) PublicNow(status hazard.Status) bool { return s.Visible(nil, status, "\x00") }

// Load finds a report viewer may see; others are NotFound, not Forbidden, so hidden reports do
// not reveal that they exist.
func (s *Service) Load(ctx context.Context, viewer *store.User, id string) (*store.Report, error) {
	r, err := s.st.Report(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errGone
	} else if err != nil {
		return nil, err
	}
	if ok, err := s.canSee(ctx, viewer, r); err != nil {
		return nil, err
	} else if !ok {
		return nil, errGone
	}
	return r, nil
}

// --- creating ---

// Draft is a new report as a form or an API client gives it.
type Draft struct {
	ID           string // from store.ReportID (the form's idempotency key) or store.NewReportID
	ReporterID   string
	ReporterName string
	ShowName     bool
	Type         string
	Severity     string
	Description  string
	Lat, Lng     float64
	HasPlace     bool
	Photos       []string
	Source       string // "open311:<key name>" for API reports
	MediaURL     string
	ContactEmail string // where a reporter without an account asked to hear back (Open311 email)
	// Contact is set only when the reporter agreed to share it with the bodies (SharedContact).
	Contact *store.Contact
	// AllowClose skips the "already reported nearby?" question (the reporter confirmed it).
	AllowClose bool
	// GuestEmail makes a guest's report (no ReporterID): stored unconfirmed until the link
	// mailed to this address is opened (guest.go).
	GuestEmail string
}

// SharedContact is what a reporter who agreed shares with the bodies: the address, and the name
// split into its first word and the rest (GeoReport v2 asks for first_name and last_name; the
// parts join back into the name as given). nil when there is nothing to share.
func SharedContact(name, email string) *store.Contact {
	first, last, _ := strings.Cut(strings.Join(strings.Fields(name), " "), " ")
	c := &store.Contact{FirstName: first, LastName: last, Email: strings.TrimSpace(email)}
	if *c == (store.Contact{}) {
		return nil
	}
	return c
}

// Check says what is wrong with a draft, field by field (nil: nothing).
func Check(d *Draft) map[string]i18n.Msg {
	bad := map[string]i18n.Msg{}
	if _, ok := hazard.TypeByCode(d.Type); !ok {
		bad["type"] = i18n.M("errors.report.choose_type")
	}
	if _, ok := hazard.SeverityByCode(d.Severity); !ok {
		bad["severity"] = i18n.M("errors.report.choose_severity")
	}
	d.Description = strings.TrimSpace(strings.ReplaceAll(d.Description, "\r\n", "\n"))
	if msg := DescriptionProblem(d.Description); !msg.IsZero() {
		bad["description"] = msg
	}
	switch {
	case !d.HasPlace:
		bad["lat"] = i18n.M("errors.report.choose_place")
	default:
		if msg := PlaceProblem(d.Lat, d.Lng); !msg.IsZero() {
			bad["lat"] = msg
		}
	}
	if d.GuestEmail != "" {
		if msg := store.EmailProblem(d.GuestEmail); !msg.IsZero() {
			bad["email"] = msg
		}
	}
	if len(d.Photos) > hazard.MaxPhotos {
		bad["photos"] = TooManyPhotos(len(d.Photos))
	}
	if len(bad) == 0 {
		return nil
	}
	return bad
}

// TooManyPhotos says that n photos are more than a report takes.
func TooManyPhotos(n int) i18n.Msg {
	return i18n.M("errors.report.too_many_photos", "Max", hazard.MaxPhotos, "Chosen", n)
}

// DescriptionProblem checks a report's text: valid, printable (line breaks and tabs allowed),
// at most hazard.MaxDescription characters.
func DescriptionProblem(text string) i18n.Msg {
	if !utf8.ValidString(text) || strings.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		return i18n.M("errors.report.description_chars")
	}
	if n := utf8.RuneCountInString(text); n > hazard.MaxDescription {
		return i18n.M("errors.report.description_long", "Max", hazard.MaxDescription, "Length", n)
	}
	return i18n.Msg{}
}

// maxLat is the furthest north or south a map (and Redis's GEO sets) can show.
const maxLat = 85.05112878

// PlaceProblem checks a report's position.
func PlaceProblem(lat, lng float64) i18n.Msg {
	if msg := geocode.CheckPoint(lat, lng); !msg.IsZero() {
		return msg
	}
	if lat > maxLat || lat < -maxLat {
		return i18n.M("errors.report.latitude_range")
	}
	return i18n.Msg{}
}

// Create stores a new report: pending (the moderation mode decides whether the public sees it
// yet), named by reverse geocoding (a failure leaves the address empty), expiring if its type
// is transient. A draft within TooCloseRadius of an active report of its type is refused with
// Conflict and the close reports, unless AllowClose. created=false means the id existed: a
// repeated submit, answered with the stored report.
func (s *Service) Create(ctx context.Context, d Draft) (*store.Report, bool, error) {
	if bad := Check(&d); bad != nil {
		return nil, false, &Error{Kind: Invalid, Msg: i18n.M("errors.report.check_answers"), Fields: bad}
	}
	if existing, err := s.st.Report(ctx, d.ID); err == nil {
		return existing, false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	if !d.AllowClose {
		close, err := s.st.Nearby(ctx, d.Lat, d.Lng, s.cfg.TooCloseRadius, d.Type)
		if err != nil {
			return nil, false, err
		}
		if len(close) > 0 {
			return nil, false, &Error{Kind: Conflict, Msg: i18n.M("errors.report.already_reported"), Close: close}
		}
	}
	r := s.build(ctx, d, time.Now().UTC())
	evs := []store.Event{{Kind: Created, Actor: d.ReporterID}}
	if s.PublicNow(r.Status) {
		evs = append(evs, store.Event{Kind: Published, Actor: d.ReporterID})
	}
	return s.st.CreateReport(ctx, r, evs...)
}

// build makes the document of a checked draft.
func (s *Service) build(ctx context.Context, d Draft, now time.Time) *store.Report {
	t, _ := hazard.TypeByCode(d.Type)
	status := hazard.Pending
	if d.GuestEmail != "" {
		status, d.ReporterID = hazard.Unconfirmed, ""
	}
	r := &store.Report{
		ID: d.ID, Type: t.Code, Severity: d.Severity, Description: d.Description,
		Lat: d.Lat, Lng: d.Lng, Photos: d.Photos, Status: status,
		ReporterID: d.ReporterID, ShowName: d.ShowName, Source: d.Source, MediaURL: d.MediaURL, ContactEmail: d.ContactEmail,
		GuestEmail: d.GuestEmail, Contact: d.Contact,
		CreatedAt: now, UpdatedAt: now,
		History: []store.Change{{At: now, By: d.ReporterID, To: status}},
	}
	r.Address, r.AddressLang = s.address(ctx, d.Lat, d.Lng)
	if r.Photos == nil {
		r.Photos = []string{}
	}
	if r.ShowName {
		r.ReporterName = d.ReporterName
	}
	if t.Transient {
		r.ExpiresAt = now.Add(s.cfg.ReportExpiry)
	}
	return r
}

// address names the place at lat, lng, asking in ctx's language (the reporter's, or the
// moderator's who moved the pin), and says which language the answer is in: a page shows it
// marked as such.
func (s *Service) address(ctx context.Context, lat, lng float64) (label, lang string) {
	if s.geo == nil {
		return "", ""
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := s.geo.Reverse(ctx, lat, lng)
	if err != nil {
		if !errors.Is(err, geocode.ErrNoResult) {
			s.log.Warn("reverse geocoding a new report failed; storing it without an address", "err", err)
		}
		return "", ""
	}
	return p.Label, p.Lang
}

// Seed stores many synthetic reports at once (demo data and benchmarks), built by the same rules
// as Create but without questions, address lookups or events: the statistics and the map's
// counts are written directly.
func (s *Service) Seed(ctx context.Context, reports []*store.Report) error {
	for _, r := range reports {
		if r.Photos == nil {
			r.Photos = []string{}
		}
		if len(r.History) == 0 {
			r.History = []store.Change{{At: r.CreatedAt, By: "seed", To: r.Status}}
		}
		if t, ok := hazard.TypeByCode(r.Type); ok && t.Transient && r.Status.Active() && r.ExpiresAt.IsZero() {
			r.ExpiresAt = r.CreatedAt.Add(s.cfg.ReportExpiry)
		}
	}
	return s.st.SeedReports(ctx, reports)
}

// --- changing ---

// change loads report id for actor, checks the version the actor saw (0: take the current one),
// applies edit to a copy and stores it with the events edit returns.
func (s *Service) change(ctx context.Context, id string, version int64, edit func(r *store.Report, now time.Time) ([]store.Event, error)) (*store.Report, error) {
	prev, err := s.st.Report(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errGone
	}
	if err != nil {
		return nil, err
	}
	if version != 0 && version != prev.Version {
		return nil, ErrChanged
	}
	r := *prev
	r.History = slices.Clone(prev.History)
	now := time.Now().UTC()
	evs, err := edit(&r, now)
	if err != nil {
		return nil, err
	}
	r.UpdatedAt = now
	if err := s.st.UpdateReport(ctx, prev, &r, evs...); errors.Is(err, store.ErrConflict) {
		return nil, ErrChanged
	} else if errors.Is(err, store.ErrNotFound) {
		return nil, errGone
	} else if err != nil {
		return nil, err
	}
	return &r, nil
}

// ErrChanged means the report changed since the asker read it.
var ErrChanged = fail(Conflict, "errors.report.changed")

// ModeratorActions are the workflow's actions a moderator may take by hand.
var ModeratorActions = []hazard.Action{hazard.Approve, hazard.Start, hazard.Resolve, hazard.Reject, hazard.MarkDuplicate, hazard.Reopen}

// Transition applies a moderator's workflow action (approve, reject, start, resolve, reopen,
// duplicate) to report id at the version the moderator saw. Rejecting needs a note (the reporter
// reads it); marking a duplicate needs an active original, which then lists the duplicate and
// gets its confirmations.
func (s *Service) Transition(ctx context.Context, actor Actor, id string, version int64, a hazard.Action, note, dupOf string) (*store.Report, error) {
	actor, err := s.Authorise(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(ModeratorActions, a) {
		return nil, &Error{Kind: Invalid, Msg: i18n.M("errors.moderation.choose_action"), Fields: map[string]i18n.Msg{"action": i18n.M("errors.moderation.choose_action_short")}}
	}
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > 500 || strings.ContainsFunc(note, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
		return nil, &Error{Kind: Invalid, Msg: i18n.M("errors.moderation.note_long"), Fields: map[string]i18n.Msg{"note": i18n.M("errors.moderation.note_long_short")}}
	}
	if a == hazard.Reject && note == "" {
		return nil, &Error{Kind: Invalid, Msg: i18n.M("errors.moderation.reject_reason"), Fields: map[string]i18n.Msg{"note": i18n.M("errors.moderation.reject_reason_short")}}
	}
	var orig *store.Report
	if a == hazard.MarkDuplicate {
		if orig, err = s.original(ctx, actor, id, dupOf); err != nil {
			return nil, err
		}
	} else {
		dupOf = ""
	}
	r, err := s.moveAs(ctx, true, actor, id, version, a, note, dupOf)
	if err != nil {
		return nil, err
	}
	if orig != nil {
		if err := s.linkDuplicate(ctx, actor.ID, r, orig.ID); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// original checks the report a duplicate points at (a body's staff: one sent to their body too,
// since marking a duplicate changes the original).
func (s *Service) original(ctx context.Context, actor Actor, id, dupOf string) (*store.Report, error) {
	invalid := func(m i18n.Msg) error { return invalidField("duplicate_of", m) }
	if dupOf == id {
		return nil, invalid(i18n.M("errors.moderation.duplicate_itself"))
	}
	orig, err := s.st.Report(ctx, dupOf)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, invalid(i18n.M("errors.moderation.duplicate_id"))
	case err != nil:
		return nil, err
	case !orig.Status.Active():
		return nil, invalid(i18n.M("errors.moderation.original_closed", "Status", orig.Status.InlineMsg()))
	}
	if _, err := s.Authorise(ctx, actor, orig.ID); KindOf(err) == Forbidden {
		return nil, invalid(i18n.M("errors.staff.original_not_sent"))
	} else if err != nil {
		return nil, err
	}
	return orig, nil
}

// move applies a workflow action and records it on the timeline.
func (s *Service) move(ctx context.Context, by, id string, version int64, a hazard.Action, note, dupOf string) (*store.Report, error) {
	return s.moveAs(ctx, false, Actor{ID: by}, id, version, a, note, dupOf)
}

// moveAs is move; staff marks a moderator's action (statistics, and it settles the public's abuse
// flags: each is on the moderators-only history already).
func (s *Service) moveAs(ctx context.Context, staff bool, actor Actor, id string, version int64, a hazard.Action, note, dupOf string) (*store.Report, error) {
	by := actor.ID
	return s.change(ctx, id, version, func(r *store.Report, now time.Time) ([]store.Event, error) {
		next, ok := hazard.Next(r.Status, a)
		if !ok {
			return nil, fail(Conflict, "errors.moderation.step_impossible", "Status", r.Status.InlineMsg())
		}
		from := r.Status
		r.History = append(r.History, store.Change{At: now, By: by, Action: a, From: from, To: next, Note: note, Staff: staff,
			Body: actor.Body, BodyName: actor.BodyName})
		r.Status, r.FixedBy = next, nil
		switch a {
		case hazard.MarkDuplicate:
			r.DuplicateOf = dupOf
		case hazard.Reopen:
			r.DuplicateOf = ""
		}
		data := map[string]string{"action": string(a), "from": string(from), "to": string(next)}
		if dupOf != "" {
			data["duplicate_of"] = dupOf
		}
		if staff {
			data["staff"] = "1"
			r.Abuse = nil
		}
		if actor.BodyName != "" {
			data["body"] = actor.Body // as on the changes a body's own system makes
		}
		evs := []store.Event{{Kind: StatusChanged, Actor: by, Note: note, Data: data}}
		evs = append(evs, setAttention(r, by, "")...) // the public's flag is answered
		if !s.PublicNow(from) && s.PublicNow(next) {
			evs = append(evs, store.Event{Kind: Published, Actor: by})
		}
		return evs, nil
	})
}

// linkDuplicate makes the original list its duplicate and count the duplicate's confirmations
// (and its reporter's) as its own. The two reports sit in different slots: two steps, each
// idempotent, so a retry after a failure finishes the job.
func (s *Service) linkDuplicate(ctx context.Context, by string, dup *store.Report, origID string) error {
	for attempt := 0; attempt < 5; attempt++ {
		_, err := s.change(ctx, origID, 0, func(o *store.Report, now time.Time) ([]store.Event, error) {
			if slices.Contains(o.Duplicates, dup.ID) {
				return nil, errAlready
			}
			o.Duplicates = append(o.Duplicates, dup.ID)
			return []store.Event{{Kind: Updated, Actor: by, Data: map[string]string{"duplicate": dup.ID}}}, nil
		})
		if err == nil || errors.Is(err, errAlready) {
			break
		}
		if KindOf(err) != Conflict {
			return err
		}
	}
	if err := s.st.MoveFollowers(ctx, dup.ID, origID); err != nil {
		return err
	}
	return s.st.MoveConfirmations(ctx, dup.ID, origID, dup.ReporterID)
}

var errAlready = errors.New("lifecycle: nothing to do")

// Edit changes the description of the reporter's own report while it is still pending.
func (s *Service) Edit(ctx context.Context, actor Actor, id string, version int64, text string) (*store.Report, error) {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	if msg := DescriptionProblem(text); !msg.IsZero() {
		return nil, invalidField("description", msg)
	}
	return s.change(ctx, id, version, func(r *store.Report, now time.Time) ([]store.Event, error) {
		if err := ownPending(actor, r); err != nil {
			return nil, err
		}
		r.Description = text
		return []store.Event{{Kind: Updated, Actor: actor.ID, Data: map[string]string{"field": "description"}}}, nil
	})
}

// Withdraw takes the reporter's own pending report back.
func (s *Service) Withdraw(ctx context.Context, actor Actor, id string, version int64) (*store.Report, error) {
	prev, err := s.st.Report(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errGone
	} else if err != nil {
		return nil, err
	}
	if err := ownPending(actor, prev); err != nil {
		return nil, err
	}
	// No note: the timeline says "withdrawn by the reporter" in each reader's language.
	return s.move(ctx, actor.ID, id, version, hazard.Withdraw, "", "")
}

// CanEdit reports whether actor may edit or withdraw r (the page offers it when Edit would
// accept it).
func CanEdit(actor Actor, r *store.Report) bool { return ownPending(actor, r) == nil }

// CanConfirm reports whether actor may say r is still there (the page shows the button when
// Confirm would accept it; whether they already did is the store's to say).
func CanConfirm(actor Actor, r *store.Report) bool { return confirmable(actor, r) == nil }

func ownPending(actor Actor, r *store.Report) error {
	if actor.ID == "" || actor.ID != r.ReporterID {
		return fail(Forbidden, "errors.report.not_yours")
	}
	if r.Status != hazard.Pending {
		return fail(Conflict, "errors.report.reviewed")
	}
	return nil
}

// Relocate moves a report's pin (a moderator correcting a reporter), with a reason; NaN is a
// position the form did not give as numbers. The old
// place stays in the history for moderators; the indexes and the map's counts follow the event,
// and the reporter is told.
func (s *Service) Relocate(ctx context.Context, actor Actor, id string, version int64, lat, lng float64, reason string) (*store.Report, error) {
	actor, err := s.Authorise(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if math.IsNaN(lat) || math.IsNaN(lng) {
		return nil, invalidField("lat", i18n.M("moderation.err.place"))
	}
	if msg := PlaceProblem(lat, lng); !msg.IsZero() {
		return nil, invalidField("lat", msg)
	}
	reason, err = staffReason(reason)
	if err != nil {
		return nil, err
	}
	address, addressLang := s.address(ctx, lat, lng)
	return s.change(ctx, id, version, func(r *store.Report, now time.Time) ([]store.Event, error) {
		was := fmt.Sprintf("%.6f,%.6f", r.Lat, r.Lng)
		data := map[string]string{"from": was, "to": fmt.Sprintf("%.6f,%.6f", lat, lng), "staff": "1", "correction": CorrectedPlace}
		if r.Address != "" {
			was += " " + r.Address
		}
		r.Lat, r.Lng, r.Address, r.AddressLang = lat, lng, address, addressLang
		r.History = append(r.History, staffChange(actor, now, r, ActRelocate, reason, was))
		return []store.Event{{Kind: Relocated, Actor: actor.ID, Note: reason, Data: data}}, nil
	})
}

// Recategorise changes a report's type (a moderator correcting a reporter), with a reason; as
// Relocate.
func (s *Service) Recategorise(ctx context.Context, actor Actor, id string, version int64, typ, reason string) (*store.Report, error) {
	actor, err := s.Authorise(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	t, ok := hazard.TypeByCode(typ)
	if !ok {
		return nil, invalidField("type", i18n.M("errors.report.choose_type"))
	}
	reason, err = staffReason(reason)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, id, version, func(r *store.Report, now time.Time) ([]store.Event, error) {
		if r.Type == t.Code {
			return nil, errSame()
		}
		data := map[string]string{"from": r.Type, "to": t.Code, "staff": "1", "correction": CorrectedType}
		r.History = append(r.History, staffChange(actor, now, r, ActRecategorise, reason, r.Type))
		r.Type = t.Code
		if t.Transient && r.ExpiresAt.IsZero() && r.Status.Active() {
			r.ExpiresAt = now.Add(s.cfg.ReportExpiry)
		} else if !t.Transient {
			r.ExpiresAt = time.Time{}
		}
		return []store.Event{{Kind: Recategorised, Actor: actor.ID, Note: reason, Data: data}}, nil
	})
}

// Confirm records that actor saw the hazard still there: once per person, not for one's own
// report, only while it is active; transient hazards live on. first is false for a repeat.
func (s *Service) Confirm(ctx context.Context, actor Actor, r *store.Report) (first bool, err error) {
	if err := confirmable(actor, r); err != nil {
		return false, err
	}
	first, _, err = s.st.Confirm(ctx, r.ID, actor.ID, s.cfg.ReportExpiry)
	return first, err
}

func confirmable(actor Actor, r *store.Report) error {
	switch {
	case actor.ID == "":
		return fail(Forbidden, "errors.report.sign_in_to_confirm")
	case actor.ID == r.ReporterID:
		return fail(Invalid, "errors.report.confirm_own")
	case !r.Status.Active():
		return fail(Conflict, "errors.report.confirm_closed", "Status", r.Status.InlineMsg())
	}
	return nil
}

// ExpireDue expires the transient reports whose time has passed, if this instance gets the job
// lock for lockFor. Each is a version-checked change, so two runners cannot expire one twice.
func (s *Service) ExpireDue(ctx context.Context, now time.Time, lockFor time.Duration) (int, error) {
	ok, err := s.st.TryLock(ctx, "expiry", lockFor)
	if err != nil || !ok {
		return 0, err
	}
	ids, err := s.st.DueForExpiry(ctx, now, 200)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		// No note: the timeline explains an expiry in each reader's language.
		_, err := s.move(ctx, System.ID, id, 0, hazard.Expire, "", "")
		switch KindOf(err) {
		case 0:
			if err != nil {
				return n, err
			}
			n++
		case NotFound:
			_ = s.st.DropExpiry(ctx, id) // gone meanwhile
		case Conflict:
			if errors.Is(err, ErrChanged) {
				continue // changed under us; the next round looks again
			}
			_ = s.st.DropExpiry(ctx, id) // resolved meanwhile: nothing to expire
		default:
			return n, err
		}
	}
	return n, nil
}
