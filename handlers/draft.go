package handlers

import (
	"errors"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/store"
)

// A report form's author may sign in, register (and confirm the address), or use Google half-way
// through. "Sign in instead" and "Create an account" submit the form here: what was typed and the
// photos (stored now) are parked under a random cookie for draftTTL, and /reports/new brings
// them back whichever way the author returns. Sign-in pages send people back to the form while
// a draft waits (authPage).

const draftTTL = 24 * time.Hour

// draftFields are what a draft keeps of the form.
var draftFields = []string{"lat", "lng", "type", "severity", "description", "email", "name", "show_name", "contact_ok", "idem"}

func (h *handler) draftCookie() string { return cookieName(h.cfg.Secure(), "hw_draft") }

// draft is the browser's parked report form, or nil.
func (h *handler) draft(c *fiber.Ctx) (*store.FormDraft, error) {
	id := c.Cookies(h.draftCookie())
	if id == "" {
		return nil, nil
	}
	d, err := h.store.Draft(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return d, err
}

// dropDraft forgets the browser's draft once its report is sent.
func (h *handler) dropDraft(c *fiber.Ctx) error {
	id := c.Cookies(h.draftCookie())
	if id == "" {
		return nil
	}
	c.Cookie(&fiber.Cookie{Name: h.draftCookie(), Value: "", Path: "/", MaxAge: -1, HTTPOnly: true, Secure: h.cfg.Secure(), SameSite: fiber.CookieSameSiteLaxMode})
	return h.store.DropDraft(c.UserContext(), id)
}

// saveDraft is POST /reports/draft: the report form with then=login, register or google. Photos
// that fail their checks (or find no free decoder) are left out; the form shows what was kept.
func (h *handler) saveDraft(c *fiber.Ctx) error {
	mf, _ := c.MultipartForm()
	f := newForm(c, draftFields...)
	// Busy decoders: the draft keeps the photos it had, and the form shows which.
	photos, _, err := h.formPhotos(c, mf, f)
	if err != nil && !errors.Is(err, errBusy) {
		return err
	}
	id := c.Cookies(h.draftCookie())
	if len(id) != 22 {
		id = newIdemKey()
	}
	d := store.FormDraft{Values: map[string]string{}, Photos: photos}
	for _, k := range draftFields {
		if v := f.Values[k]; v != "" && len(v) <= 4000 {
			d.Values[k] = v
		}
	}
	if err := h.store.SaveDraft(c.UserContext(), id, d, draftTTL); err != nil {
		return err
	}
	c.Cookie(&fiber.Cookie{Name: h.draftCookie(), Value: id, Path: "/", MaxAge: int(draftTTL / time.Second),
		HTTPOnly: true, Secure: h.cfg.Secure(), SameSite: fiber.CookieSameSiteLaxMode})
	back := url.QueryEscape("/reports/new")
	switch c.FormValue("then") {
	case "login":
		return redirect(c, "/login?next="+back)
	case "register":
		return redirect(c, "/register?next="+back)
	case "google":
		if h.google != nil {
			return redirect(c, "/auth/google?next="+back)
		}
	}
	return redirect(c, "/reports/new")
}

// afterSignIn is where sign-in pages send people by default: back to their report form while
// the browser has one parked, else the map.
func (h *handler) afterSignIn(c *fiber.Ctx, next string) string {
	if next != "/" {
		return next
	}
	if d, err := h.draft(c); err == nil && d != nil {
		return "/reports/new"
	}
	return next
}
