package handlers

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
	"hazardwatch/views"
)

// actionLabels are the moderator's verbs as the queue shows them (labels are catalog ids).
var actionLabels = []views.Option{
	{Value: string(hazard.Approve), Label: "moderation.action.approve"},
	{Value: string(hazard.Start), Label: "moderation.action.start"},
	{Value: string(hazard.Resolve), Label: "moderation.action.resolve"},
	{Value: string(hazard.Reject), Label: "moderation.action.reject"},
	{Value: string(hazard.MarkDuplicate), Label: "moderation.action.duplicate"},
	{Value: string(hazard.Reopen), Label: "moderation.action.reopen"},
}

// allowedActions lists the moderator actions the workflow table allows from s.
func allowedActions(c *fiber.Ctx, s hazard.Status) []views.Option {
	var out []views.Option
	for _, a := range actionLabels {
		if _, ok := hazard.Next(s, hazard.Action(a.Value)); ok {
			a.Label = say(c, a.Label)
			out = append(out, a)
		}
	}
	return out
}

// moderationItems builds the queue rows, counting likely duplicates for all of them at once.
func (h *handler) moderationItems(c *fiber.Ctx, rs []*store.Report) []views.ModerationItem {
	near, err := h.store.NearbyCounts(c.UserContext(), rs, h.cfg.DuplicateRadius)
	if err != nil {
		h.log.Warn("review queue: nearby counts unavailable", "err", err)
	}
	items := make([]views.ModerationItem, len(rs))
	for i, r := range rs {
		items[i] = views.ModerationItem{ReportCard: h.card(c, r), Version: r.Version, Lat: r.Lat, Lng: r.Lng,
			Actions: allowedActions(c, r.Status), Nearby: near[r.ID]}
	}
	return items
}

func (h *handler) moderationItem(c *fiber.Ctx, r *store.Report) views.ModerationItem {
	return h.moderationItems(c, []*store.Report{r})[0]
}

// moderation is the review queue (moderators and admins): one status, oldest first.
func (h *handler) moderation(c *fiber.Ctx) error {
	v := views.ModerationView{Status: c.Query("status", string(hazard.Pending)), Type: c.Query("type"), Types: typeOptions(c)}
	if !hazard.Status(v.Status).Valid() {
		return refuse(fiber.StatusBadRequest, "errors.unknown_status", "Status", v.Status)
	}
	if _, ok := hazard.TypeByCode(v.Type); v.Type != "" && !ok {
		return refuse(fiber.StatusBadRequest, "errors.unknown_type", "Type", v.Type)
	}
	for _, s := range hazard.Statuses {
		v.Statuses = append(v.Statuses, views.Option{Value: string(s), Label: s.Label(c.UserContext())})
	}
	v.Severity = c.Query("severity")
	if _, ok := hazard.SeverityByCode(v.Severity); v.Severity != "" && !ok {
		return refuse(fiber.StatusBadRequest, "errors.unknown_severity", "Severity", v.Severity)
	}
	v.BBox = strings.TrimSpace(c.Query("bbox"))
	var area *store.BBox
	if v.BBox != "" {
		b, msg := parseBBox(v.BBox)
		if !msg.IsZero() {
			return refuseMsg(fiber.StatusBadRequest, msg)
		}
		area = &b
	}
	page, err := strconv.Atoi(c.Query("page", "0"))
	if err != nil || page < 0 || page > 10000 {
		return refuse(fiber.StatusBadRequest, "errors.page_number", "Max", 10000)
	}
	rs, more, err := h.store.ModerationQueue(c.UserContext(), v.Status, page, 50)
	if err != nil {
		return err
	}
	var shown []*store.Report
	for _, r := range rs {
		if (v.Type == "" || r.Type == v.Type) && (v.Severity == "" || r.Severity == v.Severity) && (area == nil || area.Contains(r.Lat, r.Lng)) {
			shown = append(shown, r)
		}
	}
	v.Items = h.moderationItems(c, shown)
	if more {
		q := url.Values{"status": {v.Status}, "page": {strconv.Itoa(page + 1)}}
		for k, val := range map[string]string{"type": v.Type, "severity": v.Severity, "bbox": v.BBox} {
			if val != "" {
				q.Set(k, val)
			}
		}
		v.NextURL = "/moderation?" + q.Encode()
	}
	p := h.page(c, say(c, "moderation.title"))
	return render(c, fiber.StatusOK, views.ModerationPage(p, v))
}

// moderate applies one action (CONTRACT.md: action, note, duplicate_of) at the version the
// moderator saw. A concurrent change wins over a stale form: 409 "changed by someone else".
func (h *handler) moderate(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	f := newForm(c, "action", "note", "duplicate_of", "version")
	version, _ := strconv.ParseInt(f.Values["version"], 10, 64)
	action, note := hazard.Action(f.Values["action"]), strings.TrimSpace(f.Values["note"])
	r, err := h.life.Transition(c.UserContext(), lifecycle.ActorOf(currentUser(c)), id, version, action, note, strings.TrimSpace(f.Values["duplicate_of"]))
	var le *lifecycle.Error
	if errors.As(err, &le) && le.Kind != lifecycle.NotFound && isPartial(c) {
		// Answer with the row itself, its error inside, so the moderator sees where it went wrong.
		if cur, err := h.store.Report(c.UserContext(), id); err == nil {
			it := h.moderationItem(c, cur)
			it.Error = i18n.Say(c.UserContext(), le.Msg)
			return render(c, lifecycleStatus(le.Kind), views.ModerationRow(h.page(c, ""), it))
		}
	}
	if err != nil {
		return err
	}
	h.audit(c, "report."+string(action), id, note)
	if isPartial(c) {
		return render(c, fiber.StatusOK, views.ModerationRow(h.page(c, ""), h.moderationItem(c, r)))
	}
	h.setFlash(c, "success", i18n.M("moderation.flash.marked", "Status", r.Status.InlineMsg()))
	return redirect(c, "/moderation")
}

// audit records an action of the current user; a failure is logged, the action stands.
func (h *handler) audit(c *fiber.Ctx, action, target, note string) {
	actor := "anonymous"
	if u := currentUser(c); u != nil {
		actor = u.ID
	}
	if err := h.store.Audit(c.UserContext(), store.AuditEntry{Actor: actor, Action: action, Target: target, IP: c.IP(), Note: note}); err != nil {
		h.log.Error("audit entry lost", "action", action, "target", target, "err", err)
	}
}
