package handlers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/i18n"
	"hazardwatch/mail"
	"hazardwatch/store"
	"hazardwatch/views"
	"hazardwatch/worker"
)

// workersView is the background work on /admin/system: each consumer group's backlog, and the
// dead letters with a retry button.
func (h *handler) workersView(ctx context.Context) views.DeadLetterView {
	var v views.DeadLetterView
	for _, g := range []struct {
		st    store.Stream
		group string
	}{{store.EventsStream, worker.LiveGroup}, {store.EventsStream, worker.StatsGroup}, {store.EventsStream, worker.NotifyGroup}, {store.MailStream, store.MailGroup}} {
		lag, pending, err := h.store.StreamLag(ctx, g.st, g.group)
		val := fmt.Sprintf("%d waiting, %d being handled or retried", lag, pending)
		if err != nil {
			val = "not started yet"
		}
		v.Lag = append(v.Lag, views.KV{Key: string(g.st) + "/" + g.group, Value: val})
	}
	v.Total, _ = h.store.DeadLetterCount(ctx)
	dead, err := h.store.DeadLetters(ctx, 20)
	if err != nil {
		h.log.Warn("dead letters unavailable", "err", err)
	}
	for _, d := range dead {
		what := d.Values["subject"]
		if what == "" {
			if e, err := (store.Message{Values: d.Values}).Event(); err == nil {
				what = e.Kind + " " + e.Report
			}
		}
		v.Rows = append(v.Rows, views.DeadLetterRow{ID: d.ID, When: d.At.Format("2006-01-02 15:04:05"), Stream: string(d.Stream),
			Group: d.Group, Tries: fmt.Sprint(d.Tries), Error: d.Error, What: what})
	}
	return v
}

// retryDeadLetter is POST /admin/system/dead-letters/{id}/retry.
func (h *handler) retryDeadLetter(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	if len(id) > 40 || strings.Trim(id, "0123456789-") != "" {
		return refuse(fiber.StatusBadRequest, "admin.dead.bad_id")
	}
	err := h.store.RetryDeadLetter(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return refuse(fiber.StatusNotFound, "admin.dead.gone")
	} else if err != nil {
		return err
	}
	h.audit(c, "worker.retry", id, "")
	h.setFlash(c, "success", i18n.M("admin.dead.retried"))
	return redirect(c, "/admin/system")
}

// mailPreview is /admin/mail-preview: every mail with sample data.
func (h *handler) mailPreview(c *fiber.Ctx) error {
	samples := mail.Samples(c.UserContext(), h.cfg.BaseURL.String())
	var v views.MailPreviewView
	for _, k := range mail.Kinds {
		m, err := mail.Render(c.UserContext(), k, samples[k])
		if err != nil {
			return err
		}
		v.Mails = append(v.Mails, views.MailPreview{Kind: string(k), Subject: m.Subject, Text: m.Text, HTMLURL: "/admin/mail-preview/" + string(k) + ".html"})
	}
	return render(c, fiber.StatusOK, views.MailPreviewPage(h.page(c, say(c, "admin.mail.title")), v))
}

// mailPreviewHTML is one mail's HTML as a mail client shows it: its own page, with the inline
// styles mails need (mail clients ignore style sheets) and still no script.
func (h *handler) mailPreviewHTML(c *fiber.Ctx) error {
	kind := mail.Kind(strings.TrimSuffix(c.Params("kind"), ".html"))
	if !slices.Contains(mail.Kinds, kind) {
		return fiber.ErrNotFound
	}
	m, err := mail.Render(c.UserContext(), kind, mail.Samples(c.UserContext(), h.cfg.BaseURL.String())[kind])
	if err != nil {
		return err
	}
	c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.SendString(m.HTML)
}
