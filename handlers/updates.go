package handlers

import (
	"errors"
	"mime/multipart"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
	"hazardwatch/views"
)

// Public updates on a report (POST /reports/{id}/updates: text, optional photo, optional
// fixed=1, and reopen=1 for the reporter on a resolved report), and moderators hiding one.

// updatesView is the report page's updates section for the current viewer (with the update form
// a failed POST left, if any).
func (h *handler) updatesView(c *fiber.Ctx, r *store.Report) views.UpdatesView {
	f, _ := c.Locals("updateForm").(*form)
	u := currentUser(c)
	mod := u != nil && h.life.Moderates(c.UserContext(), u, r.ID)
	v := views.UpdatesView{ReportID: r.ID, SignedIn: u != nil, Moderator: mod, Feed: "/feeds/reports/" + r.ID + ".atom",
		CanAdd: u != nil && h.life.PublicNow(r.Status), Active: r.Status.Active(), Resolved: r.Status == "resolved",
		Reporter: u != nil && u.ID == r.ReporterID}
	if f != nil {
		v.Form = f.Form
	}
	for _, up := range r.Updates {
		if up.Hidden() && !mod {
			continue
		}
		item := views.UpdateItem{ID: up.ID, Name: h.updateAuthor(c, up, mod), Text: up.Text, Fixed: up.Fixed, At: up.At,
			Hidden: up.Hidden(), Reason: up.Reason}
		if up.Photo != "" {
			item.Photo = &views.PhotoView{Full: "/photos/" + up.Photo + ".jpg", Thumb: "/photos/" + up.Photo + "_t.jpg"}
		}
		v.Updates = append(v.Updates, item)
	}
	return v
}

// updateAuthor is the name an update shows ("" anonymous): a body's staff write as the body, and
// only those who moderate the report read which person.
func (h *handler) updateAuthor(c *fiber.Ctx, up store.Update, mod bool) string {
	if up.BodyName == "" {
		return up.Name
	}
	if !mod {
		return up.BodyName
	}
	name := up.By
	if u, err := h.store.UserByID(c.UserContext(), up.By); err == nil {
		name = u.Name
	}
	return say(c, "moderation.history.for_body", map[string]any{"Name": name, "Body": up.BodyName})
}

// formPhoto reads the optional single "photo" of a multipart form, through the report form's
// checks, budget and decoding gate (photos.go).
func (h *handler) formPhoto(c *fiber.Ctx, f *form) (string, error) {
	mf, err := c.MultipartForm()
	if err != nil || len(mf.File["photo"]) == 0 {
		return "", nil
	}
	fh := mf.File["photo"][0]
	if fh.Size == 0 && fh.Filename == "" {
		return "", nil
	}
	if len(mf.File["photo"]) > 1 {
		f.fail("photo", i18n.M("updates.error.one_photo"))
		return "", nil
	}
	hashes, _, err := h.decodeUploads(c, f, "photo", []*multipart.FileHeader{fh})
	if errors.Is(err, errBusy) {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(decodeWait.Seconds())))
		f.fail("photo", i18n.M("errors.photo.busy"))
		return "", nil
	}
	if err != nil || len(hashes) == 0 {
		return "", err
	}
	return hashes[0], nil
}

// addUpdate is POST /reports/{id}/updates.
func (h *handler) addUpdate(c *fiber.Ctx) error {
	ctx := c.UserContext()
	u := currentUser(c)
	r, err := h.loadVisible(c)
	if err != nil {
		return err
	}
	f := newForm(c, "text", "fixed", "reopen", "show_name")
	again := func(status int) error {
		return render(c, status, views.ReportPage(h.reportViewPage(c, r), h.reportView(c, r, nil)))
	}
	if msg, err := h.overLimit(c, rule{"update-user", u.ID, 10, time.Hour}, rule{"update-ip", c.IP(), 30, time.Hour}); err != nil {
		return err
	} else if !msg.IsZero() {
		return refuseMsg(fiber.StatusTooManyRequests, msg)
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
	if f.ok() {
		_, err = h.life.AddUpdate(ctx, lifecycle.ActorOf(u), r.ID, lifecycle.UpdateDraft{
			Text: f.Values["text"], Photo: hash, Fixed: f.Values["fixed"] == "1", Reopen: f.Values["reopen"] == "1", ShowName: f.Values["show_name"] == "1",
		})
		var le *lifecycle.Error
		if errors.As(err, &le) && le.Kind == lifecycle.Invalid {
			for field, msg := range le.Fields {
				f.fail(field, msg)
			}
		} else if err != nil {
			return err
		}
	}
	if !f.ok() {
		c.Locals("updateForm", f) // the page shows it again with what was typed
		return again(fiber.StatusUnprocessableEntity)
	}
	h.setFlash(c, "success", i18n.M("updates.saved"))
	return redirect(c, "/reports/"+r.ID+"#updates")
}

// hideUpdate is POST /reports/{id}/updates/{uid}/hide (moderators): reason required, kept with
// the update and in the audit log.
func (h *handler) hideUpdate(c *fiber.Ctx) error {
	ctx := c.UserContext()
	rid, uid := strings.Clone(c.Params("id")), strings.Clone(c.Params("uid"))
	reason := strings.Clone(c.FormValue("reason"))
	if _, err := h.life.HideUpdate(ctx, lifecycle.ActorOf(currentUser(c)), rid, uid, reason); err != nil {
		return err
	}
	h.audit(c, "report.update.hide", rid, uid+": "+strings.TrimSpace(reason))
	h.setFlash(c, "info", i18n.M("updates.hidden"))
	return redirect(c, "/reports/"+rid+"#updates")
}

// takesOnePhoto reports whether a POST path accepts one photo (a public update, a questionnaire
// answer), for the body limit.
func takesOnePhoto(path string) bool {
	p := strings.ToLower(path)
	return strings.HasPrefix(p, "/questionnaire/") || (strings.HasPrefix(p, "/reports/") && strings.HasSuffix(p, "/updates"))
}
