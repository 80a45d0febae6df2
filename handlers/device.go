package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Sign-in lockout, as OWASP's authentication cheat sheet describes it with device cookies:
// failed sign-ins count per account, so guesses from anywhere stop after failLimit; but a
// browser that has signed in to the account before carries a signed device cookie naming it,
// and its failures count on their own. So the owner's own devices keep working while someone
// else locks the account, and the reset mail works from any device.

const (
	failLimit    = 10
	failWindow   = 15 * time.Minute
	deviceCookie = "hw_device"
	deviceMaxAge = 180 * 24 * time.Hour
	maxDevices   = 5 // accounts remembered per browser
)

// knownAccount is one account this browser has signed in to; Nonce names the device in its
// failure count.
type knownAccount struct {
	UID   string `json:"u"`
	Nonce string `json:"n"`
}

// devices reads the browser's signed device cookie (nil if missing, forged or too old).
func (h *handler) devices(c *fiber.Ctx) []knownAccount {
	raw := c.Cookies(cookieName(h.cfg.Secure(), deviceCookie))
	if raw == "" {
		return nil
	}
	sc, err := h.signedCookies(c.UserContext(), deviceMaxAge)
	if err != nil {
		return nil
	}
	var known []knownAccount
	if sc.Decode(deviceCookie, raw, &known) != nil {
		return nil
	}
	return known
}

// failureRule is the count a sign-in attempt for the account (uid, email) is charged to: this
// device's own when it has signed in to that account before, the account's otherwise.
func (h *handler) failureRule(c *fiber.Ctx, uid, email string) rule {
	for _, k := range h.devices(c) {
		if uid != "" && k.UID == uid {
			return rule{"login-fail-device", k.Nonce, failLimit, failWindow}
		}
	}
	return rule{"login-fail", email, failLimit, failWindow}
}

// rememberDevice (re)issues the device cookie with uid first, keeping a few other accounts.
func (h *handler) rememberDevice(c *fiber.Ctx, uid string) {
	known := slices.DeleteFunc(h.devices(c), func(k knownAccount) bool { return k.UID == uid })
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	known = append([]knownAccount{{UID: uid, Nonce: base64.RawURLEncoding.EncodeToString(b)}}, known...)
	if len(known) > maxDevices {
		known = known[:maxDevices]
	}
	sc, err := h.signedCookies(c.UserContext(), deviceMaxAge)
	var v string
	if err == nil {
		v, err = sc.Encode(deviceCookie, known)
	}
	if err != nil { // the sign-in stands; this browser is just not remembered
		h.log.Warn("device cookie not set", "err", err)
		return
	}
	c.Cookie(&fiber.Cookie{
		Name: cookieName(h.cfg.Secure(), deviceCookie), Value: v, Path: "/", MaxAge: int(deviceMaxAge / time.Second),
		HTTPOnly: true, Secure: h.cfg.Secure(), SameSite: fiber.CookieSameSiteLaxMode,
	})
}
