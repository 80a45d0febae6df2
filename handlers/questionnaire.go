package handlers

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/links"
	"hazardwatch/store"
	"hazardwatch/views"
)

// The "has it been fixed?" questionnaire (GET/POST /questionnaire/{token}: fixed=yes|no, text,
// photo) and the mailed "it is still there" link (GET/POST /reports/{id}/still-there?token=).
// Both work without signing in: the single-use token, or the signed link, is the authority.

func (h *handler) questionnaireView(c *fiber.Ctx, token string, f *form) (views.QuestionnaireView, int, error) {
	ctx := c.UserContext()
	v := views.QuestionnaireView{Token: token}
	if f != nil {
		v.Form = f.Form
	}
	a, err := h.store.AnswerToken(ctx, token, false)
	switch {
	case errors.Is(err, store.ErrNotFound):
		v.State = "invalid"
		return v, fiber.StatusNotFound, nil
	case errors.Is(err, store.ErrUsed):
		v.State = "used"
		return v, fiber.StatusGone, nil
	case err != nil:
		return v, 0, err
	}
	r, err := h.store.Report(ctx, a.Report)
	if errors.Is(err, store.ErrNotFound) {
		v.State = "invalid"
		return v, fiber.StatusNotFound, nil
	} else if err != nil {
		return v, 0, err
	}
	t, _ := hazard.TypeByCode(r.Type)
	v.ReportID, v.Type, v.Address, v.Description = r.ID, t.Label(c.UserContext()), r.Address, r.Description
	return v, fiber.StatusOK, nil
}

// questionnaire is GET /questionnaire/{token}.
func (h *handler) questionnaire(c *fiber.Ctx) error {
	v, status, err := h.questionnaireView(c, strings.Clone(c.Params("token")), nil)
	if err != nil {
		return err
	}
	return render(c, status, views.QuestionnairePage(h.page(c, i18n.T(c.UserContext(), "questionnaire.title")), v))
}

// answerQuestionnaire is POST /questionnaire/{token}: the form is checked first, then the token
// used up, then the answer applied, so a mistake in the form costs nothing.
func (h *handler) answerQuestionnaire(c *fiber.Ctx) error {
	ctx := c.UserContext()
	token := strings.Clone(c.Params("token"))
	f := newForm(c, "fixed", "text")
	v, status, err := h.questionnaireView(c, token, f)
	if err != nil {
		return err
	}
	p := h.page(c, i18n.T(ctx, "questionnaire.title"))
	if status != fiber.StatusOK {
		return render(c, status, views.QuestionnairePage(p, v))
	}
	fixed := f.Values["fixed"]
	if fixed != "yes" && fixed != "no" {
		f.fail("fixed", i18n.M("questionnaire.error.choose"))
	}
	if id := lifecycle.UpdateTextProblem(strings.TrimSpace(f.Values["text"])); id != "" {
		f.fail("text", i18n.M(id, "Max", lifecycle.MaxUpdateText))
	}
	hash := ""
	if f.ok() {
		if hash, err = h.formPhoto(c, f); err != nil {
			return err
		}
	}
	if !f.ok() {
		v.Form = f.Form
		return render(c, fiber.StatusUnprocessableEntity, views.QuestionnairePage(p, v))
	}
	a, err := h.store.AnswerToken(ctx, token, true)
	if errors.Is(err, store.ErrUsed) || errors.Is(err, store.ErrNotFound) {
		v.State = "used"
		return render(c, fiber.StatusGone, views.QuestionnairePage(p, v))
	} else if err != nil {
		return err
	}
	r, err := h.store.Report(ctx, a.Report)
	if err != nil {
		return err
	}
	d := lifecycle.UpdateDraft{Text: f.Values["text"], Photo: hash}
	switch {
	case fixed == "yes" && r.Status.Active():
		d.Fixed = true
	case fixed == "no" && r.Status == hazard.Resolved:
		d.Reopen = true
	}
	v.State = "thanks-" + fixed
	if d.Text != "" || d.Photo != "" || d.Fixed || d.Reopen {
		if d.Reopen && d.Photo == "" && r.ReporterID != a.By {
			d.Reopen = false
		}
		actor := lifecycle.Actor{ID: a.By}
		if u, err := h.store.UserByID(ctx, a.By); err == nil { // a body's staff answer as the body
			actor = lifecycle.ActorOf(u)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if _, err := h.life.AddUpdate(ctx, actor, r.ID, d); err != nil {
			var le *lifecycle.Error
			if !errors.As(err, &le) {
				return err
			}
			h.log.Warn("questionnaire answer not applied", "report", r.ID, "err", err)
		}
	}
	h.auditAs(c, a.By, "report.questionnaire."+fixed, r.ID)
	return render(c, fiber.StatusOK, views.QuestionnairePage(p, v))
}

// stillThereStep is GET (a page with one button) and POST (do it) of a mailed "still there"
// link.
func (h *handler) stillThereStep(do bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		id, token := strings.Clone(c.Params("id")), strings.Clone(c.Query("token"))
		v := views.StillThereView{ReportID: id, Token: token}
		p := h.page(c, i18n.T(ctx, "stillthere.title"))
		s, err := h.links.ReadStillThere(ctx, token)
		if errors.Is(err, links.ErrInvalid) || (err == nil && s.Report != id) {
			v.State = "invalid"
			return render(c, fiber.StatusBadRequest, views.StillTherePage(p, v))
		} else if err != nil {
			return err
		}
		if do {
			first, err := h.life.StillThere(ctx, s.By, id)
			if err != nil {
				return err
			}
			v.State = "done"
			if !first {
				v.State = "already"
			}
			h.auditAs(c, s.By, "report.still_there", id)
		}
		return render(c, fiber.StatusOK, views.StillTherePage(p, v))
	}
}
