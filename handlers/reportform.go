package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/photo"
	"hazardwatch/store"
	"hazardwatch/views"
)

// The report form (/reports/new, POST /reports): open to everyone. Without a session it also asks
// for an email address, and the report waits unconfirmed for the mailed link (guest.go). What
// was typed survives every detour: a failed submit keeps it, "sign in instead" and "create an
// account" park it server-side (draft.go), and the browser keeps reports made offline
// (static/js/offline.js) and sends them with their idempotency key.

// maxUpload bounds POST /reports: five photos of 10 MB and the fields.
const maxUpload = hazard.MaxPhotos*photo.MaxBytes + 1<<20

// reportFormFields are the form's fields in the order it shows them (the error summary's order).
var reportFormFields = []string{"lat", "lng", "type", "severity", "description", "photos", "email", "name", "show_name",
	"contact_ok", "idem", "confirm_distinct", "use_photo_location"}

func newIdemKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (h *handler) reportFormView(c *fiber.Ctx, f *form, photos []views.KeptPhoto) views.ReportFormView {
	m := views.MapView{TileURL: h.cfg.MapTileURL, Attribution: h.cfg.MapAttribution, Lat: h.cfg.MapLat, Lng: h.cfg.MapLng, Zoom: h.cfg.MapZoom}
	if lat, err1 := strconv.ParseFloat(f.Values["lat"], 64); err1 == nil {
		if lng, err2 := strconv.ParseFloat(f.Values["lng"], 64); err2 == nil && lifecycle.PlaceProblem(lat, lng).IsZero() {
			m.Lat, m.Lng, m.Zoom = lat, lng, 17
		}
	}
	return views.ReportFormView{
		Form: f.Form, Types: typeOptions(c), Severities: severityOptions(c), Photos: photos,
		MaxPhotos: hazard.MaxPhotos, Map: m, Guest: currentUser(c) == nil, Emergency: h.cfg.EmergencyNumbers,
		GoogleSignIn: h.google != nil,
	}
}

func (h *handler) reportPage(c *fiber.Ctx) views.Page {
	p := h.page(c, i18n.T(c.UserContext(), "reportform.title"))
	p.Styles = []string{"vendor/leaflet/leaflet.css"}
	p.Scripts = []string{"vendor/leaflet/leaflet.js", "js/search.js", "js/reportform.js"}
	return p
}

// newReport shows the form: the browser's parked draft if it has one (after signing in or
// registering), then ?lat=&lng= (a pin on the map) and ?type=. Nothing is chosen for the
// reporter: no type, no severity.
func (h *handler) newReport(c *fiber.Ctx) error {
	f := emptyForm(c)
	f.Order = reportFormFields
	var photos []string
	if d, err := h.draft(c); err != nil {
		return err
	} else if d != nil {
		for _, k := range draftFields {
			f.Values[k] = d.Values[k]
		}
		for _, ph := range d.Photos {
			if photo.Exists(h.photoDir(), ph) {
				photos = append(photos, ph)
			}
		}
	}
	if f.Values["idem"] == "" {
		f.Values["idem"] = newIdemKey()
	}
	if lat, lng, msg := parsePoint(c); msg.IsZero() {
		f.Values["lat"], f.Values["lng"] = strconv.FormatFloat(lat, 'f', 6, 64), strconv.FormatFloat(lng, 'f', 6, 64)
	}
	if t := c.Query("type"); t != "" {
		if _, ok := hazard.TypeByCode(t); ok {
			f.Values["type"] = t
		}
	}
	return render(c, fiber.StatusOK, views.ReportFormPage(h.reportPage(c), h.reportFormView(c, f, h.keptPhotos(c, photos))))
}

// createReport validates everything, keeps every photo that was good (so a failed submit loses
// nothing), and stores the report once: the form's idempotency key names it, so a retry (a slow
// connection, a report sent again from the browser's queue) finds the report it made.
func (h *handler) createReport(c *fiber.Ctx) error {
	ctx := c.UserContext()
	u := currentUser(c)
	mf, _ := c.MultipartForm() // nil for an urlencoded post, which is fine: no photos then
	f := newForm(c, reportFormFields...)
	owner := ""
	if u != nil {
		owner = u.ID
	}
	if f.Values["idem"] == "" {
		f.Values["idem"] = newIdemKey()
	} else if r, err := h.store.Report(ctx, store.ReportID(owner, f.Values["idem"])); err == nil {
		return h.reportSent(c, r, false) // a repeated submit: the report exists already
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if p := f.Values["use_photo_location"]; p != "" {
		f.Values["lat"], f.Values["lng"], _ = strings.Cut(p, ",")
	}
	d := lifecycle.Draft{
		ID: store.ReportID(owner, f.Values["idem"]), ReporterID: owner, ShowName: f.Values["show_name"] == "1",
		Type: f.Values["type"], Severity: f.Values["severity"], Description: f.Values["description"],
		AllowClose: f.Values["confirm_distinct"] == "1",
	}
	if u != nil {
		d.ReporterName = u.Name
	} else {
		h.guestFields(c, f, &d)
	}
	// Shared with the bodies only when ticked; the snapshot is what the reporter saw agreeing.
	if f.Values["contact_ok"] == "1" {
		if u != nil {
			d.Contact = lifecycle.SharedContact(u.Name, u.Email)
		} else {
			d.Contact = lifecycle.SharedContact(f.Values["name"], d.GuestEmail)
		}
	} else {
		f.Values["contact_ok"] = ""
	}
	d.Lat, d.Lng, d.HasPlace = formPoint(c, f)
	var photos []string
	var gps *photo.Point
	again := func(status int, tooClose []views.ReportCard) error {
		v := h.reportFormView(c, f, h.keptPhotos(c, photos))
		v.TooClose = tooClose
		if !d.HasPlace && gps != nil {
			v.PhotoGPS = &views.LatLng{Lat: gps.Lat, Lng: gps.Lng}
		}
		return render(c, status, views.ReportFormPage(h.reportPage(c), v))
	}
	// The cheap checks come first: the fields, then (for a form that would go through) the
	// report limits. Photos are decoded after them, within the hourly photo budget and a
	// decoding slot; a form with other errors still keeps its good photos.
	if f.ok() && len(lifecycle.Check(&d)) == 0 {
		rules := []rule{{"report-ip", c.IP(), 60, time.Hour}}
		if u != nil {
			rules = append(rules, rule{"report-user", u.ID, 20, time.Hour})
		} else {
			rules = append(rules, guestRules(c, d.GuestEmail)...)
		}
		if msg, err := h.overLimit(c, rules...); err != nil {
			return err
		} else if !msg.IsZero() {
			f.fail("", msg)
			return again(fiber.StatusTooManyRequests, nil)
		}
	}
	photos, gps, err := h.formPhotos(c, mf, f)
	if errors.Is(err, errBusy) {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(decodeWait.Seconds())))
		f.fail("photos", i18n.M("errors.photo.busy"))
		return again(fiber.StatusServiceUnavailable, nil)
	} else if err != nil {
		return err
	}
	d.Photos = photos
	for field, msg := range lifecycle.Check(&d) {
		f.fail(field, msg)
	}
	f.Values["description"] = d.Description
	if !f.ok() {
		return again(fiber.StatusUnprocessableEntity, nil)
	}
	saved, created, err := h.life.Create(ctx, d)
	var le *lifecycle.Error
	if errors.As(err, &le) {
		if cards := h.nearbyCards(c, le.Close); len(cards) > 0 {
			f.fail("", i18n.M("reportform.too_close.error"))
			return again(fiber.StatusConflict, cards)
		}
		for field, msg := range le.Fields {
			f.fail(field, msg)
		}
		if f.ok() {
			f.fail("", le.Msg)
		}
		return again(fiber.StatusUnprocessableEntity, nil)
	}
	if err != nil {
		return err
	}
	return h.reportSent(c, saved, created)
}

// reportSent answers a stored report (new, or found again by its idempotency key): a guest's
// report mails its link and goes to "check your email"; a signed-in reporter's opens its page.
// The browser's parked draft is done with.
func (h *handler) reportSent(c *fiber.Ctx, r *store.Report, created bool) error {
	if err := h.dropDraft(c); err != nil {
		return err
	}
	if r.Status == hazard.Unconfirmed {
		return h.guestSent(c, r)
	}
	if created {
		h.setFlash(c, "success", i18n.M("reports.flash.created", "Note", h.moderationNote()))
	}
	return redirect(c, "/reports/"+r.ID)
}

// moderationNote says when a new report shows, which depends on the moderation mode.
func (h *handler) moderationNote() i18n.Msg {
	if h.cfg.Moderation == "pre" {
		return i18n.M("reports.moderation_note.pre")
	}
	return i18n.M("reports.moderation_note.post")
}

// formPoint reads lat/lng as numbers; whether they make a place is lifecycle's to say.
func formPoint(c *fiber.Ctx, f *form) (float64, float64, bool) {
	ls, gs := strings.TrimSpace(f.Values["lat"]), strings.TrimSpace(f.Values["lng"])
	f.Values["lat"], f.Values["lng"] = ls, gs
	if ls == "" && gs == "" {
		return 0, 0, false
	}
	lat, err1 := strconv.ParseFloat(ls, 64)
	lng, err2 := strconv.ParseFloat(gs, 64)
	if err1 != nil || err2 != nil {
		f.fail("lat", i18n.M("errors.report.coordinates"))
		return 0, 0, true
	}
	return lat, lng, true
}

func displayName(name string) string {
	name = filepath.Base(name)
	if r := []rune(name); len(r) > 60 {
		name = string(r[:60]) + "…"
	}
	return name
}

// nearbyReports is the htmx partial of similar open reports near the place on the form.
func (h *handler) nearbyReports(c *fiber.Ctx) error {
	lat, lng, msg := parsePoint(c)
	typ, ok := hazard.TypeByCode(c.Query("type"))
	if !msg.IsZero() || !ok {
		return render(c, fiber.StatusOK, views.NearbyList(h.page(c, ""), nil))
	}
	rs, err := h.store.Nearby(c.UserContext(), lat, lng, h.cfg.DuplicateRadius, typ.Code)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.NearbyList(h.page(c, ""), h.nearbyCards(c, rs)))
}

// nearbyCards are the reports close to the form's place that the asker may see.
func (h *handler) nearbyCards(c *fiber.Ctx, rs []store.NearbyReport) []views.ReportCard {
	var out []views.ReportCard
	for _, r := range rs {
		if !h.life.CanSee(c.UserContext(), currentUser(c), r.Report) {
			continue
		}
		card := h.card(c, r.Report)
		card.Distance = say(c, "reports.distance", map[string]any{"Metres": i18n.Int(c.UserContext(), int(math.Round(r.Metres)))})
		out = append(out, card)
	}
	return out
}
