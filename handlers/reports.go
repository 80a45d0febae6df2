package handlers

import (
	"cmp"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
	"hazardwatch/views"
)

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
	ds, err := h.store.Deliveries(c.UserContext(), r.ID)
	if err != nil {
		h.log.Warn("reading a report's deliveries failed; shown without them", "report", r.ID, "err", err)
	}
	bodyNames := map[string]string{}
	for _, d := range ds {
		bodyNames[d.Body] = d.BodyName
	}
	for _, ch := range r.History {
		if ch.Internal { // moderators' own entries (corrections with originals, assignment, abuse flags)
			continue
		}
		if ch.Action == hazard.ConfirmEmail {
			continue // a guest's own link: the report counts from when it was made
		}
		v.Timeline = append(v.Timeline, views.TimelineItem{At: ch.At, Label: timelineLabel(c, ch, bodyNames), Note: ch.Note})
	}
	if u != nil {
		confirmed, _ := h.store.Confirmed(c.UserContext(), r.ID, u.ID)
		v.Confirmed = confirmed
		v.CanConfirm = !confirmed && lifecycle.CanConfirm(lifecycle.ActorOf(u), r)
		v.CanEdit = lifecycle.CanEdit(lifecycle.ActorOf(u), r)
		v.CanFollow = u.ID != r.ReporterID
		v.OwnReport, v.ContactShared = u.ID == r.ReporterID, r.Contact != nil
		v.Following, _ = h.store.Follows(c.UserContext(), r.ID, u.ID)
	}
	if editForm != nil {
		v.EditForm = editForm.Form
	}
	if err == nil {
		v.Timeline, v.Delivery = withDeliveries(c, v.Timeline, ds), h.deliveryView(c, r, ds)
	}
	v.Updates = h.updatesView(c, r)
	return v
}

// timelineLabel says what one change of a report was, and who made it when it was a body: its
// own system (named as its deliveries name it) or its staff (the name the change recorded; the
// person is for moderators only).
func timelineLabel(c *fiber.Ctx, ch store.Change, bodyNames map[string]string) string {
	if ch.BodyName != "" && ch.Action != "" && ch.From != ch.To {
		return say(c, "reports.timeline.body_marked", map[string]any{"Body": ch.BodyName, "Status": ch.To.InlineMsg()})
	}
	label := changeLabel(c, ch)
	switch bid := lifecycle.BodyOf(ch.By); {
	case ch.BodyName != "":
		return say(c, "bodies.timeline.by_body", map[string]any{"Label": label, "Body": ch.BodyName})
	case bid == "":
		return label
	case ch.Action == lifecycle.BodyNote:
		return say(c, "bodies.timeline.note", map[string]any{"Body": cmp.Or(bodyNames[bid], say(c, "bodies.timeline.a_body"))})
	default:
		return say(c, "bodies.timeline.by_body", map[string]any{"Label": label, "Body": cmp.Or(bodyNames[bid], say(c, "bodies.timeline.a_body"))})
	}
}

// changeLabel says what one change of a report was.
func changeLabel(c *fiber.Ctx, ch store.Change) string {
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
