package handlers

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"

	"github.com/gofiber/fiber/v2"
)

// CSRF protection: a random token in an HttpOnly, SameSite=Lax cookie, repeated by every unsafe
// request as the form field _csrf (in the body, not the URL) or the X-CSRF-Token header (htmx sends it from hx-headers).
// The token is rotated at sign-in and sign-out. Cross-site requests are refused outright when
// the browser says so (Sec-Fetch-Site), whatever they carry.

// csrfRefused is the answer to an unsafe request without the right token.
func csrfRefused() error { return refuse(fiber.StatusForbidden, "errors.csrf") }

func (h *handler) csrfCookie() string { return cookieName(h.cfg.Secure(), "hw_csrf") }

func newCSRFToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("csrf: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (h *handler) setCSRFCookie(c *fiber.Ctx, token string) {
	c.Cookie(&fiber.Cookie{
		Name: h.csrfCookie(), Value: token, Path: "/", HTTPOnly: true,
		Secure: h.cfg.Secure(), SameSite: fiber.CookieSameSiteLaxMode,
	})
	c.Locals("csrf", token)
}

func (h *handler) rotateCSRF(c *fiber.Ctx) { h.setCSRFCookie(c, newCSRFToken()) }

// csrfToken is the token pages embed; a browser without one gets one with the page. (Made only
// when a page needs it: API and asset requests pay nothing for it.)
func (h *handler) csrfToken(c *fiber.Ctx) string {
	t, _ := c.Locals("csrf").(string)
	if t == "" {
		t = newCSRFToken()
		h.setCSRFCookie(c, t)
	}
	return t
}

func (h *handler) csrf(c *fiber.Ctx) error {
	cookie := c.Cookies(h.csrfCookie())
	if len(cookie) != 43 {
		cookie = ""
	}
	if cookie != "" {
		// Known before the check, so a refusal's error page keeps the browser's token.
		c.Locals("csrf", cookie)
	}
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions, fiber.MethodTrace:
		return c.Next()
	}
	if c.Get("Sec-Fetch-Site") == "cross-site" {
		return csrfRefused()
	}
	sent := c.Get("X-CSRF-Token")
	if sent == "" {
		sent = bodyValue(c, "_csrf")
	}
	if cookie == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(cookie)) != 1 {
		return csrfRefused()
	}
	return c.Next()
}
