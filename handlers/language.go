package handlers

import (
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/i18n"
)

// The language of a request (CONTRACT.md): ?lang= (remembered in the lang cookie), then the
// cookie, then the signed-in account's choice, then Accept-Language. The request's context
// carries the localizer, so pages, fragments, errors and JSON speak it.

const langCookie = "lang"

// language picks the language from what the request itself says (every route, the API included).
func (h *handler) language(c *fiber.Ctx) error {
	c.Vary(fiber.HeaderAcceptLanguage, fiber.HeaderCookie)
	tag := ""
	if l, ok := i18n.ByTag(c.Query("lang")); ok {
		tag = l.Tag
		c.Cookie(&fiber.Cookie{Name: langCookie, Value: tag, Path: "/", MaxAge: int((365 * 24 * time.Hour).Seconds()),
			Secure: h.cfg.Secure(), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})
		c.Locals("lang-explicit", true)
	} else if l, ok := i18n.ByTag(c.Cookies(langCookie)); ok {
		tag = l.Tag
		c.Locals("lang-explicit", true)
	} else {
		tag = i18n.Match(c.Get(fiber.HeaderAcceptLanguage)).Tag
	}
	c.SetUserContext(i18n.With(c.UserContext(), i18n.For(tag)))
	return c.Next()
}

// accountLanguage lets a signed-in user's chosen language win over Accept-Language (runs after
// loadUser).
func (h *handler) accountLanguage(c *fiber.Ctx) error {
	if u := currentUser(c); u != nil && u.Lang != "" && c.Locals("lang-explicit") == nil {
		c.SetUserContext(i18n.With(c.UserContext(), i18n.For(u.Lang)))
	}
	return c.Next()
}

// langLinks are the language switcher's links: this page in each language.
func langLinks(c *fiber.Ctx) []langLink {
	q, _ := url.ParseQuery(string(c.Request().URI().QueryString()))
	var out []langLink
	for _, l := range i18n.Languages {
		q.Set("lang", l.Tag)
		out = append(out, langLink{Lang: l, Href: c.Path() + "?" + q.Encode()})
	}
	return out
}

type langLink struct {
	Lang i18n.Lang
	Href string
}

// lang is the request's language.
func lang(c *fiber.Ctx) i18n.Lang { return i18n.From(c.UserContext()).Lang() }
