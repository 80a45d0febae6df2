package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"math"
	"mime/multipart"
	"net/url"
	"path/filepath"
	"slices"
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

func (h *handler) photoDir() string { return filepath.Join(h.cfg.DataDir, "photos") }

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

func (h *handler) reportFormView(c *fiber.Ctx, f *form, photos []string) views.ReportFormView {
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
	photos, gps := h.formPhotos(c, mf, f)
	d.Photos = photos
	for field, msg := range lifecycle.Check(&d) {
		f.fail(field, msg)
	}
	f.Values["description"] = d.Description

	again := func(status int, tooClose []views.ReportCard) error {
		v := h.reportFormView(c, f, photos)
		v.TooClose = tooClose
		if !d.HasPlace && gps != nil {
			v.PhotoGPS = &views.LatLng{Lat: gps.Lat, Lng: gps.Lng}
		}
		if d.HasPlace {
			v.Map.Lat, v.Map.Lng, v.Map.Zoom = d.Lat, d.Lng, 17
		}
		return render(c, status, views.ReportFormPage(h.reportPage(c), v))
	}
	if !f.ok() {
		return again(fiber.StatusUnprocessableEntity, nil)
	}
	if msg, err := h.overLimit(c, rule{"report-user", u.ID, 20, time.Hour}, rule{"report-ip", c.IP(), 60, time.Hour}); err != nil {
		return err
	} else if !msg.IsZero() {
		f.fail("", msg)
		return again(fiber.StatusTooManyRequests, nil)
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

// formPhotos processes new uploads and re-validates kept ones. Good photos are saved at once, so
// a form that fails for another reason keeps them; the report only ever names saved files.
func (h *handler) formPhotos(c *fiber.Ctx, mf *multipart.Form, f *form) ([]string, *photo.Point) {
	var kept []string
	var files []*multipart.FileHeader
	if mf != nil {
		for _, hash := range mf.Value["photo_keep"] {
			if photo.Exists(h.photoDir(), hash) && !slices.Contains(kept, hash) {
				kept = append(kept, hash)
			}
		}
		for _, fh := range mf.File["photos"] {
			if fh.Size > 0 || fh.Filename != "" {
				files = append(files, fh)
			}
		}
	}
	if len(kept)+len(files) > hazard.MaxPhotos {
		f.fail("photos", lifecycle.TooManyPhotos(len(kept)+len(files)))
		return kept, nil
	}
	var gps *photo.Point
	var problems []string
	problem := func(name string, m i18n.Msg) {
		problems = append(problems, say(c, "reports.photo_problem", map[string]any{"File": displayName(name), "Problem": m}))
	}
	for _, fh := range files {
		file, err := fh.Open()
		if err != nil {
			problem(fh.Filename, i18n.M("errors.photo.unreadable"))
			continue
		}
		p, err := photo.Process(file)
		file.Close()
		var pe *photo.Error
		if errors.As(err, &pe) {
			problem(fh.Filename, pe.Msg)
			continue
		} else if err != nil {
			problem(fh.Filename, i18n.M("errors.photo.unprocessable"))
			h.log.Error("photo processing failed", "err", err)
			continue
		}
		if err := photo.Save(h.photoDir(), p); err != nil {
			h.log.Error("photo save failed", "err", err)
			problem(fh.Filename, i18n.M("errors.photo.unstored"))
			continue
		}
		if gps == nil {
			gps = p.GPS
		}
		if !slices.Contains(kept, p.Hash) {
			kept = append(kept, p.Hash)
		}
	}
	if len(problems) > 0 {
		f.failText("photos", strings.Join(problems, " "))
	}
	return kept, gps
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
		item := views.TimelineItem{At: ch.At, Label: timelineLabel(c, ch), Note: ch.Note}
		v.Timeline = append(v.Timeline, item)
	}
	if u != nil {
		confirmed, _ := h.store.Confirmed(c.UserContext(), r.ID, u.ID)
		v.Confirmed = confirmed
		v.CanConfirm = !confirmed && r.Status.Active() && u.ID != r.ReporterID
		v.CanEdit = u.ID == r.ReporterID && r.Status == hazard.Pending
		v.CanFollow = u.ID != r.ReporterID
		v.Following, _ = h.store.Follows(c.UserContext(), r.ID, u.ID)
	}
	if editForm != nil {
		v.EditForm = editForm.Form
	}
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
	filter := store.ReportFilter{Keep: func(r *store.Report) bool { return h.life.CanSee(u, r) }}
	if l.Type != "" {
		if _, ok := hazard.TypeByCode(l.Type); !ok {
			return refuse(fiber.StatusBadRequest, "errors.unknown_type", "Type", l.Type)
		}
		filter.Types = []string{l.Type}
	}
	switch {
	case l.Status != "" && !hazard.Status(l.Status).Valid():
		return refuse(fiber.StatusBadRequest, "errors.unknown_status", "Status", l.Status)
	case l.Status != "":
		filter.Statuses = []hazard.Status{hazard.Status(l.Status)}
	case !l.Mine:
		filter.Statuses = []hazard.Status{hazard.Pending, hazard.Open, hazard.InProgress}
	}
	if len([]rune(l.Query)) > 100 {
		return refuse(fiber.StatusBadRequest, "errors.search_long", "Max", 100)
	}
	filter.Text = l.Query
	if l.Mine {
		filter.Reporter = u.ID
	}
	page, err := strconv.Atoi(c.Query("page", "1"))
	if err != nil || page < 1 || page > 1000 {
		return refuse(fiber.StatusBadRequest, "errors.page_number", "Max", 1000)
	}
	l.Page = page
	rs, more, err := h.store.Reports(c.UserContext(), filter, page-1, perPage)
	if err != nil {
		return err
	}
	for _, r := range rs {
		l.Reports = append(l.Reports, h.card(c, r))
	}
	q := url.Values{}
	for k, v := range map[string]string{"type": l.Type, "status": l.Status, "q": l.Query} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if l.Mine {
		q.Set("mine", "1")
	}
	pageURL := func(n int) string {
		q.Set("page", strconv.Itoa(n))
		return "/reports?" + q.Encode()
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
	return c.JSON(h.feature(r))
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

// servePhoto serves stored photos: content-addressed, so cacheable forever.
func (h *handler) servePhoto(c *fiber.Ctx) error {
	name := c.Params("name")
	hash, thumb := strings.TrimSuffix(name, ".jpg"), false
	if strings.HasSuffix(hash, "_t") {
		hash, thumb = strings.TrimSuffix(hash, "_t"), true
	}
	if !strings.HasSuffix(name, ".jpg") || !photo.ValidHash(hash) {
		return fiber.ErrNotFound
	}
	full, small := photo.Paths(h.photoDir(), hash)
	path := full
	if thumb {
		path = small
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentType, "image/jpeg")
	if err := c.SendFile(path, false); err != nil {
		return fiber.ErrNotFound
	}
	if c.Response().StatusCode() == fiber.StatusNotFound {
		return fiber.ErrNotFound
	}
	return nil
}
