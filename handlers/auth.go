package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/i18n"
	"hazardwatch/mail"
	"hazardwatch/password"
	"hazardwatch/store"
	"hazardwatch/views"
	"hazardwatch/worker"
)

var badCredentials = i18n.M("auth.bad_credentials")

func (h *handler) authPage(c *fiber.Ctx, f *form) views.AuthPage {
	a := views.AuthPage{Next: h.afterSignIn(c, localPath(c.Query("next", c.FormValue("next"))))}
	if f != nil {
		a.Form = f.Form
	}
	if h.google != nil {
		a.GoogleURL = "/auth/google"
		if a.Next != "/" {
			a.GoogleURL += "?next=" + url.QueryEscape(a.Next)
		}
	}
	return a
}

func (h *handler) registerForm(c *fiber.Ctx) error {
	if currentUser(c) != nil {
		return c.Redirect("/account", fiber.StatusSeeOther)
	}
	return render(c, fiber.StatusOK, views.Register(h.page(c, say(c, "auth.register.title")), h.authPage(c, nil)))
}

func (h *handler) register(c *fiber.Ctx) error {
	f := newForm(c, "name", "email", "password", "lang")
	name, email := f.name("name"), f.email("email")
	pw := f.newPassword("password", email, name)
	// The language chosen on the form (it starts at the page's own) is the account's, for its
	// pages and mails.
	tag := lang(c).Tag
	if l, ok := i18n.ByTag(f.Values["lang"]); ok {
		tag = l.Tag
	}
	again := func(status int) error {
		return render(c, status, views.Register(h.page(c, say(c, "auth.register.title")), h.authPage(c, f)))
	}
	if !f.ok() {
		return again(fiber.StatusUnprocessableEntity)
	}
	if msg, err := h.overLimit(c, rule{"register-ip", c.IP(), 10, time.Hour}); err != nil {
		return err
	} else if !msg.IsZero() {
		f.fail("", msg)
		return again(fiber.StatusTooManyRequests)
	}
	// Both outcomes hash the password and send one mail, and the page is the same: the answer
	// does not tell whether the address already has an account. Its owner hears of the attempt.
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	u := &store.User{Email: email, Name: name, PasswordHash: hash, Lang: tag}
	switch err := h.store.CreateUser(c.UserContext(), u); {
	case errors.Is(err, store.ErrEmailTaken):
		owner, err := h.store.UserByEmail(c.UserContext(), email)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		} else if owner != nil {
			if err := h.queueMail(c, owner, "registered", newIdemKey(), mail.Registered, mail.VerifyData{
				Common: h.mailCommon(owner), Link: h.cfg.BaseURL.String() + "/password/forgot",
			}); err != nil {
				return err
			}
		}
	case err != nil:
		return err
	default:
		if err := h.sendVerification(c, u); err != nil {
			return err
		}
	}
	a := h.authPage(c, nil)
	a.Email = email
	return render(c, fiber.StatusOK, views.RegisterSent(h.page(c, say(c, "auth.sent.title")), a))
}

func (h *handler) sendVerification(c *fiber.Ctx, u *store.User) error {
	token, err := h.store.NewToken(c.UserContext(), store.TokenVerify, u.ID, 0, 7*24*time.Hour)
	if err != nil {
		return err
	}
	return h.queueMail(c, u, "verify", token, mail.Verify, mail.VerifyData{
		Common: h.mailCommon(u), Link: h.cfg.BaseURL.String() + "/verify-email?token=" + token,
	})
}

func (h *handler) verifyEmail(c *fiber.Ctx) error {
	uid, _, err := h.store.ConsumeToken(c.UserContext(), store.TokenVerify, c.Query("token"))
	if errors.Is(err, store.ErrNotFound) {
		h.setFlash(c, "error", i18n.M("auth.verify.expired"))
		return c.Redirect("/account", fiber.StatusSeeOther)
	} else if err != nil {
		return err
	}
	if err := h.store.MarkEmailVerified(c.UserContext(), uid); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if currentUser(c) == nil {
		h.setFlash(c, "success", i18n.M("auth.verify.done_sign_in"))
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	h.setFlash(c, "success", i18n.M("auth.verify.done"))
	return c.Redirect("/account", fiber.StatusSeeOther)
}

func (h *handler) loginForm(c *fiber.Ctx) error {
	if currentUser(c) != nil {
		return c.Redirect(localPath(c.Query("next")), fiber.StatusSeeOther)
	}
	return render(c, fiber.StatusOK, views.Login(h.page(c, say(c, "auth.login.title")), h.authPage(c, nil)))
}

func (h *handler) login(c *fiber.Ctx) error {
	f := newForm(c, "email", "password", "next")
	email := f.email("email")
	pw := f.Values["password"]
	if pw == "" {
		f.fail("password", i18n.M("auth.login.enter_password"))
	}
	again := func(status int) error {
		return render(c, status, views.Login(h.page(c, say(c, "auth.login.title")), h.authPage(c, f)))
	}
	if !f.ok() {
		return again(fiber.StatusUnprocessableEntity)
	}
	// Every attempt counts against the address (it stops spraying many accounts); only failures
	// count against the account or this device (device.go), and a success clears them.
	if msg, err := h.overLimit(c, rule{"login-ip", c.IP(), 50, 15 * time.Minute}); err != nil {
		return err
	} else if !msg.IsZero() {
		f.fail("", msg)
		return again(fiber.StatusTooManyRequests)
	}
	u, err := h.store.UserByEmail(c.UserContext(), email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	uid := ""
	if u != nil {
		uid = u.ID
	}
	failures := h.failureRule(c, uid, store.NormalizeEmail(email))
	if retry, err := h.limited(c, failures); err != nil {
		return err
	} else if retry > 0 {
		f.fail("", i18n.M("auth.login.locked", "Wait", i18n.DurationMsg(retry)))
		return again(fiber.StatusTooManyRequests)
	}
	// A missing account, one without a password and a disabled one get the wrong-password answer
	// after one hash check, so neither the answer nor its timing tells which addresses have
	// accounts, nor confirms a guessed password of a disabled one. Its owner learns that it is
	// disabled from the reset mail (forgot).
	if u == nil || u.PasswordHash == "" || u.Disabled {
		password.CheckNothing(pw)
		f.fail("", badCredentials)
		return again(fiber.StatusUnprocessableEntity)
	}
	if ok, err := password.Check(pw, u.PasswordHash); err != nil || !ok {
		f.fail("", badCredentials)
		return again(fiber.StatusUnprocessableEntity)
	}
	if err := h.store.ClearHits(c.UserContext(), failures.scope, failures.subject); err != nil {
		return err
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	h.audit(c, "user.signin", u.ID, "password")
	return redirect(c, localPath(f.Values["next"]))
}

func (h *handler) logout(c *fiber.Ctx) error {
	if err := h.signOut(c); err != nil {
		return err
	}
	h.setFlash(c, "info", i18n.M("auth.signed_out"))
	return redirect(c, "/")
}

func (h *handler) forgotForm(c *fiber.Ctx) error {
	return render(c, fiber.StatusOK, views.Forgot(h.page(c, say(c, "auth.forgot.title")), h.authPage(c, nil)))
}

// forgot answers the same way whether or not the address has an account; the link only ever
// travels by mail.
func (h *handler) forgot(c *fiber.Ctx) error {
	f := newForm(c, "email")
	email := f.email("email")
	again := func(status int) error {
		return render(c, status, views.Forgot(h.page(c, say(c, "auth.forgot.title")), h.authPage(c, f)))
	}
	if !f.ok() {
		return again(fiber.StatusUnprocessableEntity)
	}
	if msg, err := h.overLimit(c, rule{"reset-ip", c.IP(), 10, time.Hour},
		rule{"reset-email", store.NormalizeEmail(email), 3, time.Hour}); err != nil {
		return err
	} else if !msg.IsZero() {
		f.fail("", msg)
		return again(fiber.StatusTooManyRequests)
	}
	u, err := h.store.UserByEmail(c.UserContext(), email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	switch {
	case u != nil && u.Disabled:
		// The sign-in page does not say that an account is disabled (it would tell anyone who
		// typed the address); its owner's mailbox does.
		if err := h.queueMail(c, u, "disabled", newIdemKey(), mail.Disabled, h.mailCommon(u)); err != nil {
			return err
		}
	case u != nil:
		token, err := h.store.NewToken(c.UserContext(), store.TokenReset, u.ID, u.PasswordVersion, h.cfg.ResetTokenTTL)
		if err != nil {
			return err
		}
		err = h.queueMail(c, u, "reset", token, mail.Reset, mail.ResetData{
			Common: h.mailCommon(u), Link: h.cfg.BaseURL.String() + "/password/reset?token=" + token,
			Minutes: int(h.cfg.ResetTokenTTL.Minutes()),
		})
		if err != nil {
			return err
		}
	}
	a := h.authPage(c, nil)
	a.Email, a.TTLMinutes = email, int(h.cfg.ResetTokenTTL.Minutes())
	return render(c, fiber.StatusOK, views.ForgotSent(h.page(c, say(c, "auth.sent.title")), a))
}

// resetUser finds the user a reset token belongs to, if the token is live and was issued since
// the last password change.
func (h *handler) resetUser(c *fiber.Ctx, token string, consume bool) (*store.User, error) {
	read := h.store.PeekToken
	if consume {
		read = h.store.ConsumeToken
	}
	uid, version, err := read(c.UserContext(), store.TokenReset, token)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	u, err := h.store.UserByID(c.UserContext(), uid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if u.PasswordVersion != version || u.Disabled {
		return nil, nil
	}
	return u, nil
}

func (h *handler) resetForm(c *fiber.Ctx) error {
	token := strings.Clone(c.Query("token"))
	u, err := h.resetUser(c, token, false)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if u == nil {
		return render(c, fiber.StatusNotFound, views.ResetInvalid(h.page(c, say(c, "auth.reset.expired_title"))))
	}
	a := h.authPage(c, nil)
	a.Token = token
	return render(c, fiber.StatusOK, views.Reset(h.page(c, say(c, "auth.reset.title")), a))
}

func (h *handler) reset(c *fiber.Ctx) error {
	f := newForm(c, "token", "password")
	token := f.Values["token"]
	// Check the link before the password, so a dead link is not reported as a weak password.
	u, err := h.resetUser(c, token, false)
	if err != nil {
		return err
	}
	if u == nil {
		return render(c, fiber.StatusNotFound, views.ResetInvalid(h.page(c, say(c, "auth.reset.expired_title"))))
	}
	pw := f.newPassword("password", u.Email, u.Name)
	if !f.ok() {
		a := h.authPage(c, f)
		a.Token = token
		return render(c, fiber.StatusUnprocessableEntity, views.Reset(h.page(c, say(c, "auth.reset.title")), a))
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	// Use the token up now: of two concurrent submits only one gets here with a user.
	if u, err = h.resetUser(c, token, true); err != nil {
		return err
	} else if u == nil {
		return render(c, fiber.StatusNotFound, views.ResetInvalid(h.page(c, say(c, "auth.reset.expired_title"))))
	}
	if err := h.store.SetPassword(c.UserContext(), u.ID, hash); err != nil {
		return err
	}
	if err := h.store.RevokeSessions(c.UserContext(), u.ID, ""); err != nil {
		return err
	}
	// The mailed link proved the owner: the account's failed sign-ins stop counting.
	if err := h.store.ClearHits(c.UserContext(), "login-fail", store.NormalizeEmail(u.Email)); err != nil {
		return err
	}
	h.audit(c, "user.password_reset", u.ID, "")
	h.setFlash(c, "success", i18n.M("auth.reset.done"))
	return redirect(c, "/login")
}

// rule is one rate limit: at most n hits of subject in scope per window.
type rule struct {
	scope, subject string
	n              int
	window         time.Duration
}

// overLimit counts a hit against each rule (unless RATE_LIMITS=off) and returns a message saying
// when to retry if any is exceeded; it sets Retry-After. Callers re-render their form with the
// message and status 429, so nothing typed is lost.
func (h *handler) overLimit(c *fiber.Ctx, rules ...rule) (i18n.Msg, error) {
	retry, err := h.limited(c, rules...)
	if err != nil || retry == 0 {
		return i18n.Msg{}, err
	}
	return i18n.M("errors.rate_limited", "Wait", i18n.DurationMsg(retry)), nil
}

// limited is overLimit's count: how long until the exceeded rule's window ends, 0 if none is.
func (h *handler) limited(c *fiber.Ctx, rules ...rule) (time.Duration, error) {
	if !h.cfg.RateLimits {
		return 0, nil
	}
	for _, r := range rules {
		ok, retry, err := h.store.Hit(c.UserContext(), r.scope, r.subject, r.n, r.window)
		if err != nil {
			return 0, err
		}
		if !ok {
			retry = max(retry, time.Second)
			c.Set(fiber.HeaderRetryAfter, fmt.Sprint(int(retry.Seconds())+1))
			return retry, nil
		}
	}
	return 0, nil
}

// mailCommon is what every mail to u says.
func (h *handler) mailCommon(u *store.User) mail.Common {
	return mail.Common{Name: u.Name, AccountURL: h.cfg.BaseURL.String() + "/account"}
}

// queueMail queues a mail to u through the Redis mail stream, so it survives a crash of this
// process. Its key is what the mail is for (a kind and a token, hashed: secrets never name keys).
// It speaks u's language, not the language of whoever made the request (someone registering
// with a known address, say); the request's only when u has not chosen one.
func (h *handler) queueMail(c *fiber.Ctx, u *store.User, kind, token string, k mail.Kind, data any) error {
	sum := sha256.Sum256([]byte(token))
	return worker.Enqueue(recipientContext(c, u.Lang), h.store, kind+":"+hex.EncodeToString(sum[:12]), u.Email, k, data)
}

// recipientContext is the request's context speaking the recipient's language (tag), or the
// request's own when the recipient has none (an address without an account, an account that
// never chose).
func recipientContext(c *fiber.Ctx, tag string) context.Context {
	if l, ok := i18n.ByTag(tag); ok {
		return i18n.With(c.UserContext(), i18n.For(l.Tag))
	}
	return c.UserContext()
}
