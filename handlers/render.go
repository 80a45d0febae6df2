package handlers

import (
	"bytes"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"hazardwatch/views"
)

// errorPage marks a response as the error handler's page (its title says so already).
const errorPage = "error-page"

// render writes a component with status. It renders into a buffer first, so a component that
// fails half-way produces an error page instead of half a page.
func render(c *fiber.Ctx, status int, comp templ.Component) error {
	var buf bytes.Buffer
	ctx := c.UserContext()
	switch status {
	case fiber.StatusUnprocessableEntity, fiber.StatusConflict, fiber.StatusTooManyRequests:
		if c.Locals(errorPage) == nil {
			ctx = views.WithFormErrors(ctx) // a form sent back: "Error:" leads the title
		}
	}
	if err := comp.Render(ctx, &buf); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Vary(hxRequest)
	return c.Status(status).Send(buf.Bytes())
}

// nav is the header navigation (labels are catalog ids). Entries are added as their pages land.
var nav = []views.NavItem{
	{Label: "nav.map", Href: "/"},
	{Label: "nav.reports", Href: "/reports"},
	{Label: "nav.report", Href: "/reports/new"},
}

// page builds the layout's view model for the current request.
func (h *handler) page(c *fiber.Ctx, title string) views.Page {
	var langs []views.LangLink
	for _, l := range h.langLinks(c) {
		langs = append(langs, views.LangLink{Lang: l.Lang, Href: l.Href})
	}
	return views.Page{
		Lang:      lang(c),
		Langs:     langs,
		Title:     title,
		Path:      c.Path(),
		Nav:       nav,
		CSRFToken: h.csrfToken(c),
		User:      viewUser(currentUser(c)),
		Flashes:   h.takeFlash(c),
	}
}
