package handlers

import (
	"errors"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/photo"
	"hazardwatch/store"
	"hazardwatch/views"
)

func (h *handler) photoDir() string { return filepath.Join(h.cfg.DataDir, "photos") }

func typeOptions() []views.Option {
	out := make([]views.Option, len(hazard.Types))
	for i, t := range hazard.Types {
		out[i] = views.Option{Value: t.Code, Label: t.Label, Icon: t.Icon, Help: t.Help}
	}
	return out
}

func severityOptions() []views.Option {
	out := make([]views.Option, len(hazard.Severities))
	for i, s := range hazard.Severities {
		out[i] = views.Option{Value: s.Code, Label: s.Label, Help: s.Help}
	}
	return out
}

// loadVisible finds a report the current user may see (lifecycle's rule; others are 404).
func (h *handler) loadVisible(c *fiber.Ctx) (*store.Report, error) {
	return h.life.Load(c.UserContext(), currentUser(c), strings.Clone(c.Params("id")))
}

func (h *handler) card(r *store.Report) views.ReportCard {
	t, _ := hazard.TypeByCode(r.Type)
	c := views.ReportCard{
		ID: r.ID, TypeLabel: t.Label, TypeIcon: t.Icon, Severity: r.Severity, Status: string(r.Status),
		StatusLabel: r.Status.Label(), Description: r.Description, Address: r.Address,
		TimeAgo: timeAgo(r.CreatedAt), Confirmations: r.Confirmations,
	}
	if len(r.Photos) > 0 {
		c.Thumb = "/photos/" + r.Photos[0] + "_t.jpg"
	}
	return c
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
	p := h.page(c, t.Label+" report")
	p.Styles = []string{"vendor/leaflet/leaflet.css"}
	p.Scripts = []string{"vendor/leaflet/leaflet.js", "js/report.js"}
	return p
}

func (h *handler) reportView(c *fiber.Ctx, r *store.Report, editForm *form) views.ReportView {
	u := currentUser(c)
	v := views.ReportView{
		ReportCard: h.card(r), Lat: r.Lat, Lng: r.Lng, Version: r.Version, DuplicateOf: r.DuplicateOf,
		CreatedAt: r.CreatedAt.Format("2 Jan 2006 15:04 MST"), Unverified: r.Status == hazard.Pending,
		Map: views.MapView{TileURL: h.cfg.MapTileURL, Attribution: h.cfg.MapAttribution},
	}
	if r.ShowName {
		v.Reporter = r.ReporterName
	}
	for _, ph := range r.Photos {
		v.Photos = append(v.Photos, views.PhotoView{Full: "/photos/" + ph + ".jpg", Thumb: "/photos/" + ph + "_t.jpg"})
	}
	for _, ch := range r.History {
		if ch.Action == hazard.ConfirmEmail {
			continue // a guest's own link: the report counts from when it was made
		}
		item := views.TimelineItem{When: ch.At.Format("2 Jan 2006 15:04 MST"), WhenISO: ch.At.Format(time.RFC3339), Note: ch.Note}
		switch {
		case ch.From == "":
			item.Label = "Reported"
		default:
			item.Label = "Marked " + strings.ToLower(ch.To.Label())
		}
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
		h.setFlash(c, "success", "Thank you for confirming that it is still there.")
	} else {
		h.setFlash(c, "info", "You had already confirmed this report.")
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
		return fiber.NewError(fiber.StatusConflict, "The report changed while you were editing. Reload the page and try again.")
	}
	if err != nil {
		return err
	}
	h.setFlash(c, "success", "Description saved.")
	return redirect(c, "/reports/"+r.ID)
}

func (h *handler) withdrawReport(c *fiber.Ctx) error {
	r, err := h.loadVisible(c)
	if err != nil {
		return err
	}
	_, err = h.life.Withdraw(c.UserContext(), lifecycle.ActorOf(currentUser(c)), r.ID, formVersion(c))
	if errors.Is(err, lifecycle.ErrChanged) {
		return fiber.NewError(fiber.StatusConflict, "The report changed meanwhile. Reload the page to see its state.")
	}
	if err != nil {
		return err
	}
	h.setFlash(c, "info", "Your report has been withdrawn.")
	return redirect(c, "/reports?mine=1")
}

const perPage = 20

// listReports is /reports: filters in the URL, so every view can be bookmarked; htmx swaps only
// the results.
func (h *handler) listReports(c *fiber.Ctx) error {
	u := currentUser(c)
	l := views.ReportListView{
		Type: c.Query("type"), Status: c.Query("status"), Query: strings.TrimSpace(strings.Clone(c.Query("q"))),
		Mine: c.Query("mine") == "1" && u != nil, SignedIn: u != nil, Types: typeOptions(),
	}
	for _, s := range hazard.Statuses {
		l.Statuses = append(l.Statuses, views.Option{Value: string(s), Label: s.Label()})
	}
	filter := store.ReportFilter{Keep: func(r *store.Report) bool { return h.life.CanSee(u, r) }}
	if l.Type != "" {
		if _, ok := hazard.TypeByCode(l.Type); !ok {
			return fiber.NewError(fiber.StatusBadRequest, "Unknown hazard type "+strconv.Quote(l.Type)+".")
		}
		filter.Types = []string{l.Type}
	}
	switch {
	case l.Status != "" && !hazard.Status(l.Status).Valid():
		return fiber.NewError(fiber.StatusBadRequest, "Unknown status "+strconv.Quote(l.Status)+".")
	case l.Status != "":
		filter.Statuses = []hazard.Status{hazard.Status(l.Status)}
	case !l.Mine:
		filter.Statuses = []hazard.Status{hazard.Pending, hazard.Open, hazard.InProgress}
	}
	if len([]rune(l.Query)) > 100 {
		return fiber.NewError(fiber.StatusBadRequest, "Keep the search text to 100 characters.")
	}
	filter.Text = l.Query
	if l.Mine {
		filter.Reporter = u.ID
	}
	page, err := strconv.Atoi(c.Query("page", "1"))
	if err != nil || page < 1 || page > 1000 {
		return fiber.NewError(fiber.StatusBadRequest, "The page must be a number from 1 to 1000.")
	}
	l.Page = page
	rs, more, err := h.store.Reports(c.UserContext(), filter, page-1, perPage)
	if err != nil {
		return err
	}
	for _, r := range rs {
		l.Reports = append(l.Reports, h.card(r))
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
	p := h.page(c, "Reports")
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
			"description": r.Description, "address": r.Address,
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
