package handlers

import (
	"context"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/session"

	"hazardwatch/store"
	"hazardwatch/views"
)

// Session data keys.
const (
	sessUID     = "uid"
	sessCreated = "created" // unix seconds: the absolute lifetime counts from here
	sessSeen    = "seen"    // unix seconds of the last refresh of the idle timeout
	sessPwv     = "pwv"     // password version at sign-in
	sessOAuth   = "oauth"   // "state verifier next" during Google sign-in
)

// seenEvery bounds how often requests refresh a session: at most once a minute (one Redis write
// per user per minute instead of one per request), more often only for very short idle timeouts.
func (h *handler) seenEvery() time.Duration { return min(time.Minute, h.cfg.SessionIdle/10) }

func cookieName(secure bool, name string) string {
	if secure {
		return "__Host-" + name // Secure, Path=/, no Domain: cannot be set by a sibling subdomain
	}
	return name
}

func newSessionStore(h *handler) *session.Store {
	return session.New(session.Config{
		Storage:        h.store.SessionStorage(),
		Expiration:     h.cfg.SessionIdle,
		KeyLookup:      "cookie:" + cookieName(h.cfg.Secure(), "hw_session"),
		CookieHTTPOnly: true,
		CookieSecure:   h.cfg.Secure(),
		CookieSameSite: fiber.CookieSameSiteLaxMode,
		CookiePath:     "/",
	})
}

// currentUser is the signed-in user, or nil.
func currentUser(c *fiber.Ctx) *store.User {
	u, _ := c.Locals("user").(*store.User)
	return u
}

func currentSessionID(c *fiber.Ctx) string {
	id, _ := c.Locals("sid").(string)
	return id
}

// loadUser reads the session cookie, ends sessions that are too old or whose user may no longer
// sign in, and slides the idle timeout.
func (h *handler) loadUser(c *fiber.Ctx) error {
	if c.Cookies(cookieName(h.cfg.Secure(), "hw_session")) == "" {
		return c.Next()
	}
	sess, err := h.sessions.Get(c)
	if err != nil {
		return err
	}
	uid, _ := sess.Get(sessUID).(string)
	if uid == "" {
		return c.Next()
	}
	created, _ := sess.Get(sessCreated).(int64)
	seen, _ := sess.Get(sessSeen).(int64)
	pwv, _ := sess.Get(sessPwv).(int64)
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	u, err := h.store.UserByID(ctx, uid)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := time.Now()
	if u == nil || u.Disabled || u.PasswordVersion != pwv || now.Sub(time.Unix(created, 0)) > h.cfg.SessionMaxAge {
		_ = h.store.RevokeSession(ctx, uid, sess.ID())
		if err := sess.Destroy(); err != nil {
			return err
		}
		return c.Next()
	}
	c.Locals("user", u)
	c.Locals("sid", sess.ID())
	// Pages for a signed-in person (their account, admin pages, exports) must not be kept by the
	// browser or any cache on the way: the next person at a shared computer could read them.
	c.Set(fiber.HeaderCacheControl, "no-store")
	if now.Sub(time.Unix(seen, 0)) >= h.seenEvery() {
		sess.Set(sessSeen, now.Unix())
		if err := h.store.TrackSession(ctx, uid, h.sessionInfo(c, sess.ID(), time.Unix(created, 0), now)); err != nil {
			return err
		}
		if err := sess.Save(); err != nil {
			return err
		}
	}
	return c.Next()
}

func (h *handler) sessionInfo(c *fiber.Ctx, sid string, created, seen time.Time) store.SessionInfo {
	return store.SessionInfo{ID: sid, UserAgent: truncate(c.Get(fiber.HeaderUserAgent), 300), IP: c.IP(), CreatedAt: created, LastSeen: seen}
}

// signIn starts a fresh session for u: a new id (no fixation), a new CSRF token, an entry in the
// user's device list, and a device cookie that lets this browser in while the account is locked
// for others (device.go).
func (h *handler) signIn(c *fiber.Ctx, u *store.User) error {
	sess, err := h.sessions.Get(c)
	if err != nil {
		return err
	}
	if err := sess.Reset(); err != nil { // drops any previous session's data and id
		return err
	}
	now := time.Now()
	sess.Set(sessUID, u.ID)
	sess.Set(sessCreated, now.Unix())
	sess.Set(sessSeen, now.Unix())
	sess.Set(sessPwv, u.PasswordVersion)
	sid := sess.ID()
	if err := sess.Save(); err != nil {
		return err
	}
	h.rotateCSRF(c)
	h.rememberDevice(c, u.ID)
	c.Set(fiber.HeaderCacheControl, "no-store") // it sets the session cookie
	c.Locals("user", u)
	c.Locals("sid", sid)
	return h.store.TrackSession(c.UserContext(), u.ID, h.sessionInfo(c, sid, now, now))
}

// signOut ends the current session on the server and in the browser.
func (h *handler) signOut(c *fiber.Ctx) error {
	if u := currentUser(c); u != nil {
		if err := h.store.RevokeSession(c.UserContext(), u.ID, currentSessionID(c)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	sess, err := h.sessions.Get(c)
	if err != nil {
		return err
	}
	if err := sess.Destroy(); err != nil {
		return err
	}
	h.rotateCSRF(c)
	c.Locals("user", nil)
	return nil
}

// viewUser is the header's view of the signed-in user.
func viewUser(u *store.User) *views.CurrentUser {
	if u == nil {
		return nil
	}
	return &views.CurrentUser{Name: u.Name, Role: string(u.Role)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
