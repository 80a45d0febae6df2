package handlers

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/views"
)

// Flash messages survive one redirect in a short-lived cookie, so they work for signed-out
// visitors too and need no Redis write. They are rendered escaped like any other text.

const flashCookie = "hw_flash"

func (h *handler) setFlash(c *fiber.Ctx, kind, msg string) {
	c.Cookie(&fiber.Cookie{
		Name: flashCookie, Value: url.QueryEscape(kind + "|" + msg), Path: "/", MaxAge: 60,
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
	v, err := url.QueryUnescape(raw)
	if err != nil {
		return nil
	}
	kind, msg, ok := strings.Cut(v, "|")
	if !ok || len(msg) > 300 {
		return nil
	}
	return []views.Flash{{Kind: kind, Message: msg}}
}
