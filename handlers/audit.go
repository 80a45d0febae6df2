package handlers

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/store"
	"hazardwatch/views"
)

// streamID is the shape of the audit stream's entry ids ("1700000000000-0"), which before names.
var streamID = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

// auditLog is /admin/audit: newest first, filtered by actor, action (prefix) and target.
func (h *handler) auditLog(c *fiber.Ctx) error {
	v := views.AuditView{Actor: strings.TrimSpace(c.Query("actor")), Action: strings.TrimSpace(c.Query("action")), Target: strings.TrimSpace(c.Query("target"))}
	before := c.Query("before")
	if len(v.Actor) > 40 || len(v.Action) > 40 || len(v.Target) > 40 || len(before) > 40 {
		return refuse(fiber.StatusBadRequest, "admin.audit.filters_long", "Max", 40)
	}
	if before != "" && !streamID.MatchString(before) {
		return refuse(fiber.StatusBadRequest, "admin.audit.bad_page")
	}
	entries, next, err := h.store.AuditLog(c.UserContext(), store.AuditFilter{Actor: v.Actor, Action: v.Action, Target: v.Target}, before, 100)
	if err != nil {
		return err
	}
	for _, e := range entries {
		v.Entries = append(v.Entries, views.AuditRow{When: e.At.Format("2006-01-02 15:04:05"), Actor: e.Actor, Action: e.Action, Target: e.Target, IP: e.IP, Note: e.Note})
	}
	if next != "" {
		q := url.Values{"before": {next}}
		for k, val := range map[string]string{"actor": v.Actor, "action": v.Action, "target": v.Target} {
			if val != "" {
				q.Set(k, val)
			}
		}
		v.NextURL = "/admin/audit?" + q.Encode()
	}
	return render(c, fiber.StatusOK, views.AuditPage(h.page(c, say(c, "admin.audit.title")), v))
}
