package handlers

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/markbates/goth/providers/google"
	"golang.org/x/oauth2"

	"hazardwatch/config"
	"hazardwatch/i18n"
	"hazardwatch/store"
)

// googleAuth is Google sign-in: goth's Google provider builds the authorization URL and reads
// the profile; the code exchange is done here so it can carry the PKCE verifier. State and
// verifier live in the server-side session, never in the browser alone.
type googleAuth struct {
	provider *google.Provider
	oauth    *oauth2.Config
	client   *http.Client
}

// newGoogle returns nil when Google sign-in is not configured. client may be nil (a client with a
// 10 s timeout); tests pass one that reaches a fake provider.
func newGoogle(cfg *config.Config, client *http.Client) *googleAuth {
	if cfg.GoogleClientID == "" {
		return nil
	}
	callback := cfg.BaseURL.String() + "/auth/google/callback"
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	p := google.New(cfg.GoogleClientID, cfg.GoogleClientSecret, callback, "email", "profile")
	p.HTTPClient = client // the profile fetch takes no context: the client's timeout bounds it
	return &googleAuth{
		provider: p,
		client:   client,
		oauth: &oauth2.Config{
			ClientID: cfg.GoogleClientID, ClientSecret: cfg.GoogleClientSecret,
			Endpoint: google.Endpoint, RedirectURL: callback, Scopes: []string{"email", "profile"},
		},
	}
}

var googleFailed = i18n.M("auth.google.failed")

func randomString() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// googleStart sends the browser to Google with a fresh state and PKCE challenge.
func (h *handler) googleStart(c *fiber.Ctx) error {
	if h.google == nil {
		return fiber.ErrNotFound
	}
	state, verifier := randomString(), oauth2.GenerateVerifier()
	sess, err := h.sessions.Get(c)
	if err != nil {
		return err
	}
	sess.Set(sessOAuth, state+" "+verifier+" "+localPath(c.Query("next")))
	if currentUser(c) == nil {
		sess.SetExpiry(15 * time.Minute) // an anonymous session only has to outlive the round trip
	}
	if err := sess.Save(); err != nil {
		return err
	}
	gs, err := h.google.provider.BeginAuth(state)
	if err != nil {
		return err
	}
	authURL, err := gs.GetAuthURL()
	if err != nil {
		return err
	}
	authURL += "&code_challenge=" + url.QueryEscape(oauth2.S256ChallengeFromVerifier(verifier)) + "&code_challenge_method=S256"
	return c.Redirect(authURL, fiber.StatusSeeOther)
}

func (h *handler) googleFail(c *fiber.Ctx, msg i18n.Msg) error {
	h.setFlash(c, "error", msg)
	return c.Redirect("/login", fiber.StatusSeeOther)
}

// googleCallback checks state, exchanges the code with the PKCE verifier, reads the profile and
// signs the person in, linking or creating the account.
func (h *handler) googleCallback(c *fiber.Ctx) error {
	if h.google == nil {
		return fiber.ErrNotFound
	}
	sess, err := h.sessions.Get(c)
	if err != nil {
		return err
	}
	stored, _ := sess.Get(sessOAuth).(string)
	sess.Delete(sessOAuth)
	if err := sess.Save(); err != nil {
		return err
	}
	parts := strings.SplitN(stored, " ", 3)
	if c.Query("error") != "" {
		return h.googleFail(c, i18n.M("auth.google.cancelled"))
	}
	state := c.Query("state")
	if len(parts) != 3 || state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(parts[0])) != 1 {
		h.log.Warn("google sign-in: state mismatch", "ip", c.IP())
		return h.googleFail(c, googleFailed)
	}
	verifier, next := parts[1], parts[2]

	ctx, cancel := context.WithTimeout(c.UserContext(), 15*time.Second)
	defer cancel()
	tok, err := h.google.oauth.Exchange(context.WithValue(ctx, oauth2.HTTPClient, h.google.client), c.Query("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		h.log.Warn("google sign-in: code exchange failed", "err", err)
		return h.googleFail(c, googleFailed)
	}
	gu, err := h.google.provider.FetchUser(&google.Session{AccessToken: tok.AccessToken, ExpiresAt: tok.Expiry})
	if err != nil || gu.UserID == "" || gu.Email == "" {
		h.log.Warn("google sign-in: profile fetch failed", "err", err)
		return h.googleFail(c, googleFailed)
	}
	verified, _ := gu.RawData["verified_email"].(bool)
	if v, ok := gu.RawData["email_verified"].(bool); ok {
		verified = v
	}

	u, msg, err := h.googleUser(ctx, currentUser(c), gu.UserID, gu.Email, gu.Name, verified)
	if err != nil {
		return err
	}
	if !msg.IsZero() {
		return h.googleFail(c, msg)
	}
	if u.Disabled {
		return h.googleFail(c, i18n.M("auth.google.disabled"))
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	h.audit(c, "user.signin", u.ID, "google")
	return c.Redirect(localPath(next), fiber.StatusSeeOther)
}

// googleUser finds or makes the account for a Google identity. The rules:
//   - a Google id already linked signs in that account;
//   - a signed-in user links the Google id to their own account;
//   - a verified Google email matching an account with a verified email links to it;
//   - one matching an account whose email was never verified takes it over: whoever registered
//     the address first may not own it, so its password is cleared and its sessions end;
//   - otherwise a new account is made.
func (h *handler) googleUser(ctx context.Context, current *store.User, sub, email, name string, verified bool) (*store.User, i18n.Msg, error) {
	u, err := h.store.UserByGoogle(ctx, sub)
	if err == nil {
		return u, i18n.Msg{}, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, i18n.Msg{}, err
	}
	if current != nil {
		if err := h.store.LinkGoogle(ctx, current.ID, sub, false); err != nil {
			return nil, i18n.Msg{}, err
		}
		u, err := h.store.UserByID(ctx, current.ID)
		return u, i18n.Msg{}, err
	}
	existing, err := h.store.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, i18n.Msg{}, err
	}
	if existing != nil {
		if !verified {
			return nil, i18n.M("auth.google.unverified"), nil
		}
		if err := h.store.LinkGoogle(ctx, existing.ID, sub, !existing.EmailVerified); err != nil {
			return nil, i18n.Msg{}, err
		}
		u, err := h.store.UserByID(ctx, existing.ID)
		return u, i18n.Msg{}, err
	}
	name = strings.Join(strings.Fields(name), " ")
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	if r := []rune(name); len(r) > 80 {
		name = string(r[:80])
	}
	u = &store.User{Email: email, Name: name, GoogleSub: sub, EmailVerified: verified, Lang: i18n.From(ctx).Lang().Tag}
	if err := h.store.CreateUser(ctx, u); err != nil {
		return nil, i18n.Msg{}, err
	}
	return u, i18n.Msg{}, nil
}
