package handlers

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/routing"
	"hazardwatch/store"
	"hazardwatch/views"
)

// What citizens and moderators see of reports going to bodies (issue 15): the form's "this will
// be sent to", the report page's "who has it since when", the lists' "sent" mark, and the
// moderators' sending by hand.

// sendTo is GET /reports/send-to?lat=&lng=&type=: the bodies that would get a report there.
func (h *handler) sendTo(c *fiber.Ctx) error {
	lat, lng, msg := parsePoint(c)
	if !msg.IsZero() {
		return render(c, fiber.StatusOK, views.SendToNote(views.SendToView{}))
	}
	typ := ""
	if t, ok := hazard.TypeByCode(c.Query("type")); ok {
		typ = t.Code
	}
	bs, err := h.routing.Match(c.UserContext(), lat, lng, typ)
	if err != nil {
		return err
	}
	v := views.SendToView{Typed: typ != ""}
	for _, b := range bs {
		types := b.Types
		if typ != "" {
			types = []string{typ}
		}
		v.Bodies = append(v.Bodies, views.SendToItem{Name: b.Name, Types: h.typeNames(c, types)})
	}
	return render(c, fiber.StatusOK, views.SendToNote(v))
}

// deliveryView is the report page's panel.
func (h *handler) deliveryView(c *fiber.Ctx, r *store.Report, ds []store.Delivery) views.DeliveryView {
	ctx := c.UserContext()
	u := currentUser(c)
	v := views.DeliveryView{ReportID: r.ID, Moderator: u != nil && h.life.Moderates(ctx, u, r.ID)}
	for _, d := range ds {
		it := views.DeliveryItem{BodyID: d.Body, Name: d.BodyName, Via: d.Via, State: d.State, ExternalID: d.ExternalID}
		if d.ErrorKey != "" {
			it.Error = i18n.T(ctx, d.ErrorKey, map[string]any{"Detail": d.Error})
		}
		switch d.State {
		case store.DeliverySent:
			it.When = i18n.DateTime(ctx, d.At)
			v.Sent = append(v.Sent, it)
		case store.DeliveryFailed:
			v.Failed = append(v.Failed, it)
		default:
			v.Waiting = append(v.Waiting, it)
		}
	}
	if !v.Moderator {
		return v
	}
	v.Unrouted, _ = h.store.IsUnrouted(ctx, r.ID)
	if h.life.PublicNow(r.Status) {
		bs, err := h.routing.Bodies(ctx)
		if err != nil {
			h.log.Warn("listing bodies for the send form failed", "err", err)
		}
		for _, b := range bs {
			if u.Role == store.RoleStaff && b.ID != u.Body {
				continue // a body's staff send again only to their own body (routing.SendTo)
			}
			v.Bodies = append(v.Bodies, views.Option{Value: b.ID, Label: b.Name})
		}
	}
	return v
}

// sentVia names the timeline entry of a send, by the way it went.
var sentVia = map[string]string{store.ByEmail: "bodies.timeline.sent_email", store.ByOpen311: "bodies.timeline.sent_open311"}

// withDeliveries adds the sends to a report's timeline, in time order.
func withDeliveries(c *fiber.Ctx, items []views.TimelineItem, ds []store.Delivery) []views.TimelineItem {
	ctx := c.UserContext()
	for _, d := range ds {
		if d.State == store.DeliverySent {
			items = append(items, views.TimelineItem{At: d.At, Label: i18n.T(ctx, sentVia[d.Via], map[string]any{"Body": d.BodyName})})
		}
	}
	slices.SortStableFunc(items, func(a, b views.TimelineItem) int { return a.At.Compare(b.At) })
	return items
}

// sentNames are the bodies a report was sent to, for the lists' mark ("" when none).
func sentNames(ds []store.Delivery) string {
	var names []string
	for _, d := range ds {
		if d.State == store.DeliverySent {
			names = append(names, d.BodyName)
		}
	}
	return strings.Join(names, ", ")
}

// markSent puts the "sent" mark on list cards (one pipelined read for the page).
func (h *handler) markSent(c *fiber.Ctx, cards []views.ReportCard) {
	ids := make([]string, len(cards))
	for i, card := range cards {
		ids[i] = card.ID
	}
	ds, err := h.store.DeliveriesOf(c.UserContext(), ids)
	if err != nil {
		h.log.Warn("reading deliveries for a list failed; shown without marks", "err", err)
		return
	}
	for i := range cards {
		cards[i].Sent = sentNames(ds[cards[i].ID])
	}
}

// sentTo is the report Feature's sent_to (CONTRACT.md) and the popup's line about it.
func (h *handler) sentTo(c *fiber.Ctx, ds []store.Delivery) ([]fiber.Map, string) {
	out := []fiber.Map{}
	for _, d := range ds {
		if d.State == store.DeliverySent {
			out = append(out, fiber.Map{"body": d.BodyName, "body_id": d.Body, "via": d.Via, "at": d.At.Format(time.RFC3339), "external_id": d.ExternalID})
		}
	}
	label := ""
	if names := sentNames(ds); names != "" {
		label = i18n.T(c.UserContext(), "bodies.mark.title", map[string]any{"Bodies": names})
	}
	return out, label
}

// sendReport is POST /moderation/reports/{id}/send: a moderator sends a report to a body by hand
// (one no body covers, a failed send again, or a body that should see it again).
func (h *handler) sendReport(c *fiber.Ctx) error {
	ctx := c.UserContext()
	id, bid := strings.Clone(c.Params("id")), strings.Clone(c.FormValue("body"))
	err := h.routing.SendTo(ctx, lifecycle.ActorOf(currentUser(c)), id, bid)
	switch {
	case errors.Is(err, routing.ErrForbidden):
		return refuse(fiber.StatusForbidden, "bodies.report.err_forbidden")
	case errors.Is(err, routing.ErrOtherBody):
		return refuse(fiber.StatusForbidden, "bodies.report.err_other_body")
	case errors.Is(err, routing.ErrNoReport):
		return refuse(fiber.StatusNotFound, "bodies.report.err_gone")
	case errors.Is(err, routing.ErrNoBody):
		return refuse(fiber.StatusUnprocessableEntity, "bodies.report.err_body")
	case errors.Is(err, routing.ErrNotPublic):
		return refuse(fiber.StatusConflict, "bodies.report.err_public")
	case err != nil:
		return err
	}
	h.audit(c, "report.send", id, bid)
	h.setFlash(c, "success", i18n.M("bodies.report.queued"))
	return redirect(c, "/reports/"+id)
}

// deliveries is GET /moderation/deliveries: failed sends and reports no body covers.
func (h *handler) deliveries(c *fiber.Ctx) error {
	ctx := c.UserContext()
	failed, err := h.store.FailedDeliveries(ctx, 200)
	if err != nil {
		return err
	}
	unrouted, err := h.store.Unrouted(ctx, 200)
	if err != nil {
		return err
	}
	var ids []string
	for _, f := range failed {
		ids = append(ids, f.Report)
	}
	rs, err := h.store.ReportsByID(ctx, append(ids, unrouted...))
	if err != nil {
		return err
	}
	byID := map[string]*store.Report{}
	for _, r := range rs {
		byID[r.ID] = r
	}
	ds, err := h.store.DeliveriesOf(ctx, ids)
	if err != nil {
		return err
	}
	var v views.DeliveriesView
	for _, f := range failed {
		r := byID[f.Report]
		if r == nil {
			continue
		}
		row := views.DeliveryRow{Report: h.card(c, r)}
		for _, d := range ds[f.Report] {
			if d.Body == f.Body {
				row.Body = d.BodyName
				if d.ErrorKey != "" {
					row.Error = i18n.T(ctx, d.ErrorKey, map[string]any{"Detail": d.Error})
				}
			}
		}
		v.Failed = append(v.Failed, row)
	}
	for _, id := range unrouted {
		if r := byID[id]; r != nil {
			v.Unrouted = append(v.Unrouted, h.card(c, r))
		}
	}
	return render(c, fiber.StatusOK, views.DeliveriesPage(h.page(c, i18n.T(ctx, "bodies.queue.title")), v))
}
