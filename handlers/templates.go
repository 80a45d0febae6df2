package handlers

import (
	"errors"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
	"hazardwatch/views"
)

// Response templates (admins): notes written once per moderator action, which moderators pick in
// the queue instead of typing; the reporter reads the text.

func (h *handler) templatesView(c *fiber.Ctx, f *form) (views.TemplatesView, error) {
	ts, err := h.store.Templates(c.UserContext())
	if err != nil {
		return views.TemplatesView{}, err
	}
	v := views.TemplatesView{Form: views.Form{Values: map[string]string{}, Errors: map[string]string{}}}
	if f != nil {
		v.Form = f.Form
	}
	for _, a := range lifecycle.ModeratorActions {
		v.Actions = append(v.Actions, views.Option{Value: string(a), Label: actionLabel(c.UserContext(), a)})
	}
	for _, t := range ts {
		v.Templates = append(v.Templates, views.TemplateOption{ID: t.ID, Action: t.Action, Title: t.Title, Text: t.Text,
			ActionLabel: actionLabel(c.UserContext(), hazard.Action(t.Action))})
	}
	return v, nil
}

func (h *handler) templatesPage(c *fiber.Ctx) views.Page {
	return h.page(c, i18n.T(c.UserContext(), "moderation.templates.title"))
}

// responseTemplates is GET /admin/templates.
func (h *handler) responseTemplates(c *fiber.Ctx) error {
	v, err := h.templatesView(c, nil)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.TemplatesPage(h.templatesPage(c), v))
}

// saveTemplate is POST /admin/templates: a new template, or (field id) a changed one.
func (h *handler) saveTemplate(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f := newForm(c, "id", "action", "title", "text")
	t := store.Template{ID: f.Values["id"], Action: f.Values["action"], Title: strings.TrimSpace(f.Values["title"]),
		Text: strings.TrimSpace(strings.ReplaceAll(f.Values["text"], "\r\n", "\n"))}
	if !slices.Contains(lifecycle.ModeratorActions, hazard.Action(t.Action)) {
		f.fail("action", i18n.M("moderation.templates.err.action"))
	}
	if n := utf8.RuneCountInString(t.Title); n == 0 || n > 80 || !printable(t.Title, false) {
		f.fail("title", i18n.M("moderation.templates.err.title"))
	}
	if n := utf8.RuneCountInString(t.Text); n == 0 || n > 500 || !printable(t.Text, true) {
		f.fail("text", i18n.M("moderation.templates.err.text"))
	}
	if f.ok() {
		err := h.store.SaveTemplate(ctx, &t)
		switch {
		case errors.Is(err, store.ErrTooMany):
			f.fail("", i18n.M("moderation.templates.err.full"))
		case errors.Is(err, store.ErrNotFound):
			return fiber.ErrNotFound
		case err != nil:
			return err
		}
	}
	if !f.ok() {
		v, err := h.templatesView(c, f)
		if err != nil {
			return err
		}
		return render(c, fiber.StatusUnprocessableEntity, views.TemplatesPage(h.templatesPage(c), v))
	}
	h.audit(c, "template.save", t.ID, t.Action+": "+t.Title)
	h.setFlash(c, "success", i18n.M("moderation.templates.saved"))
	return redirect(c, "/admin/templates")
}

// deleteTemplate is POST /admin/templates/{id}/delete.
func (h *handler) deleteTemplate(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	if err := h.store.DeleteTemplate(c.UserContext(), id); errors.Is(err, store.ErrNotFound) {
		return fiber.ErrNotFound
	} else if err != nil {
		return err
	}
	h.audit(c, "template.delete", id, "")
	h.setFlash(c, "success", i18n.M("moderation.templates.deleted"))
	return redirect(c, "/admin/templates")
}

// printable reports whether s has no control characters (line breaks allowed when lines).
func printable(s string, lines bool) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && !(lines && r == '\n') })
}
