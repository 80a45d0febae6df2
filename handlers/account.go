package handlers

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/i18n"
	"hazardwatch/password"
	"hazardwatch/store"
	"hazardwatch/views"
)

func (h *handler) accountView(c *fiber.Ctx, f *form) (views.AccountPage, error) {
	u := currentUser(c)
	sessions, err := h.store.Sessions(c.UserContext(), u.ID)
	if err != nil {
		return views.AccountPage{}, err
	}
	a := views.AccountPage{
		Name: u.Name, Email: u.Email, Role: say(c, "account.role."+string(u.Role)), EmailVerified: u.EmailVerified,
		HasPassword: u.PasswordHash != "", GoogleLinked: u.GoogleSub != "", Notify: !u.NoMail,
		Lang: u.Lang, Langs: i18n.Languages,
	}
	if u.Role.AtLeast(store.RoleStaff) {
		on := !u.NoShortcuts
		a.Shortcuts = &on
	}
	for _, s := range sessions {
		a.Sessions = append(a.Sessions, views.SessionRow{
			ID: s.ID, Device: deviceName(c, s.UserAgent), IP: s.IP, LastSeen: s.LastSeen,
			Current: s.ID == currentSessionID(c),
		})
	}
	if f != nil {
		a.PasswordForm = f.Form
	}
	if a.Alerts, err = h.alertRows(c, u.ID); err != nil {
		return views.AccountPage{}, err
	}
	return a, nil
}

func (h *handler) account(c *fiber.Ctx) error {
	a, err := h.accountView(c, nil)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.Account(h.page(c, say(c, "account.title")), a))
}

// setLanguage stores the language of the account's pages and mails, and shows it at once.
func (h *handler) setLanguage(c *fiber.Ctx) error {
	l, ok := i18n.ByTag(c.FormValue("lang"))
	if !ok {
		return refuse(fiber.StatusUnprocessableEntity, "account.language.unknown")
	}
	if err := h.store.SetLanguage(c.UserContext(), currentUser(c).ID, l.Tag); err != nil {
		return err
	}
	// The lang cookie (from an earlier ?lang=) would otherwise outrank the choice just made.
	h.rememberLanguage(c, l.Tag)
	c.SetUserContext(i18n.With(c.UserContext(), i18n.For(l.Tag)))
	h.setFlash(c, "success", i18n.M("account.language.saved"))
	return redirect(c, "/account")
}

// changePassword sets a new password (checking the current one, if the account has one) and
// signs out every other device.
func (h *handler) changePassword(c *fiber.Ctx) error {
	u := currentUser(c)
	f := newForm(c, "current_password", "password")
	// Someone at an unlocked, signed-in browser must not be able to guess the password freely:
	// wrong current passwords count like failed sign-ins, and a right one clears them.
	checks := rule{"password-check", u.ID, failLimit, failWindow}
	if u.PasswordHash != "" {
		if retry, err := h.limited(c, checks); err != nil {
			return err
		} else if retry > 0 {
			f.fail("current_password", i18n.M("account.password.too_many", "Wait", i18n.DurationMsg(retry)))
		} else if ok, err := password.Check(f.Values["current_password"], u.PasswordHash); err != nil || !ok {
			f.fail("current_password", i18n.M("account.password.wrong"))
		} else if err := h.store.ClearHits(c.UserContext(), checks.scope, checks.subject); err != nil {
			return err
		}
	}
	pw := f.newPassword("password", u.Email, u.Name)
	if !f.ok() {
		a, err := h.accountView(c, f)
		if err != nil {
			return err
		}
		return render(c, fiber.StatusUnprocessableEntity, views.Account(h.page(c, say(c, "account.title")), a))
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	if err := h.store.SetPassword(c.UserContext(), u.ID, hash); err != nil {
		return err
	}
	if err := h.store.RevokeSessions(c.UserContext(), u.ID, currentSessionID(c)); err != nil {
		return err
	}
	// This session stays signed in: record the new password version in it.
	u.PasswordVersion++
	if err := h.signIn(c, u); err != nil {
		return err
	}
	h.audit(c, "user.password_change", u.ID, "")
	h.setFlash(c, "success", i18n.M("account.password.saved"))
	return redirect(c, "/account")
}

func (h *handler) revokeSession(c *fiber.Ctx) error {
	u := currentUser(c)
	sid := strings.Clone(c.Params("id"))
	if sid == currentSessionID(c) {
		return refuse(fiber.StatusUnprocessableEntity, "account.sessions.this_one")
	}
	err := h.store.RevokeSession(c.UserContext(), u.ID, sid)
	if errors.Is(err, store.ErrNotFound) {
		return refuse(fiber.StatusNotFound, "account.sessions.ended")
	} else if err != nil {
		return err
	}
	if isPartial(c) {
		return c.SendString("") // htmx swaps the row away
	}
	h.setFlash(c, "success", i18n.M("account.sessions.revoked"))
	return c.Redirect("/account", fiber.StatusSeeOther)
}

// deviceName turns a User-Agent into something a person recognises ("Chrome on Android").
// Product names stay as they are; the words round them are the reader's.
func deviceName(c *fiber.Ctx, ua string) string {
	browser := say(c, "account.sessions.unknown_browser")
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"HeadlessChrome", "Chrome (headless)"},
		{"Chrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			return say(c, "account.sessions.device", map[string]any{"Browser": browser, "System": o.name})
		}
	}
	return browser
}
