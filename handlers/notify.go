package handlers

import (
	"github.com/gofiber/fiber/v2"

	"hazardwatch/i18n"
)

// follow switches status mails about a report on or off for the signed-in user.
func (h *handler) follow(c *fiber.Ctx) error {
	r, err := h.loadVisible(c)
	if err != nil {
		return err
	}
	on := c.FormValue("follow") != "0"
	if err := h.store.Follow(c.UserContext(), r.ID, currentUser(c).ID, on); err != nil {
		return err
	}
	if on {
		h.setFlash(c, "success", i18n.M("reports.flash.following"))
	} else {
		h.setFlash(c, "info", i18n.M("reports.flash.unfollowed"))
	}
	return redirect(c, "/reports/"+r.ID)
}

// setNotifications is the account page's switch for status mails.
func (h *handler) setNotifications(c *fiber.Ctx) error {
	on := c.FormValue("notify") == "1"
	if err := h.store.SetNotify(c.UserContext(), currentUser(c).ID, on); err != nil {
		return err
	}
	if on {
		h.setFlash(c, "success", i18n.M("account.notify.on"))
	} else {
		h.setFlash(c, "info", i18n.M("account.notify.off"))
	}
	return redirect(c, "/account")
}
