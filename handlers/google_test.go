package handlers

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/markbates/goth/providers/google"
	"golang.org/x/oauth2"

	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

// fakeGoogle is an OAuth2 provider on loopback: authorize (answers at once with a redirect back),
// token (checks the client secret and the PKCE verifier) and userinfo.
type fakeGoogle struct {
	srv *httptest.Server

	mu         sync.Mutex
	profile    map[string]any // what userinfo returns next
	challenges map[string]string
	tokens     map[string]map[string]any
}

func newFakeGoogle(t *testing.T) *fakeGoogle {
	f := &fakeGoogle{challenges: map[string]string{}, tokens: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != "test-client" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			http.Error(w, "bad authorize request", http.StatusBadRequest)
			return
		}
		code := "code-" + q.Get("state")[:8]
		f.mu.Lock()
		f.challenges[code] = q.Get("code_challenge")
		f.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		defer f.mu.Unlock()
		challenge, ok := f.challenges[r.PostForm.Get("code")]
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge || r.PostForm.Get("client_secret") != "test-secret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		delete(f.challenges, r.PostForm.Get("code"))
		token := "at-" + r.PostForm.Get("code")
		f.tokens[token] = f.profile
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 3600})
	})
	mux.HandleFunc("/oauth2/v2/userinfo", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		p, ok := f.tokens[r.URL.Query().Get("access_token")]
		f.mu.Unlock()
		if !ok {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	old := google.Endpoint
	google.Endpoint = oauth2.Endpoint{AuthURL: f.srv.URL + "/authorize", TokenURL: f.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}
	t.Cleanup(func() { google.Endpoint = old })
	return f
}

// client sends Google's API hosts to the fake.
func (f *fakeGoogle) client() *http.Client {
	target, _ := url.Parse(f.srv.URL)
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (f *fakeGoogle) next(sub, email, name string, verified bool) {
	f.mu.Lock()
	f.profile = map[string]any{"id": sub, "email": email, "name": name, "verified_email": verified}
	f.mu.Unlock()
}

func newGoogleEnv(t *testing.T) (*env, *fakeGoogle) {
	f := newFakeGoogle(t)
	e := newEnvOn(t, redistest.Start(t), f.client(), "GOOGLE_CLIENT_ID", "test-client", "GOOGLE_CLIENT_SECRET", "test-secret")
	return e, f
}

// googleSignIn walks the browser's part of the flow; tamper may change the callback URL.
func googleSignIn(t *testing.T, c *client, tamper func(url.Values)) *http.Response {
	t.Helper()
	return googleSignInNext(t, c, "/account", tamper)
}

// googleSignInNext is googleSignIn starting from /auth/google?next=<next>.
func googleSignInNext(t *testing.T, c *client, next string, tamper func(url.Values)) *http.Response {
	t.Helper()
	resp, _ := c.get("/auth/google?next=" + url.QueryEscape(next))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d", resp.StatusCode)
	}
	authz := resp.Header.Get("Location")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ar, err := noFollow.Get(authz)
	if err != nil {
		t.Fatal(err)
	}
	ar.Body.Close()
	if ar.StatusCode != http.StatusFound {
		t.Fatalf("fake authorize refused %s: %d", authz, ar.StatusCode)
	}
	back, _ := url.Parse(ar.Header.Get("Location"))
	q := back.Query()
	if tamper != nil {
		tamper(q)
	}
	resp, _ = c.get(back.Path + "?" + q.Encode())
	return resp
}

func TestGoogleButtonOnlyWhenConfigured(t *testing.T) {
	plain := newEnv(t)
	_, body := plain.client(t).get("/login")
	if doc(t, body).Find(`[data-testid="google-signin"]`).Length() != 0 {
		t.Fatal("Google button shown without GOOGLE_CLIENT_ID")
	}
	if resp, _ := plain.client(t).get("/auth/google"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/auth/google without configuration: %d", resp.StatusCode)
	}
	e, _ := newGoogleEnv(t)
	_, body = e.client(t).get("/login")
	if doc(t, body).Find(`[data-testid="google-signin"]`).Length() != 1 {
		t.Fatal("Google button missing")
	}
}

func TestGoogleNewUser(t *testing.T) {
	e, f := newGoogleEnv(t)
	f.next("g-1", "New.Person@example.org", "New Person", true)
	c := e.client(t)
	resp := googleSignIn(t, c, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account" {
		t.Fatalf("callback: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if c.who() != "New Person" {
		t.Fatal("not signed in after Google")
	}
	u, err := e.store.UserByGoogle(t.Context(), "g-1")
	if err != nil || u.Email != "new.person@example.org" || !u.EmailVerified || u.PasswordHash != "" || u.Role != store.RoleCitizen {
		t.Fatalf("created: %+v %v", u, err)
	}
	// The second time signs in the same account.
	c2 := e.client(t)
	googleSignIn(t, c2, nil)
	if c2.who() != "New Person" {
		t.Fatal("second Google sign-in")
	}
	if n, _ := e.store.Client().ZCard(t.Context(), "hw:users").Result(); n != 1 {
		t.Fatalf("%d accounts", n)
	}
}

func TestGoogleLinksVerifiedAccount(t *testing.T) {
	e, f := newGoogleEnv(t)
	u := e.createUser(t, "Olga", "olga@example.org", goodPassword, store.RoleModerator)
	if err := e.store.MarkEmailVerified(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	f.next("g-2", "olga@example.org", "Olga G.", true)
	c := e.client(t)
	googleSignIn(t, c, nil)
	if c.who() != "Olga" {
		t.Fatal("not signed in to the existing account")
	}
	got, _ := e.store.UserByID(t.Context(), u.ID)
	if got.GoogleSub != "g-2" || got.PasswordHash == "" || got.Role != store.RoleModerator {
		t.Fatalf("linked account: %+v", got)
	}
	e.client(t).mustLogin("olga@example.org", goodPassword) // the password still works
}

func TestGoogleTakesOverUnverifiedAccount(t *testing.T) {
	e, f := newGoogleEnv(t)
	squatter := e.client(t)
	squatter.register("Squatter", "pat@example.org", goodPassword)
	squatter.mustLogin("pat@example.org", goodPassword)
	f.next("g-3", "pat@example.org", "Pat", true)
	c := e.client(t)
	googleSignIn(t, c, nil)
	if c.who() != "Squatter" {
		t.Fatalf("signed in as %q", c.who())
	}
	u, _ := e.store.UserByEmail(t.Context(), "pat@example.org")
	if u.PasswordHash != "" || !u.EmailVerified || u.GoogleSub != "g-3" {
		t.Fatalf("after take-over: %+v", u)
	}
	if squatter.who() != "" {
		t.Fatal("the squatter's session survived the take-over")
	}
	if resp, _ := e.client(t).login("pat@example.org", goodPassword); resp.StatusCode == http.StatusSeeOther {
		t.Fatal("the squatter's password still works")
	}
}

func TestGoogleUnverifiedEmailDoesNotLink(t *testing.T) {
	e, f := newGoogleEnv(t)
	e.createUser(t, "Quinn", "quinn@example.org", goodPassword, store.RoleCitizen)
	f.next("g-4", "quinn@example.org", "Quinn?", false)
	c := e.client(t)
	resp := googleSignIn(t, c, nil)
	_, body := c.get("/login") // the flash message shows on the next page
	if !strings.Contains(body, "Google has not verified this email address") {
		t.Fatal("no message explains the refusal")
	}
	if resp.Header.Get("Location") != "/login" || c.who() != "" {
		t.Fatalf("unverified Google email: %s, signed in as %q", resp.Header.Get("Location"), c.who())
	}
}

func TestGoogleForgedStateIsRejected(t *testing.T) {
	e, f := newGoogleEnv(t)
	f.next("g-5", "rae@example.org", "Rae", true)
	c := e.client(t)
	resp := googleSignIn(t, c, func(q url.Values) { q.Set("state", strings.Repeat("A", 43)) })
	_, body := c.get("/login")
	if !strings.Contains(body, "Google sign-in could not be completed") {
		t.Fatal("no error message after a forged state")
	}
	if resp.Header.Get("Location") != "/login" || c.who() != "" {
		t.Fatalf("forged state: %s, signed in as %q", resp.Header.Get("Location"), c.who())
	}
	if _, err := e.store.UserByGoogle(t.Context(), "g-5"); err == nil {
		t.Fatal("an account was made from a forged callback")
	}
	// A callback with no flow started in this browser is refused too.
	other := e.client(t)
	if resp, _ := other.get("/auth/google/callback?code=x&state=y"); resp.Header.Get("Location") != "/login" || other.who() != "" {
		t.Fatal("a callback without a started flow was accepted")
	}
}

// The Google callback redirects with the same check as the sign-in form.
func TestGoogleRedirectStaysOnSite(t *testing.T) {
	e, f := newGoogleEnv(t)
	f.next("g-6", "sam@example.org", "Sam", true)
	c := e.client(t)
	resp := googleSignInNext(t, c, "/\t/evil.example", nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/" || c.who() != "Sam" {
		t.Fatalf("callback after next=/<tab>/evil: %d %q, signed in as %q", resp.StatusCode, loc, c.who())
	}
}

// In production (no client given) both the code exchange and the profile fetch have a timeout:
// goth's FetchUser takes no context, so only the client can bound it.
func TestGoogleClientsHaveTimeouts(t *testing.T) {
	e := newEnv(t, "GOOGLE_CLIENT_ID", "id", "GOOGLE_CLIENT_SECRET", "secret")
	g := newGoogle(e.cfg, nil)
	if g.client == nil || g.client.Timeout <= 0 {
		t.Fatal("the code exchange has no timeout")
	}
	if g.provider.HTTPClient == nil || g.provider.HTTPClient.Timeout <= 0 {
		t.Fatal("the profile fetch has no timeout (goth falls back to http.DefaultClient)")
	}
}
