package handlers

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/views"
)

// reportAbuse is POST /reports/{id}/abuse: anyone who may see a report flags it, or one of its
// updates (field update), for the moderators' abuse tab, with an optional reason. Limited per
// address and per account: signed-out flags cannot be told apart otherwise.
func (h *handler) reportAbuse(c *fiber.Ctx) error {
	ctx := c.UserContext()
	u := currentUser(c)
	id := strings.Clone(c.Params("id"))
	f := newForm(c, "reason", "update")
	rules := []rule{{"abuse-ip", c.IP(), 30, time.Hour}}
	if u != nil {
		rules = append(rules, rule{"abuse-user", u.ID, 20, time.Hour})
	}
	if msg, err := h.overLimit(c, rules...); err != nil {
		return err
	} else if !msg.IsZero() {
		return refuseMsg(fiber.StatusTooManyRequests, msg)
	}
	if err := h.life.FlagAbuse(ctx, lifecycle.ActorOf(u), u, id, f.Values["update"], f.Values["reason"]); err != nil {
		return err
	}
	msg := i18n.M("moderation.abuse.thanks")
	if isPartial(c) {
		return render(c, fiber.StatusOK, views.AbuseThanks(i18n.Say(ctx, msg)))
	}
	h.setFlash(c, "success", msg)
	return redirect(c, "/reports/"+id)
}
