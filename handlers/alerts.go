package handlers

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/links"
	"hazardwatch/store"
	"hazardwatch/views"
)

// Area alerts (CONTRACT.md /alerts): the signed-in user's list and the form for a new one, which
// arrives pre-filled from the map ("Follow this area": lat, lng, z), a report or a box (bbox), or
// a point and a radius; and the one-click unsubscribe that every alert mail links to.

func knownType(t string) bool { _, ok := hazard.TypeByCode(t); return ok }

// alertRows are a user's alerts as the account and alerts pages list them.
func (h *handler) alertRows(c *fiber.Ctx, uid string) ([]views.AlertRow, error) {
	as, err := h.store.Alerts(c.UserContext(), uid)
	if err != nil {
		return nil, err
	}
	ctx := c.UserContext()
	rows := make([]views.AlertRow, 0, len(as))
	for _, a := range as {
		row := views.AlertRow{ID: a.ID, Name: a.Name, Digest: a.Digest, Feed: feedURL(a.Box, a.Types)}
		if a.Radius > 0 {
			row.Area = i18n.T(ctx, "alerts.area.radius", map[string]any{"Radius": distance(a.Radius), "Lat": coord5(a.Lat), "Lng": coord5(a.Lng)})
		} else {
			row.Area = i18n.T(ctx, "alerts.area.box", map[string]any{"Size": boxSize(a.Box)})
		}
		for _, t := range a.Types {
			if ty, ok := hazard.TypeByCode(t); ok {
				row.Types = append(row.Types, ty.Label(c.UserContext()))
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func coord5(f float64) string { return strconv.FormatFloat(f, 'f', 5, 64) }

func distance(m float64) string {
	if m >= 1000 {
		return strconv.FormatFloat(m/1000, 'f', -1, 64) + " km"
	}
	return strconv.FormatFloat(m, 'f', 0, 64) + " m"
}

func boxSize(b store.BBox) string {
	mid := (b.MinLat + b.MaxLat) / 2
	w, h := store.Metres(mid, b.MinLng, mid, b.MaxLng), store.Metres(b.MinLat, b.MinLng, b.MaxLat, b.MinLng)
	return fmt.Sprintf("%.1f × %.1f km", w/1000, h/1000)
}

// feedURL is the Atom feed of an area.
func feedURL(b store.BBox, types []string) string {
	q := url.Values{"bbox": {fmt.Sprintf("%.5f,%.5f,%.5f,%.5f", b.MinLng, b.MinLat, b.MaxLng, b.MaxLat)}}
	if len(types) > 0 {
		q.Set("type", strings.Join(types, ","))
	}
	return "/feeds/reports.atom?" + q.Encode()
}

func (h *handler) alertsView(c *fiber.Ctx, f *form) (views.AlertsView, error) {
	rows, err := h.alertRows(c, currentUser(c).ID)
	if err != nil {
		return views.AlertsView{}, err
	}
	v := views.AlertsView{Alerts: rows, Max: store.MaxAlerts, Form: f.Form}
	for _, t := range hazard.Types {
		v.Types = append(v.Types, views.CheckOption{Option: views.Option{Value: t.Code, Label: t.Label(c.UserContext()), Icon: t.Icon}, Checked: slices.Contains(strings.Split(f.Values["types"], ","), t.Code)})
	}
	if b, msg := parseBBox(f.Values["bbox"]); msg.IsZero() {
		v.ViewSize = boxSize(b)
	}
	return v, nil
}

// alerts is GET /alerts: the list and a form pre-filled from the query.
func (h *handler) alerts(c *fiber.Ctx) error {
	f := emptyForm(c)
	f.Values["area"], f.Values["radius"] = "radius", "500"
	q := func(k string) string { return strings.TrimSpace(strings.Clone(c.Query(k))) }
	if b := q("bbox"); b != "" {
		f.Values["bbox"], f.Values["area"] = b, "view"
	}
	if c.Query("lat") != "" {
		if lat, lng, msg := parsePoint(c); msg.IsZero() {
			f.Values["lat"], f.Values["lng"] = coord5(lat), coord5(lng)
			if z, err := strconv.Atoi(q("z")); err == nil && z >= 1 && z <= 19 {
				b := viewBox(lat, lng, z)
				f.Values["bbox"], f.Values["area"] = fmt.Sprintf("%.5f,%.5f,%.5f,%.5f", b.MinLng, b.MinLat, b.MaxLng, b.MaxLat), "view"
			}
		}
	}
	if r := q("radius"); r != "" {
		f.Values["radius"] = r
	}
	f.Values["types"] = q("type")
	v, err := h.alertsView(c, f)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.AlertsPage(h.page(c, i18n.T(c.UserContext(), "alerts.title")), v))
}

// createAlert is POST /alerts: area=view with bbox, or area=radius with lat, lng (or an address
// to look up) and radius in metres; type (repeatable, none: all), digest=1, name.
func (h *handler) createAlert(c *fiber.Ctx) error {
	ctx := c.UserContext()
	u := currentUser(c)
	f := newForm(c, "area", "bbox", "lat", "lng", "radius", "address", "digest", "name")
	var types []string
	if mf, err := c.MultipartForm(); err == nil {
		types = mf.Value["type"]
	} else {
		for _, v := range c.Request().PostArgs().PeekMulti("type") {
			types = append(types, string(v))
		}
	}
	f.Values["types"] = strings.Join(types, ",")
	a := &store.Alert{UserID: u.ID, Types: types, Digest: f.Values["digest"] == "1", Name: store.CleanName(f.Values["name"])}
	fail := func(field, id string) { f.fail(field, i18n.M(id, "Max", store.MaxAlerts)) }
	if len([]rune(a.Name)) > 80 {
		fail("name", "alerts.error.name")
	}
	switch f.Values["area"] {
	case "view":
		b, msg := parseBBox(f.Values["bbox"])
		if !msg.IsZero() {
			fail("area", "alerts.error.area")
		}
		a.Box = b
		if a.Name == "" {
			a.Name = i18n.T(ctx, "alerts.name.view", map[string]any{"Size": boxSize(b)})
		}
	case "radius":
		r, err := strconv.ParseFloat(strings.TrimSpace(f.Values["radius"]), 64)
		if err != nil {
			fail("radius", "alerts.error.radius")
		}
		a.Radius = r
		lat, err1 := strconv.ParseFloat(strings.TrimSpace(f.Values["lat"]), 64)
		lng, err2 := strconv.ParseFloat(strings.TrimSpace(f.Values["lng"]), 64)
		place := ""
		if (err1 != nil || err2 != nil) && strings.TrimSpace(f.Values["address"]) != "" {
			places, err := h.geo.Search(ctx, strings.TrimSpace(f.Values["address"]), 1)
			if err != nil {
				return err
			}
			if len(places) == 0 {
				fail("address", "alerts.error.address")
			} else {
				lat, lng, err1, err2, place = places[0].Lat, places[0].Lng, nil, nil, places[0].Label
				f.Values["lat"], f.Values["lng"] = coord5(lat), coord5(lng)
			}
		} else if err1 != nil || err2 != nil {
			fail("address", "alerts.error.where")
		}
		a.Lat, a.Lng = lat, lng
		if a.Name == "" {
			a.Name = i18n.T(ctx, "alerts.name.radius", map[string]any{"Radius": distance(r), "Place": cmpOr(place, coord5(lat)+", "+coord5(lng))})
		}
	default:
		fail("area", "alerts.error.area")
	}
	if f.ok() {
		if field, id := store.AlertProblem(a, knownType); id != "" {
			fail(field, id)
		}
	}
	status := fiber.StatusUnprocessableEntity
	if f.ok() {
		err := h.store.CreateAlert(ctx, a)
		if errors.Is(err, store.ErrTooManyAlerts) {
			fail("", "alerts.error.limit")
			status = fiber.StatusConflict
		} else if err != nil {
			return err
		}
	}
	if !f.ok() {
		if f.Errors[""] == "" {
			f.Errors[""] = i18n.T(ctx, "alerts.error.form")
		}
		v, err := h.alertsView(c, f)
		if err != nil {
			return err
		}
		return render(c, status, views.AlertsPage(h.page(c, i18n.T(ctx, "alerts.title")), v))
	}
	h.setFlash(c, "success", i18n.M("alerts.saved", "Name", a.Name))
	return redirect(c, "/alerts")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// deleteAlert is POST /alerts/{id}/delete (from /alerts or /account: next says where back).
func (h *handler) deleteAlert(c *fiber.Ctx) error {
	err := h.store.DeleteAlert(c.UserContext(), currentUser(c).ID, strings.Clone(c.Params("id")))
	if errors.Is(err, store.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, i18n.T(c.UserContext(), "alerts.error.gone"))
	} else if err != nil {
		return err
	}
	h.setFlash(c, "info", i18n.M("alerts.deleted"))
	back := "/alerts"
	if c.FormValue("next") == "/account" {
		back = "/account"
	}
	return redirect(c, back)
}

// unsubscribeForm is GET /alerts/unsubscribe?token=: one button (a link opened by a mail
// scanner must not unsubscribe anyone; RFC 8058 clients POST straight away).
func (h *handler) unsubscribeForm(c *fiber.Ctx) error {
	return h.unsubscribeStep(c, false)
}

// unsubscribe is POST /alerts/unsubscribe?token=, from our page's button or a mail client's
// one-click (RFC 8058, no cookies: the signed token is the authority, hence no CSRF check).
func (h *handler) unsubscribe(c *fiber.Ctx) error {
	return h.unsubscribeStep(c, true)
}

func (h *handler) unsubscribeStep(c *fiber.Ctx, do bool) error {
	ctx := c.UserContext()
	token := strings.Clone(c.Query("token"))
	p := h.page(c, i18n.T(ctx, "unsubscribe.title"))
	v := views.UnsubscribeView{Token: token}
	u, err := h.links.ReadUnsubscribe(ctx, token)
	if errors.Is(err, links.ErrInvalid) || (err == nil && u.User == "" && u.Report == "") {
		v.State = "invalid"
		return render(c, fiber.StatusBadRequest, views.UnsubscribePage(p, v))
	} else if err != nil {
		return err
	}
	switch {
	case u.Report != "":
		v.What = i18n.T(ctx, "unsubscribe.what.report")
		r, err := h.store.Report(ctx, u.Report)
		if errors.Is(err, store.ErrNotFound) || (err == nil && r.ContactEmail == "") {
			v.State = "already"
		} else if err != nil {
			return err
		} else if do {
			if err := h.life.ForgetContact(ctx, u.Report); err != nil {
				return err
			}
			v.State = "done"
		}
	case u.Alert == "*":
		as, err := h.store.Alerts(ctx, u.User)
		if err != nil {
			return err
		}
		v.What = i18n.N(ctx, "unsubscribe.what.all", len(as))
		if len(as) == 0 {
			v.State = "already"
		} else if do {
			for _, a := range as {
				if err := h.store.DeleteAlert(ctx, u.User, a.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			v.State = "done"
		}
	default:
		as, err := h.store.Alerts(ctx, u.User)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(as, func(a *store.Alert) bool { return a.ID == u.Alert })
		if i < 0 {
			v.State = "already"
			break
		}
		v.What = i18n.T(ctx, "unsubscribe.what.alert", map[string]any{"Name": as[i].Name})
		if do {
			if err := h.store.DeleteAlert(ctx, u.User, u.Alert); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			v.State = "done"
		}
	}
	if v.State == "done" {
		h.auditAs(c, u.User, "alert.unsubscribe", cmpOr(u.Report, u.Alert))
	}
	return render(c, fiber.StatusOK, views.UnsubscribePage(p, v))
}

// auditAs records an action done through a signed link (no session).
func (h *handler) auditAs(c *fiber.Ctx, actor, action, target string) {
	if err := h.store.Audit(c.UserContext(), store.AuditEntry{Actor: cmpOr(actor, "link"), Action: action, Target: target, IP: c.IP()}); err != nil {
		h.log.Error("audit entry lost", "action", action, "target", target, "err", err)
	}
}
