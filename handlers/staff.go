package handlers

import (
	"context"
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
	"hazardwatch/views"
)

// The staff's tools on one queue row beyond the workflow: assignment, priority, corrections of
// what a citizen wrote, dismissing abuse flags, and the row's panel with the full history.

// staffForm reads what every row form sends: the report, the version the row showed, the fields.
func staffForm(c *fiber.Ctx, fields ...string) (string, int64, *form, lifecycle.Actor) {
	f := newForm(c, append(fields, "version", "back")...)
	v, _ := strconv.ParseInt(f.Values["version"], 10, 64)
	return strings.Clone(c.Params("id")), v, f, lifecycle.ActorOf(currentUser(c))
}

func (h *handler) assignReport(c *fiber.Ctx) error {
	id, v, f, actor := staffForm(c, "assignee")
	assignee := f.Values["assignee"]
	if assignee == "me" {
		assignee = actor.ID
	}
	r, err := h.life.Assign(c.UserContext(), actor, id, v, assignee)
	return h.staffDone(c, id, f.Values["back"], r, err, "report.assign", assignee, i18n.M("moderation.flash.assigned"))
}

func (h *handler) prioritiseReport(c *fiber.Ctx) error {
	id, v, f, actor := staffForm(c, "priority")
	r, err := h.life.SetPriority(c.UserContext(), actor, id, v, f.Values["priority"])
	return h.staffDone(c, id, f.Values["back"], r, err, "report.priority", f.Values["priority"], i18n.M("moderation.flash.priority"))
}

func (h *handler) editDescription(c *fiber.Ctx) error {
	id, v, f, actor := staffForm(c, "description", "reason")
	r, err := h.life.EditDescription(c.UserContext(), actor, id, v, f.Values["description"], f.Values["reason"])
	return h.staffDone(c, id, f.Values["back"], r, err, "report.edit", f.Values["reason"], i18n.M("moderation.flash.corrected"))
}

func (h *handler) hidePhoto(c *fiber.Ctx) error {
	id, v, f, actor := staffForm(c, "photo", "reason")
	r, err := h.life.HidePhoto(c.UserContext(), actor, id, v, f.Values["photo"], f.Values["reason"])
	return h.staffDone(c, id, f.Values["back"], r, err, "report.hide_photo", f.Values["photo"]+": "+f.Values["reason"], i18n.M("moderation.flash.corrected"))
}

func (h *handler) recategoriseReport(c *fiber.Ctx) error {
	id, v, f, actor := staffForm(c, "type", "reason")
	r, err := h.life.Recategorise(c.UserContext(), actor, id, v, f.Values["type"], f.Values["reason"])
	return h.staffDone(c, id, f.Values["back"], r, err, "report.recategorise", f.Values["type"]+": "+f.Values["reason"], i18n.M("moderation.flash.corrected"))
}

func (h *handler) relocateReport(c *fiber.Ctx) error {
	id, v, f, actor := staffForm(c, "lat", "lng", "reason")
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(f.Values["lat"]), 64)
	lng, err2 := strconv.ParseFloat(strings.TrimSpace(f.Values["lng"]), 64)
	if err1 != nil || err2 != nil {
		lat, lng = math.NaN(), math.NaN() // not numbers: lifecycle refuses them, after saying who may move it
	}
	r, err := h.life.Relocate(c.UserContext(), actor, id, v, lat, lng, f.Values["reason"])
	return h.staffDone(c, id, f.Values["back"], r, err, "report.relocate", f.Values["lat"]+","+f.Values["lng"]+": "+f.Values["reason"], i18n.M("moderation.flash.corrected"))
}

func (h *handler) dismissAbuse(c *fiber.Ctx) error {
	id, v, f, actor := staffForm(c, "note")
	r, err := h.life.DismissAbuse(c.UserContext(), actor, id, v, f.Values["note"])
	return h.staffDone(c, id, f.Values["back"], r, err, "report.abuse_dismiss", f.Values["note"], i18n.M("moderation.flash.dismissed"))
}

// rowPanel is GET /moderation/reports/{id}/panel: a row with its staff panel open (htmx loads it
// when the moderator opens the panel; without JavaScript the link shows the row on its own page).
func (h *handler) rowPanel(c *fiber.Ctx) error {
	r, err := h.life.ForModerator(c.UserContext(), lifecycle.ActorOf(currentUser(c)), strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	q := backTo(c, c.Query("back"))
	rc, err := h.rowContext(c, q)
	if err != nil {
		return err
	}
	it, err := h.queueItem(c, r)
	if err != nil {
		return err
	}
	it.Panel = h.panel(c, r)
	if isPartial(c) {
		return render(c, fiber.StatusOK, views.ModerationRow(h.page(c, ""), rc, it))
	}
	v := views.ModerationView{Rows: rc, Items: []views.ModerationItem{it}, Single: true, Self: q.url(0)}
	return render(c, fiber.StatusOK, views.ModerationPage(h.queuePage(c), v))
}

// panel is what only moderators see of a report: its corrections' forms, hidden photos, abuse
// flags, and the whole history with the originals corrections replaced.
func (h *handler) panel(c *fiber.Ctx, r *store.Report) *views.ModerationPanel {
	ctx := c.UserContext()
	p := &views.ModerationPanel{Description: r.Description, Type: r.Type, Lat: r.Lat, Lng: r.Lng}
	for _, ph := range r.Photos {
		p.Photos = append(p.Photos, views.QueuePhoto{Full: "/photos/" + ph + ".jpg", Thumb: "/photos/" + ph + "_t.jpg", Hash: ph})
	}
	for _, ph := range r.HiddenPhotos {
		p.Hidden = append(p.Hidden, views.QueuePhoto{Full: "/photos/" + ph + ".jpg", Thumb: "/photos/" + ph + "_t.jpg", Hash: ph})
	}
	names := map[string]string{}
	name := func(uid string) string {
		switch uid {
		case "":
			return i18n.T(ctx, "moderation.history.someone")
		case lifecycle.System.ID:
			return i18n.T(ctx, "moderation.history.system")
		}
		if n, ok := names[uid]; ok {
			return n
		}
		n := uid
		if u, err := h.store.UserByID(ctx, uid); err == nil {
			n = u.Name
		}
		names[uid] = n
		return n
	}
	for _, a := range r.Abuse {
		p.Abuse = append(p.Abuse, views.AbuseRow{At: a.At, Who: name(a.By), Reason: a.Reason, Update: a.Update})
	}
	for i := len(r.History) - 1; i >= 0; i-- {
		ch := r.History[i]
		who := name(ch.By)
		if ch.BodyName != "" { // a body's staff: the person, for the record, and whose staff
			who = i18n.T(ctx, "moderation.history.for_body", map[string]any{"Name": who, "Body": ch.BodyName})
		}
		row := views.HistoryRow{At: ch.At, Who: who,
			What: historyLabel(ctx, ch, name), Note: ch.Note, Was: ch.Was, Internal: ch.Internal}
		switch ch.Action { // these keep the new and old value in Note and Was: say them as names
		case lifecycle.ActAssign:
			row.Note, row.Was = "", ""
			if ch.Was != "" {
				row.Was = name(ch.Was)
			}
		case lifecycle.ActPriority:
			row.Note, row.Was = "", priorityLabel(ctx, ch.Was)
		}
		p.History = append(p.History, row)
	}
	return p
}

// historyLabel says what one history entry did.
func historyLabel(ctx context.Context, ch store.Change, name func(string) string) string {
	switch {
	case ch.From == "":
		return i18n.T(ctx, "moderation.history.reported")
	case ch.Action == lifecycle.ActRelocate:
		return i18n.T(ctx, "moderation.history.relocate")
	case ch.Action == lifecycle.ActRecategorise:
		return i18n.T(ctx, "moderation.history.recategorise")
	case ch.Action == lifecycle.ActEdit:
		return i18n.T(ctx, "moderation.history.edit")
	case ch.Action == lifecycle.ActHidePhoto:
		return i18n.T(ctx, "moderation.history.hide_photo")
	case ch.Action == lifecycle.ActAssign && ch.Note == "":
		return i18n.T(ctx, "moderation.history.unassigned")
	case ch.Action == lifecycle.ActAssign:
		return i18n.T(ctx, "moderation.history.assigned", map[string]any{"Name": name(ch.Note)})
	case ch.Action == lifecycle.ActPriority && ch.Note == "":
		return i18n.T(ctx, "moderation.history.priority_cleared")
	case ch.Action == lifecycle.ActPriority:
		return i18n.T(ctx, "moderation.history.priority", map[string]any{"Priority": priorityLabel(ctx, ch.Note)})
	case ch.Action == lifecycle.ActAbuse:
		return i18n.T(ctx, "moderation.history.abuse")
	case ch.Action == lifecycle.ActAbuseDismiss:
		return i18n.T(ctx, "moderation.history.abuse_dismissed")
	}
	return i18n.T(ctx, "moderation.history.status", map[string]any{"Status": hazard.Status(ch.To).Label(ctx)})
}

// setShortcuts is POST /account/shortcuts (staff): the review queue's keyboard shortcuts on or
// off (field shortcuts=1|0), for people whose screen reader needs every key.
func (h *handler) setShortcuts(c *fiber.Ctx) error {
	u := currentUser(c)
	on := c.FormValue("shortcuts") == "1"
	if err := h.store.SetShortcuts(c.UserContext(), u.ID, on); err != nil {
		return err
	}
	msg := i18n.M("moderation.shortcuts.off_saved")
	if on {
		msg = i18n.M("moderation.shortcuts.on_saved")
	}
	h.setFlash(c, "success", msg)
	return redirect(c, "/account")
}
