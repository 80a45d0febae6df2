package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"math"
	"net/url"
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

// maxUpload bounds POST /reports: five photos of 10 MB and the fields.
const maxUpload = hazard.MaxPhotos*photo.MaxBytes + 1<<20

func (h *handler) photoDir() string { return h.cfg.PhotoDir() }

func typeOptions(c *fiber.Ctx) []views.Option {
	ctx := c.UserContext()
	out := make([]views.Option, len(hazard.Types))
	for i, t := range hazard.Types {
		out[i] = views.Option{Value: t.Code, Label: t.Label(ctx), Icon: t.Icon, Help: t.Help(ctx)}
	}
	return out
}

func severityOptions(c *fiber.Ctx) []views.Option {
	ctx := c.UserContext()
	out := make([]views.Option, len(hazard.Severities))
	for i, s := range hazard.Severities {
		out[i] = views.Option{Value: s.Code, Label: s.Label(ctx), Help: s.Help(ctx)}
	}
	return out
}

func newIdemKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (h *handler) reportFormView(c *fiber.Ctx, f *form, photos []views.KeptPhoto) views.ReportFormView {
	m := views.MapView{TileURL: h.cfg.MapTileURL, Attribution: h.cfg.MapAttribution, Lat: h.cfg.MapLat, Lng: h.cfg.MapLng, Zoom: h.cfg.MapZoom}
	return views.ReportFormView{
		Form: f.Form, Types: typeOptions(c), Severities: severityOptions(c), Photos: photos,
		MaxPhotos: hazard.MaxPhotos, Map: m,
	}
}

func (h *handler) reportPage(c *fiber.Ctx) views.Page {
	p := h.page(c, say(c, "nav.report"))
	p.Styles = []string{"vendor/leaflet/leaflet.css"}
	p.Scripts = []string{"vendor/leaflet/leaflet.js", "js/search.js", "js/report.js"}
	return p
}

// newReport shows the empty form; ?lat=&lng= (from a pin on the map) pre-fills the place.
func (h *handler) newReport(c *fiber.Ctx) error {
	f := emptyForm(c)
	f.Values["idem"], f.Values["severity"] = newIdemKey(), "medium"
	if lat, lng, msg := parsePoint(c); msg.IsZero() {
		f.Values["lat"], f.Values["lng"] = strconv.FormatFloat(lat, 'f', 6, 64), strconv.FormatFloat(lng, 'f', 6, 64)
	}
	if t := c.Query("type"); t != "" {
		if _, ok := hazard.TypeByCode(t); ok {
			f.Values["type"] = t
		}
	}
	v := h.reportFormView(c, f, nil)
	if f.Values["lat"] != "" {
		v.Map.Lat, v.Map.Lng, v.Map.Zoom = mustFloat(f.Values["lat"]), mustFloat(f.Values["lng"]), 17
	}
	return render(c, fiber.StatusOK, views.ReportFormPage(h.reportPage(c), v))
}

func mustFloat(s string) float64 { f, _ := strconv.ParseFloat(s, 64); return f }

// createReport validates everything, keeps every photo that was good (so a failed submit loses
// nothing), and stores the report once: the form's idempotency key makes retries harmless.
func (h *handler) createReport(c *fiber.Ctx) error {
	u := currentUser(c)
	mf, _ := c.MultipartForm() // nil for an urlencoded post, which is fine: no photos then
	f := newForm(c, "type", "severity", "description", "lat", "lng", "idem", "show_name", "confirm_distinct", "use_photo_location")
	if f.Values["idem"] == "" {
		f.Values["idem"] = newIdemKey()
	} else if r, err := h.store.Report(c.UserContext(), store.ReportID(u.ID, f.Values["idem"])); err == nil {
		return redirect(c, "/reports/"+r.ID) // a repeated submit: the report exists already
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if p := f.Values["use_photo_location"]; p != "" {
		f.Values["lat"], f.Values["lng"], _ = strings.Cut(p, ",")
	}
	d := lifecycle.Draft{
		ID: store.ReportID(u.ID, f.Values["idem"]), ReporterID: u.ID, ReporterName: u.Name, ShowName: f.Values["show_name"] == "1",
		Type: f.Values["type"], Severity: f.Values["severity"], Description: f.Values["description"],
		AllowClose: f.Values["confirm_distinct"] == "1",
	}
	d.Lat, d.Lng, d.HasPlace = formPoint(f)
	var photos []string
	var gps *photo.Point
	again := func(status int, tooClose []views.ReportCard) error {
		v := h.reportFormView(c, f, h.keptPhotos(c, photos))
		v.TooClose = tooClose
		if !d.HasPlace && gps != nil {
			v.PhotoGPS = &views.LatLng{Lat: gps.Lat, Lng: gps.Lng}
		}
		if d.HasPlace {
			v.Map.Lat, v.Map.Lng, v.Map.Zoom = d.Lat, d.Lng, 17
		}
		return render(c, status, views.ReportFormPage(h.reportPage(c), v))
	}
	// The cheap checks come first: the fields, then (for a form that would go through) the
	// report limit. Photos are decoded after them, within the hourly photo budget and a
	// decoding slot; a form with other errors still keeps its good photos.
	fieldsOK := len(lifecycle.Check(&d)) == 0
	if fieldsOK {
		if msg, err := h.overLimit(c, rule{"report-user", u.ID, 20, time.Hour}, rule{"report-ip", c.IP(), 60, time.Hour}); err != nil {
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
	saved, created, err := h.life.Create(c.UserContext(), d)
	var le *lifecycle.Error
	if errors.As(err, &le) {
		if cards := h.nearbyCards(c, le.Close); len(cards) > 0 {
			f.fail("", le.Msg)
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
	if created {
		h.setFlash(c, "success", i18n.M("reports.flash.created", "Note", h.moderationNote()))
	}
	return redirect(c, "/reports/"+saved.ID)
}

// moderationNote says when a new report shows, which depends on the moderation mode.
func (h *handler) moderationNote() i18n.Msg {
	if h.cfg.Moderation == "pre" {
		return i18n.M("reports.moderation_note.pre")
	}
	return i18n.M("reports.moderation_note.post")
}

// formPoint reads lat/lng as numbers; whether they make a place is lifecycle's to say.
func formPoint(f *form) (float64, float64, bool) {
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

// loadVisible finds a report the current user may see (lifecycle's rule; others are 404).
func (h *handler) loadVisible(c *fiber.Ctx) (*store.Report, error) {
	return h.life.Load(c.UserContext(), currentUser(c), strings.Clone(c.Params("id")))
}

func (h *handler) card(c *fiber.Ctx, r *store.Report) views.ReportCard {
	ctx := c.UserContext()
	t, _ := hazard.TypeByCode(r.Type)
	sev, _ := hazard.SeverityByCode(r.Severity)
	card := views.ReportCard{
		ID: r.ID, TypeLabel: t.Label(ctx), TypeIcon: t.Icon, Severity: r.Severity, SeverityLabel: sev.Words(ctx),
		Status: string(r.Status), StatusLabel: r.Status.Label(ctx), Description: r.Description,
		Address: r.Address, AddressLang: r.AddressLang,
		TimeAgo: i18n.Ago(ctx, r.CreatedAt), Created: r.CreatedAt, Confirmations: r.Confirmations,
	}
	if len(r.Photos) > 0 {
		card.Thumb = "/photos/" + r.Photos[0] + "_t.jpg"
	}
	return card
}

func (h *handler) nearbyCards(c *fiber.Ctx, rs []store.NearbyReport) []views.ReportCard {
	var out []views.ReportCard
	for _, r := range rs {
		if !h.life.CanSee(currentUser(c), r.Report) {
			continue
		}
		card := h.card(c, r.Report)
		card.Distance = say(c, "reports.distance", map[string]any{"Metres": i18n.Int(c.UserContext(), int(math.Round(r.Metres)))})
		out = append(out, card)
	}
	return out
}

// showReport is /reports/{id}.
func (h *handler) showReport(c *fiber.Ctx) error {
	r, err := h.loadVisible(c)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.ReportPage(h.reportViewPage(c, r), h.reportView(c, r, nil)))
}

func (h *handler) reportViewPage(c *fiber.Ctx, r *store.Report) views.Page {
	t, _ := hazard.TypeByCode(r.Type)
	p := h.page(c, say(c, "reports.page_title", map[string]any{"Type": t.Label(c.UserContext())}))
	p.Styles = []string{"vendor/leaflet/leaflet.css"}
	p.Scripts = []string{"vendor/leaflet/leaflet.js", "js/report.js"}
	return p
}

func (h *handler) reportView(c *fiber.Ctx, r *store.Report, editForm *form) views.ReportView {
	u := currentUser(c)
	v := views.ReportView{
		ReportCard: h.card(c, r), Lat: r.Lat, Lng: r.Lng, Version: r.Version, DuplicateOf: r.DuplicateOf,
		CreatedAt: i18n.DateTime(c.UserContext(), r.CreatedAt), Unverified: r.Status == hazard.Pending,
		Map: views.MapView{TileURL: h.cfg.MapTileURL, Attribution: h.cfg.MapAttribution},
	}
	if r.ShowName {
		v.Reporter = r.ReporterName
	}
	for _, ph := range r.Photos {
		v.Photos = append(v.Photos, views.PhotoView{Full: "/photos/" + ph + ".jpg", Thumb: "/photos/" + ph + "_t.jpg"})
	}
	for _, ch := range r.History {
		if ch.Internal { // moderators' own entries (corrections with originals, assignment, abuse flags)
			continue
		}
		item := views.TimelineItem{At: ch.At, Label: timelineLabel(c, ch), Note: ch.Note}
		v.Timeline = append(v.Timeline, item)
	}
	if u != nil {
		confirmed, _ := h.store.Confirmed(c.UserContext(), r.ID, u.ID)
		v.Confirmed = confirmed
		v.CanConfirm = !confirmed && lifecycle.CanConfirm(lifecycle.ActorOf(u), r)
		v.CanEdit = lifecycle.CanEdit(lifecycle.ActorOf(u), r)
		v.CanFollow = u.ID != r.ReporterID
		v.Following, _ = h.store.Follows(c.UserContext(), r.ID, u.ID)
	}
	if editForm != nil {
		v.EditForm = editForm.Form
	}
	if ds, err := h.store.Deliveries(c.UserContext(), r.ID); err != nil {
		h.log.Warn("reading a report's deliveries failed; shown without them", "report", r.ID, "err", err)
	} else {
		v.Timeline, v.Delivery = h.withDeliveries(c, r, v.Timeline, ds), h.deliveryView(c, r, ds)
	}
	v.Updates = h.updatesView(c, r)
	return v
}

// timelineLabel says what one change of a report was.
func timelineLabel(c *fiber.Ctx, ch store.Change) string {
	switch {
	case ch.From == "":
		return say(c, "reports.timeline.reported")
	case ch.Action == hazard.Withdraw:
		return say(c, "reports.timeline.withdrawn")
	case ch.Action == hazard.Expire:
		return say(c, "reports.timeline.expired")
	case ch.Action == "relocate":
		return say(c, "reports.timeline.relocated")
	case ch.Action == "recategorise":
		return say(c, "reports.timeline.recategorised")
	}
	return say(c, "reports.timeline.marked", map[string]any{"Status": ch.To.InlineMsg()})
}

// confirmReport is "I see it too": one per user, not for one's own report.
func (h *handler) confirmReport(c *fiber.Ctx) error {
	r, err := h.loadVisible(c)
	if err != nil {
		return err
	}
	first, err := h.life.Confirm(c.UserContext(), lifecycle.ActorOf(currentUser(c)), r)
	if err != nil {
		return err
	}
	if first {
		h.setFlash(c, "success", i18n.M("reports.flash.confirmed"))
	} else {
		h.setFlash(c, "info", i18n.M("reports.flash.already_confirmed"))
	}
	return redirect(c, "/reports/"+r.ID)
}

// formVersion is the report version a form showed (0: none given, take the current one).
func formVersion(c *fiber.Ctx) int64 {
	v, _ := strconv.ParseInt(c.FormValue("version"), 10, 64)
	return v
}

func (h *handler) editReport(c *fiber.Ctx) error {
	r, err := h.loadVisible(c)
	if err != nil {
		return err
	}
	f := newForm(c, "description")
	_, err = h.life.Edit(c.UserContext(), lifecycle.ActorOf(currentUser(c)), r.ID, formVersion(c), f.Values["description"])
	if lifecycle.KindOf(err) == lifecycle.Invalid {
		var le *lifecycle.Error
		errors.As(err, &le)
		f.fail("", le.Msg)
		r.Description = f.Values["description"]
		return render(c, fiber.StatusUnprocessableEntity, views.ReportPage(h.reportViewPage(c, r), h.reportView(c, r, f)))
	}
	if errors.Is(err, lifecycle.ErrChanged) {
		return refuse(fiber.StatusConflict, "reports.edit.changed")
	}
	if err != nil {
		return err
	}
	h.setFlash(c, "success", i18n.M("reports.flash.description_saved"))
	return redirect(c, "/reports/"+r.ID)
}

func (h *handler) withdrawReport(c *fiber.Ctx) error {
	r, err := h.loadVisible(c)
	if err != nil {
		return err
	}
	_, err = h.life.Withdraw(c.UserContext(), lifecycle.ActorOf(currentUser(c)), r.ID, formVersion(c))
	if errors.Is(err, lifecycle.ErrChanged) {
		return refuse(fiber.StatusConflict, "reports.withdraw.changed")
	}
	if err != nil {
		return err
	}
	h.setFlash(c, "info", i18n.M("reports.flash.withdrawn"))
	return redirect(c, "/reports?mine=1")
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

const perPage = 20

// listReports is /reports: filters in the URL, so every view can be bookmarked; htmx swaps only
// the results.
func (h *handler) listReports(c *fiber.Ctx) error {
	u := currentUser(c)
	l := views.ReportListView{
		Type: c.Query("type"), Status: c.Query("status"), Query: strings.TrimSpace(strings.Clone(c.Query("q"))),
		Mine: c.Query("mine") == "1" && u != nil, SignedIn: u != nil, Types: typeOptions(c),
	}
	for _, s := range hazard.Statuses {
		l.Statuses = append(l.Statuses, views.Option{Value: string(s), Label: s.Label(c.UserContext())})
	}
	q := store.ListQuery{Limit: perPage}
	if l.Type != "" {
		if _, ok := hazard.TypeByCode(l.Type); !ok {
			return refuse(fiber.StatusBadRequest, "errors.unknown_type", "Type", l.Type)
		}
		q.Types = []string{l.Type}
	}
	want := hazard.ActiveStatuses // "current hazards"
	switch {
	case l.Status != "" && !hazard.Status(l.Status).Valid():
		return refuse(fiber.StatusBadRequest, "errors.unknown_status", "Status", l.Status)
	case l.Status != "":
		want = []hazard.Status{hazard.Status(l.Status)}
	case l.Mine:
		want = hazard.Statuses
	}
	// The list holds exactly what lifecycle lets this viewer see: their own reports in any
	// status they may see, everyone's in the statuses the public (or a moderator) may see.
	if l.Mine {
		q.Reporter = u.ID
		q.Statuses = h.life.VisibleStatusesOf(u, want, u.ID)
	} else {
		q.Statuses = h.life.VisibleStatuses(u, want)
	}
	if len([]rune(l.Query)) > 100 {
		return refuse(fiber.StatusBadRequest, "errors.search_long", "Max", 100)
	}
	q.Text = l.Query
	if l.BBox = c.Query("bbox"); l.BBox != "" {
		b, msg := parseBBox(l.BBox)
		if !msg.IsZero() {
			return refuseMsg(fiber.StatusBadRequest, msg)
		}
		q.Box = &b
	}
	page, err := strconv.Atoi(c.Query("page", "1"))
	if err != nil || page < 1 || page > 1000 {
		return refuse(fiber.StatusBadRequest, "errors.page_number", "Max", 1000)
	}
	l.Page, q.Skip = page, (page-1)*perPage
	l.Feed = "/feeds/reports.atom"
	if l.Type != "" {
		l.Feed += "?type=" + l.Type
	}
	if q.Text != "" || q.Box != nil {
		// A search walks an index and reads documents (up to a cap): bounded, but not cheap.
		if msg, err := h.overLimit(c, searchLimit(c)); err != nil {
			return err
		} else if !msg.IsZero() {
			return refuseMsg(fiber.StatusTooManyRequests, msg)
		}
	}
	res, err := h.store.List(c.UserContext(), q)
	if err != nil {
		return err
	}
	more := res.More
	l.Partial = res.Partial
	for _, r := range res.Reports {
		l.Reports = append(l.Reports, h.card(c, r))
	}
	h.markSent(c, l.Reports)
	vals := url.Values{}
	for k, v := range map[string]string{"type": l.Type, "status": l.Status, "q": l.Query, "bbox": l.BBox} {
		if v != "" {
			vals.Set(k, v)
		}
	}
	if l.Mine {
		vals.Set("mine", "1")
	}
	pageURL := func(n int) string {
		vals.Set("page", strconv.Itoa(n))
		return "/reports?" + vals.Encode()
	}
	if page > 1 {
		l.PrevURL = pageURL(page - 1)
	}
	if more {
		l.NextURL = pageURL(page + 1)
	}
	p := h.page(c, say(c, "nav.reports"))
	if isPartial(c) {
		return render(c, fiber.StatusOK, views.ReportResults(l))
	}
	return render(c, fiber.StatusOK, views.ReportsPage(p, l))
}

// apiReport is GET /api/reports/{id}: the report as a GeoJSON Feature (CONTRACT.md).
func (h *handler) apiReport(c *fiber.Ctx) error {
	r, err := h.loadVisible(c)
	if err != nil {
		return err
	}
	f := h.feature(r)
	ds, err := h.store.Deliveries(c.UserContext(), r.ID)
	if err != nil {
		return err
	}
	props := f["properties"].(fiber.Map)
	props["sent_to"], props["sent_label"] = h.sentTo(c, ds)
	return c.JSON(f)
}

func (h *handler) feature(r *store.Report) fiber.Map {
	base := h.cfg.BaseURL.String()
	photos := make([]string, len(r.Photos))
	for i, p := range r.Photos {
		photos[i] = base + "/photos/" + p + ".jpg"
	}
	return fiber.Map{
		"type":     "Feature",
		"id":       r.ID,
		"geometry": fiber.Map{"type": "Point", "coordinates": []float64{r.Lng, r.Lat}},
		"properties": fiber.Map{
			"id": r.ID, "type": r.Type, "severity": r.Severity, "status": r.Status,
			"description": r.Description, "address": r.Address, "address_lang": r.AddressLang,
			"created_at": r.CreatedAt.Format(time.RFC3339), "updated_at": r.UpdatedAt.Format(time.RFC3339),
			"confirmations": r.Confirmations, "photos": photos, "url": base + "/reports/" + r.ID,
		},
	}
}

// searchLimit bounds the list requests that walk indexes (text, an area, Open311 listings) per
// client address: each is bounded, but a crowd of them would slow everyone's map.
func searchLimit(c *fiber.Ctx) rule { return rule{"search-ip", c.IP(), 120, time.Minute} }
