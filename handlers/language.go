package handlers

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/i18n"
)

// The language of a request (CONTRACT.md): ?lang= (remembered in the lang cookie), then the
// cookie, then the signed-in account's choice, then Accept-Language. The request's context
// carries the localizer, so pages, fragments, errors and JSON speak it.

const langCookie = "lang"

// offered finds a language this server speaks: the catalogs' languages, and the pseudo-locale
// when I18N_PSEUDO is on.
func (h *handler) offered(tag string) (i18n.Lang, bool) {
	if h.cfg.I18nPseudo && strings.EqualFold(tag, i18n.Pseudo.Tag) {
		return i18n.Pseudo, true
	}
	return i18n.ByTag(tag)
}

// language picks the language from what the request itself says (every route, the API included),
// and the time zone pages speak in.
func (h *handler) language(c *fiber.Ctx) error {
	c.Vary(fiber.HeaderAcceptLanguage, fiber.HeaderCookie)
	tag := ""
	if l, ok := h.offered(c.Query("lang")); ok {
		tag = l.Tag
		h.rememberLanguage(c, tag)
		c.Locals("lang-explicit", true)
	} else if l, ok := h.offered(c.Cookies(langCookie)); ok {
		tag = l.Tag
		c.Locals("lang-explicit", true)
	} else {
		tag = i18n.Match(c.Get(fiber.HeaderAcceptLanguage)).Tag
	}
	ctx := i18n.WithZone(c.UserContext(), h.cfg.TimeZone)
	c.SetUserContext(i18n.With(ctx, i18n.For(tag)))
	return c.Next()
}

// rememberLanguage keeps an explicit choice in the lang cookie for a year.
func (h *handler) rememberLanguage(c *fiber.Ctx, tag string) {
	c.Cookie(&fiber.Cookie{Name: langCookie, Value: tag, Path: "/", MaxAge: int((365 * 24 * time.Hour).Seconds()),
		Secure: h.cfg.Secure(), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})
}

// accountLanguage lets a signed-in user's chosen language win over Accept-Language (runs after
// loadUser).
func (h *handler) accountLanguage(c *fiber.Ctx) error {
	if u := currentUser(c); u != nil && u.Lang != "" && c.Locals("lang-explicit") == nil {
		c.SetUserContext(i18n.With(c.UserContext(), i18n.For(u.Lang)))
	}
	return c.Next()
}

// langLinks are the language switcher's links: this page in each language (the pseudo-locale
// too when it is on).
func (h *handler) langLinks(c *fiber.Ctx) []langLink {
	q, _ := url.ParseQuery(string(c.Request().URI().QueryString()))
	langs := i18n.Languages
	if h.cfg.I18nPseudo {
		langs = append(slices.Clone(langs), i18n.Pseudo)
	}
	var out []langLink
	for _, l := range langs {
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

// say is catalog message id in the request's language.
func say(c *fiber.Ctx, id string, data ...any) string { return i18n.T(c.UserContext(), id, data...) }

// i18nScript serves the browser's messages of one language (i18n.ScriptURL): the URL names the
// content, so it may be kept for a year.
func i18nScript(c *fiber.Ctx) error {
	body, ok := i18n.Script(c.Path())
	if !ok {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	return c.Send(body)
}
