package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/i18n"
	"hazardwatch/views"
)

// Flash messages survive one redirect in a short-lived cookie, so they work for signed-out
// visitors too. The cookie is signed (cookies.go): a page shows only messages this app wrote, not
// ones planted by someone who can set cookies for the site. Rendered escaped like any other text.

const (
	flashCookie = "hw_flash"
	flashMaxAge = time.Minute
)

type flash struct {
	Kind string `json:"k"`
	Msg  string `json:"m"`
}

// setFlash shows m on the next page, said in this request's language.
func (h *handler) setFlash(c *fiber.Ctx, kind string, m i18n.Msg) {
	msg := i18n.Say(c.UserContext(), m)
	sc, err := h.signedCookies(c.UserContext(), flashMaxAge)
	var v string
	if err == nil {
		v, err = sc.Encode(flashCookie, flash{Kind: kind, Msg: msg})
	}
	if err != nil { // a lost message is better than a failed action
		h.log.Warn("flash message not set", "err", err)
		return
	}
	c.Cookie(&fiber.Cookie{
		Name: flashCookie, Value: v, Path: "/", MaxAge: int(flashMaxAge / time.Second),
		HTTPOnly: true, Secure: h.cfg.Secure(), SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// takeFlash reads and clears the flash message, if any.
func (h *handler) takeFlash(c *fiber.Ctx) []views.Flash {
	raw := c.Cookies(flashCookie)
	if raw == "" {
		return nil
	}
	c.Cookie(&fiber.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HTTPOnly: true, Secure: h.cfg.Secure()})
	sc, err := h.signedCookies(c.UserContext(), flashMaxAge)
	if err != nil {
		return nil
	}
	var f flash
	if sc.Decode(flashCookie, raw, &f) != nil || len(f.Msg) > 600 {
		return nil
	}
	return []views.Flash{{Kind: f.Kind, Message: f.Msg}}
}
