package handlers

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/mail"
	"hazardwatch/store"
	"hazardwatch/views"
	"hazardwatch/worker"
)

// Guest reports (CONTRACT.md): POST /reports without a session also takes `email` (and an
// optional `name`); the report waits unconfirmed until the link mailed there is opened
// (/reports/confirm?token=). The answer and the mail are the same whether or not the address has
// an account, and the link signs nobody in.

// guestFields reads and checks the guest's address and name into d.
func (h *handler) guestFields(c *fiber.Ctx, f *form, d *lifecycle.Draft) {
	email := strings.TrimSpace(f.Values["email"])
	f.Values["email"] = email
	if email == "" {
		f.fail("email", i18n.M("reportform.email.missing"))
	} else {
		d.GuestEmail = f.email("email")
	}
	if strings.TrimSpace(f.Values["name"]) != "" {
		d.ReporterName = f.name("name")
	} else {
		f.Values["name"], d.ShowName = "", false
	}
}

// guestRules limit guest reports by address (each sends a mail there) and by client, on top of
// every report's per-client limit.
func guestRules(c *fiber.Ctx, email string) []rule {
	return []rule{{"guest-ip", c.IP(), 10, time.Hour}, {"guest-email", store.NormalizeEmail(email), 5, time.Hour}}
}

// guestSent mails the confirmation link of an unconfirmed report and says to check the mail. A
// repeated submit (the browser's queue after a lost answer) mails again under the same key, so
// the mail goes once, unless the first attempt died before queueing it.
func (h *handler) guestSent(c *fiber.Ctx, r *store.Report) error {
	ctx := c.UserContext()
	token, err := h.life.GuestToken(ctx, r)
	if err != nil {
		return err
	}
	t, _ := hazard.TypeByCode(r.Type)
	data := mail.GuestData{
		Name: r.ReporterName, Type: t.Label(ctx), Description: r.Description, Address: r.Address,
		Link: h.cfg.BaseURL.String() + "/reports/confirm?token=" + token,
	}
	// The submitter reads this mail in the language they wrote the report in.
	if err := worker.Enqueue(ctx, h.store, "guest-confirm:"+r.ID, r.GuestEmail, mail.GuestConfirm, data); err != nil {
		return err
	}
	h.setFlash(c, "success", i18n.M("reportform.sent.guest", "Email", r.GuestEmail))
	return redirect(c, "/reports/sent")
}

// reportSentPage is "check your email" after a guest's report.
func (h *handler) reportSentPage(c *fiber.Ctx) error {
	return render(c, fiber.StatusOK, views.GuestSentPage(h.page(c, i18n.T(c.UserContext(), "reportform.sent.title"))))
}

// confirmForm shows the report a link is for, with one button that publishes it: mail scanners
// that open every link must not publish reports for people who never sent them.
func (h *handler) confirmForm(c *fiber.Ctx) error {
	token := strings.Clone(c.Query("token"))
	c.Set(fiber.HeaderCacheControl, "no-store")
	r, err := h.life.GuestReport(c.UserContext(), token)
	if err != nil {
		return err
	}
	p := h.page(c, i18n.T(c.UserContext(), "reportform.confirm.title"))
	if r.Status != hazard.Unconfirmed {
		return render(c, fiber.StatusOK, views.GuestConfirmPage(p, views.GuestConfirmView{Done: true, ReportURL: h.publicURL(c, r)}))
	}
	card := h.card(c, r)
	return render(c, fiber.StatusOK, views.GuestConfirmPage(p, views.GuestConfirmView{Token: token, Report: card}))
}

// confirm publishes a guest's report (POST /reports/confirm, field token).
func (h *handler) confirm(c *fiber.Ctx) error {
	ctx := c.UserContext()
	r, err := h.life.ConfirmGuest(ctx, bodyValue(c, "token"))
	if err != nil {
		return err
	}
	h.setFlash(c, "success", i18n.M("reportform.confirm.done", "Note", h.moderationNote()))
	if url := h.publicURL(c, r); url != "" {
		return redirect(c, url)
	}
	return redirect(c, "/")
}

// publicURL is the report's page if the asker may see it ("" under pre-moderation, until a
// moderator approves it).
func (h *handler) publicURL(c *fiber.Ctx, r *store.Report) string {
	if h.life.CanSee(c.UserContext(), currentUser(c), r) {
		return "/reports/" + r.ID
	}
	return ""
}
