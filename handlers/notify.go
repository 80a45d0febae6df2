package handlers

import (
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

// notifyStatus queues a mail about r's new status to its reporter and followers (not to the
// person who made the change, nor to anyone who switched mails off). The queue key (report,
// version, recipient) keeps each mail to one sending.
func (h *handler) notifyStatus(c *fiber.Ctx, r *store.Report, actor string) {
	recipients := []string{r.ReporterID}
	if fs, err := h.store.Followers(c.UserContext(), r.ID); err == nil {
		recipients = append(recipients, fs...)
	}
	t, _ := hazard.TypeByCode(r.Type)
	note := ""
	if n := len(r.History); n > 0 {
		note = r.History[n-1].Note
	}
	link := h.cfg.BaseURL.String() + "/reports/" + r.ID
	seen := map[string]bool{actor: true}
	for _, uid := range recipients {
		if seen[uid] {
			continue
		}
		seen[uid] = true
		u, err := h.store.UserByID(c.UserContext(), uid)
		if err != nil || u.NoMail || u.Disabled {
			continue // API reporters and unknown ids have no account; others opted out
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Hello %s,\n\nThe %s report you follow is now: %s.\n", u.Name, strings.ToLower(t.Label), r.Status.Label())
		if note != "" {
			fmt.Fprintf(&b, "\nNote from the moderators: %s\n", note)
		}
		fmt.Fprintf(&b, "\nSee it here: %s\n\nYou can switch these mails off on your account page: %s/account\n", link, h.cfg.BaseURL.String())
		err = h.store.EnqueueMail(c.UserContext(), store.QueuedMail{
			Key: fmt.Sprintf("%s:%d:%s", r.ID, r.Version, uid), To: u.Email, Link: link,
			Subject: "Your hazard report: " + r.Status.Label(), Text: b.String(),
		})
		if err != nil {
			h.log.Error("status mail not queued", "report", r.ID, "err", err)
		}
	}
}

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
		h.setFlash(c, "success", "You will get an email when this report changes.")
	} else {
		h.setFlash(c, "info", "You no longer follow this report.")
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
		h.setFlash(c, "success", "You will get emails when your reports, or ones you follow, change.")
	} else {
		h.setFlash(c, "info", "Status emails are off.")
	}
	return redirect(c, "/account")
}
