package handlers

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

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
		Name: u.Name, Email: u.Email, Role: string(u.Role), EmailVerified: u.EmailVerified,
		HasPassword: u.PasswordHash != "", GoogleLinked: u.GoogleSub != "", Notify: !u.NoMail,
	}
	if u.Role.AtLeast(store.RoleModerator) {
		on := !u.NoShortcuts
		a.Shortcuts = &on
	}
	for _, s := range sessions {
		a.Sessions = append(a.Sessions, views.SessionRow{
			ID: s.ID, Device: deviceName(s.UserAgent), IP: s.IP, LastSeen: timeAgo(s.LastSeen),
			Current: s.ID == currentSessionID(c),
		})
	}
	if f != nil {
		a.PasswordForm = f.Form
	}
	return a, nil
}

func (h *handler) account(c *fiber.Ctx) error {
	a, err := h.accountView(c, nil)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.Account(h.page(c, "Your account"), a))
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
			f.fail("current_password", "Too many wrong current passwords: try again in "+humanDuration(retry)+".")
		} else if ok, err := password.Check(f.Values["current_password"], u.PasswordHash); err != nil || !ok {
			f.fail("current_password", "That is not your current password.")
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
		return render(c, fiber.StatusUnprocessableEntity, views.Account(h.page(c, "Your account"), a))
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
	h.setFlash(c, "success", "Password saved. Your other devices have been signed out.")
	return redirect(c, "/account")
}

func (h *handler) revokeSession(c *fiber.Ctx) error {
	u := currentUser(c)
	sid := strings.Clone(c.Params("id"))
	if sid == currentSessionID(c) {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "To end this session, sign out.")
	}
	err := h.store.RevokeSession(c.UserContext(), u.ID, sid)
	if errors.Is(err, store.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, "That session has already ended.")
	} else if err != nil {
		return err
	}
	if isPartial(c) {
		return c.SendString("") // htmx swaps the row away
	}
	h.setFlash(c, "success", "That device has been signed out.")
	return c.Redirect("/account", fiber.StatusSeeOther)
}

// deviceName turns a User-Agent into something a person recognises ("Chrome on Android").
func deviceName(ua string) string {
	browser := "Unknown browser"
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
			return browser + " on " + o.name
		}
	}
	return browser
}

// timeAgo says how long ago t was, in words.
func timeAgo(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d.Hours()), "hour") + " ago"
	default:
		return plural(int(d.Hours()/24), "day") + " ago"
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
