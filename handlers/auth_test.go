package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"hazardwatch/store"
)

const goodPassword = "correct horse battery"

func TestRegisterConfirmSignIn(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.register("Ada Lovelace", "Ada@Example.org", goodPassword)
	if got := c.who(); got != "" {
		t.Fatalf("registering signed in as %q: it must look the same as registering a taken address", got)
	}
	u, err := e.store.UserByEmail(t.Context(), "ada@example.org")
	if err != nil || u.EmailVerified || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("stored user: %+v %v", u, err)
	}

	// The verification mail links back; following it marks the address verified.
	m := e.waitMails(t, "ada@example.org", 1)[0]
	if !strings.HasPrefix(m.Link, e.cfg.BaseURL.String()+"/verify-email?token=") {
		t.Fatalf("verification link: %q", m.Link)
	}
	if resp, _ := c.get(pathOf(t, m.Link)); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("verify: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	c.mustLogin("ADA@example.org ", goodPassword)
	if got := c.who(); got != "Ada Lovelace" {
		t.Fatalf("after sign-in the header shows %q", got)
	}
	_, body := c.get("/account")
	if doc(t, body).Find(`[data-testid="email-verified"]`).Length() != 1 {
		t.Fatal("account does not show the address as verified")
	}
	if resp, _ := c.get(pathOf(t, m.Link)); resp.Header.Get("Location") != "/account" {
		t.Fatal("a used verification link should just go back to the account")
	}

	if resp, _ := c.post("/logout", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if got := c.who(); got != "" {
		t.Fatalf("after sign-out the header shows %q", got)
	}
}

// Registering a taken address looks exactly like registering a new one; the owner gets a mail.
func TestRegisterDoesNotRevealAccounts(t *testing.T) {
	e := newEnv(t)
	owner := e.createUser(t, "Tara", "tara@example.org", goodPassword, store.RoleCitizen)
	answer := func(email string) (int, string) {
		resp, body := e.client(t).post("/register", url.Values{"name": {"Someone"}, "email": {email}, "password": {"an unguessable phrase"}})
		text := doc(t, body).Find("main").Text()
		return resp.StatusCode, strings.ReplaceAll(text, email, "EMAIL")
	}
	takenStatus, taken := answer("Tara@example.org")
	newStatus, fresh := answer("Tara-new@example.org")
	if takenStatus != http.StatusOK || takenStatus != newStatus || taken != fresh {
		t.Fatalf("taken address: %d %q\nnew address: %d %q", takenStatus, taken, newStatus, fresh)
	}
	m := e.waitMails(t, "tara@example.org", 1)[0]
	if !strings.Contains(m.Subject, "tried to register") || strings.Contains(m.Body, "token=") {
		t.Fatalf("the owner's mail: %q\n%s", m.Subject, m.Body)
	}
	if u, _ := e.store.UserByID(t.Context(), owner.ID); u.Name != "Tara" || u.PasswordHash != owner.PasswordHash {
		t.Fatal("the attempt changed the existing account")
	}
	if len(e.waitMails(t, "tara-new@example.org", 1)) != 1 {
		t.Fatal("no confirmation mail for the new address")
	}
}

func TestRegisterValidationKeepsInput(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Taken", "taken@example.org", goodPassword, store.RoleCitizen)
	cases := []struct {
		name, email, pw string
		field, msg      string
	}{
		{"", "a@example.org", goodPassword, "name", "Enter your name."},
		{strings.Repeat("n", 81), "a@example.org", goodPassword, "name", "80 characters"},
		{"Ann", "not-an-email", goodPassword, "email", "like name@example.org"},
		{"Ann", "a@example.org", "short", "password", "at least 10"},
		{"Ann", "a@example.org", strings.Repeat("p", 129), "password", "at most 128"},
		{"Ann", "ann.long@example.org", "ann.long@example.org", "password", "email address or name"},
		{"Ann", "a@example.org", "password1234", "password", "most common"},
		{"Ann", "a@example.org", "qqqqqqqqqqqqqqqqqqqqq", "password", "repeated or sequential"},
		{"Ann Longworth", "a@example.org", "longworth 2024", "password", "email address or name"},
	}
	for _, tc := range cases {
		c := e.client(t)
		resp, body := c.post("/register", url.Values{"name": {tc.name}, "email": {tc.email}, "password": {tc.pw}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%+v: status %d", tc, resp.StatusCode)
			continue
		}
		d := doc(t, body)
		if msg := d.Find(`[data-testid="error-` + tc.field + `"]`).Text(); !strings.Contains(msg, tc.msg) {
			t.Errorf("%+v: error next to %s is %q", tc, tc.field, msg)
		}
		in := d.Find(`input[name="` + tc.field + `"]`)
		if v, _ := in.Attr("aria-describedby"); v != "f-"+tc.field+"-error" || in.AttrOr("aria-invalid", "") != "true" {
			t.Errorf("%+v: the input is not tied to its error: aria-describedby=%q", tc, v)
		}
		if _, odd := in.Attr("else"); odd {
			t.Errorf("%+v: stray attribute on the input", tc)
		}
		if v, _ := d.Find(`input[name="email"]`).Attr("value"); v != strings.TrimSpace(tc.email) {
			t.Errorf("%+v: typed email not kept: %q", tc, v)
		}
		if _, has := d.Find(`input[name="password"]`).Attr("value"); has || strings.Contains(body, tc.pw) && len(tc.pw) > 8 && tc.field != "email" && tc.field != "password" {
			t.Errorf("%+v: password echoed back", tc)
		}
	}
	if n, _ := e.store.Client().ZCard(t.Context(), "hw:users").Result(); n != 1 {
		t.Fatalf("failed registrations created %d users", n-1)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	form := url.Values{"name": {"Eve"}, "email": {"eve@example.org"}, "password": {goodPassword}}
	for _, tc := range []struct {
		name    string
		token   string
		headers []string
	}{
		{"missing", "", nil},
		{"wrong", strings.Repeat("x", 43), nil},
		{"cross-site", "", []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		v := url.Values{}
		for k, vs := range form {
			v[k] = vs
		}
		v.Set("_csrf", tc.token)
		if tc.name == "cross-site" {
			v.Set("_csrf", c.csrf())
		}
		resp, body := c.post("/register", v, tc.headers...)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Reload the page") {
			t.Errorf("%s token: %d", tc.name, resp.StatusCode)
		}
	}
	if _, err := e.store.UserByEmail(t.Context(), "eve@example.org"); err == nil {
		t.Fatal("a forged POST created an account")
	}
	// The header works as well as the field (htmx sends the header).
	v := url.Values{"_csrf": {""}, "name": {"Eve"}, "email": {"eve@example.org"}, "password": {goodPassword}}
	if resp, _ := c.post("/register", v, "X-CSRF-Token", c.csrf()); resp.StatusCode != http.StatusOK {
		t.Fatalf("header token: %d", resp.StatusCode)
	}
	// Signing in rotates the token.
	before := c.csrf()
	c.post("/logout", url.Values{})
	if c.csrf() == before {
		t.Fatal("CSRF token not rotated at sign-out")
	}
}

func TestWrongEmailAndWrongPasswordLookAlike(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Bob", "bob@example.org", goodPassword, store.RoleCitizen)
	c := e.client(t)
	r1, b1 := c.login("bob@example.org", "wrong password!")
	r2, b2 := c.login("nobody@example.org", "wrong password!")
	m1 := doc(t, b1).Find(`[data-testid="form-error"]`).Text()
	m2 := doc(t, b2).Find(`[data-testid="form-error"]`).Text()
	if r1.StatusCode != r2.StatusCode || m1 != m2 || m1 == "" {
		t.Fatalf("wrong password: %d %q; wrong email: %d %q", r1.StatusCode, m1, r2.StatusCode, m2)
	}
	if v, _ := doc(t, b1).Find(`input[name="email"]`).Attr("value"); v != "bob@example.org" {
		t.Fatalf("typed email not kept: %q", v)
	}
}

func TestSessionRotatesAndLogoutEndsIt(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Cy", "cy@example.org", goodPassword, store.RoleCitizen)
	c := e.client(t)
	c.mustLogin("cy@example.org", goodPassword)
	first := c.cookie("hw_session")
	c.mustLogin("cy@example.org", goodPassword)
	second := c.cookie("hw_session")
	if first == "" || first == second {
		t.Fatalf("session id not changed at sign-in: %q -> %q", first, second)
	}
	// The old id is gone on the server: presenting it again is being signed out.
	replay := e.client(t)
	u, _ := url.Parse(e.base)
	replay.http.Jar.SetCookies(u, []*http.Cookie{{Name: "hw_session", Value: first, Path: "/"}})
	if replay.who() != "" {
		t.Fatal("the pre-sign-in session id still works")
	}
	c.post("/logout", url.Values{})
	replay.http.Jar.SetCookies(u, []*http.Cookie{{Name: "hw_session", Value: second, Path: "/"}})
	if replay.who() != "" {
		t.Fatal("the session still works after sign-out")
	}
	if n, _ := e.store.Client().Exists(t.Context(), "hw:sess:"+second).Result(); n != 0 {
		t.Fatal("sign-out left the session in Redis")
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Di", "di@example.org", goodPassword, store.RoleCitizen)
	c := e.client(t)
	resp, _ := c.login("di@example.org", goodPassword)
	var sc string
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "hw_session=") && !strings.Contains(v, "max-age=0") {
			sc = strings.ToLower(v)
		}
	}
	if !strings.Contains(sc, "httponly") || !strings.Contains(sc, "samesite=lax") || strings.Contains(sc, "secure") {
		t.Fatalf("session cookie on http: %q", sc)
	}

	secure := newEnv(t, "BASE_URL", "https://hazards.example.org")
	secure.createUser(t, "Di", "di@example.org", goodPassword, store.RoleCitizen)
	// Plain requests: a cookie jar would not hand Secure cookies back over http.
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := plain.Get(secure.base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tok := ""
	for _, ck := range resp.Cookies() {
		if ck.Name == "__Host-hw_csrf" && ck.Secure && ck.HttpOnly {
			tok = ck.Value
		}
	}
	req, _ := http.NewRequest(http.MethodPost, secure.base+"/login", strings.NewReader(url.Values{"email": {"di@example.org"}, "password": {goodPassword}, "_csrf": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "__Host-hw_csrf", Value: tok})
	if resp, err = plain.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	found := false
	for _, ck := range resp.Cookies() {
		if ck.Name == "__Host-hw_session" && ck.Value != "" {
			found = ck.Secure && ck.HttpOnly && ck.Path == "/"
		}
	}
	if resp.StatusCode != http.StatusSeeOther || !found {
		t.Fatalf("https sign-in: %d, __Host- secure cookie set: %v", resp.StatusCode, found)
	}
}

// Sessions live in Redis: a second app instance (or a restarted one) knows them.
func TestSessionsSurviveRestart(t *testing.T) {
	first := newEnv(t)
	first.createUser(t, "Eli", "eli@example.org", goodPassword, store.RoleCitizen)
	c := first.client(t)
	c.mustLogin("eli@example.org", goodPassword)
	second := newEnvOn(t, first.redis, nil)
	u, _ := url.Parse(second.base)
	c2 := second.client(t)
	c2.http.Jar.SetCookies(u, []*http.Cookie{{Name: "hw_session", Value: c.cookie("hw_session"), Path: "/"}})
	if got := c2.who(); got != "Eli" {
		t.Fatalf("the other instance sees %q", got)
	}
}

func TestIdleAndAbsoluteTimeouts(t *testing.T) {
	e := newEnv(t, "SESSION_IDLE_TIMEOUT", "1s", "SESSION_MAX_AGE", "3s")
	e.createUser(t, "Flo", "flo@example.org", goodPassword, store.RoleCitizen)

	idle := e.client(t)
	idle.mustLogin("flo@example.org", goodPassword)
	time.Sleep(1500 * time.Millisecond)
	if idle.who() != "" {
		t.Fatal("session outlived its idle timeout")
	}

	busy := e.client(t)
	busy.mustLogin("flo@example.org", goodPassword)
	start := time.Now()
	for time.Since(start) < 2*time.Second { // activity keeps it alive past the idle timeout
		if busy.who() != "Flo" {
			t.Fatalf("active session ended after %v", time.Since(start))
		}
		time.Sleep(300 * time.Millisecond)
	}
	for time.Since(start) < 3500*time.Millisecond {
		busy.who()
		time.Sleep(300 * time.Millisecond)
	}
	if busy.who() != "" {
		t.Fatal("session outlived its absolute lifetime")
	}
}

func TestPasswordReset(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Gus", "gus@example.org", goodPassword, store.RoleCitizen)
	other := e.client(t)
	other.mustLogin("gus@example.org", goodPassword)

	c := e.client(t)
	_, known := c.post("/password/forgot", url.Values{"email": {"gus@example.org"}})
	_, unknown := c.post("/password/forgot", url.Values{"email": {"nobody@example.org"}})
	norm := func(s string) string {
		return strings.ReplaceAll(doc(t, s).Find(`[data-testid="forgot-sent"]`).Text(), "nobody@example.org", "gus@example.org")
	}
	if norm(known) == "" || norm(known) != norm(unknown) {
		t.Fatalf("known and unknown addresses answered differently:\n%q\n%q", norm(known), norm(unknown))
	}
	if strings.Contains(known, "token=") {
		t.Fatal("the reset link leaked into the HTTP response")
	}
	m := e.waitMails(t, "gus@example.org", 1)[0]
	if len(e.mails(t, "nobody@example.org")) != 0 {
		t.Fatal("mail sent to an address without an account")
	}
	path := pathOf(t, m.Link)
	if resp, body := c.get(path); resp.StatusCode != 200 || !strings.Contains(body, `name="token"`) {
		t.Fatalf("reset form: %d", resp.StatusCode)
	}
	token := strings.TrimPrefix(path, "/password/reset?token=")
	resp, body := c.post("/password/reset", url.Values{"token": {token}, "password": {"short"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "at least 10") {
		t.Fatalf("weak new password: %d", resp.StatusCode)
	}
	if resp, _ := c.post("/password/reset", url.Values{"token": {token}, "password": {"a brand new password"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	if resp, _ := c.login("gus@example.org", goodPassword); resp.StatusCode == http.StatusSeeOther {
		t.Fatal("the old password still works")
	}
	c.mustLogin("gus@example.org", "a brand new password")
	if other.who() != "" {
		t.Fatal("a session from before the reset survived it")
	}
	if resp, body := c.get(path); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no longer works") {
		t.Fatalf("used link: %d", resp.StatusCode)
	}
	if resp, _ := c.post("/password/reset", url.Values{"token": {token}, "password": {"yet another password"}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("used token posted again: %d", resp.StatusCode)
	}
}

func TestResetLinkVoidAfterPasswordChange(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Hal", "hal@example.org", goodPassword, store.RoleCitizen)
	c := e.client(t)
	c.post("/password/forgot", url.Values{"email": {"hal@example.org"}})
	link := pathOf(t, e.waitMails(t, "hal@example.org", 1)[0].Link)
	c.mustLogin("hal@example.org", goodPassword)
	if resp, body := c.post("/account/password", url.Values{"current_password": {goodPassword}, "password": {"changed password 1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change password: %d %s", resp.StatusCode, body)
	}
	if c.who() != "Hal" {
		t.Fatal("changing the password signed out the current device")
	}
	if resp, _ := c.get(link); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("reset link after a password change: %d", resp.StatusCode)
	}
}

func TestChangePasswordNeedsCurrent(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Ivy", "ivy@example.org", goodPassword, store.RoleCitizen)
	c := e.client(t)
	c.mustLogin("ivy@example.org", goodPassword)
	resp, body := c.post("/account/password", url.Values{"current_password": {"nope nope nope"}, "password": {"changed password 1"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "not your current password") {
		t.Fatalf("wrong current password: %d", resp.StatusCode)
	}
}

func TestRateLimitedSignIn(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Jo", "jo@example.org", goodPassword, store.RoleCitizen)
	c := e.client(t)
	for i := 0; i < 10; i++ {
		if resp, _ := c.login("jo@example.org", "wrong password!"); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("attempt %d: %d", i+1, resp.StatusCode)
		}
	}
	resp, body := c.login("jo@example.org", goodPassword)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "try again in") {
		t.Fatalf("11th attempt: %d retry-after=%q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if v, _ := doc(t, body).Find(`input[name="email"]`).Attr("value"); v != "jo@example.org" {
		t.Fatal("the rate-limited form lost the typed email")
	}

	off := newEnv(t, "RATE_LIMITS", "off")
	off.createUser(t, "Jo", "jo@example.org", goodPassword, store.RoleCitizen)
	c = off.client(t)
	for i := 0; i < 12; i++ {
		c.login("jo@example.org", "wrong password!")
	}
	c.mustLogin("jo@example.org", goodPassword)
}

func TestRevokeAnotherSession(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Kim", "kim@example.org", goodPassword, store.RoleCitizen)
	laptop, phone := e.client(t), e.client(t)
	phone.ua = "Mozilla/5.0 (Linux; Android 14) Chrome/150.0 Mobile Safari/537.36"
	laptop.mustLogin("kim@example.org", goodPassword)
	phone.mustLogin("kim@example.org", goodPassword)

	_, body := laptop.get("/account")
	rows := doc(t, body).Find(`[data-testid="session-row"]`)
	if rows.Length() != 2 || !strings.Contains(rows.Text(), "Chrome on Android") {
		t.Fatalf("sessions listed: %d %q", rows.Length(), rows.Text())
	}
	action, _ := doc(t, body).Find(`[data-current="false"] form`).Attr("action")
	if resp, _ := laptop.post(action, url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if phone.who() != "" {
		t.Fatal("the revoked device is still signed in")
	}
	if laptop.who() != "Kim" {
		t.Fatal("revoking the other device signed this one out")
	}
	// Someone else cannot end Kim's sessions by id.
	e.createUser(t, "Lee", "lee@example.org", goodPassword, store.RoleCitizen)
	mallory := e.client(t)
	mallory.mustLogin("lee@example.org", goodPassword)
	kimSID := laptop.cookie("hw_session")
	if resp, _ := mallory.post("/account/sessions/"+kimSID+"/revoke", url.Values{}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("revoking someone else's session: %d", resp.StatusCode)
	}
	if laptop.who() != "Kim" {
		t.Fatal("another user ended Kim's session")
	}
}

func TestDisabledUsers(t *testing.T) {
	e := newEnv(t)
	u := e.createUser(t, "Max", "max@example.org", goodPassword, store.RoleCitizen)
	c := e.client(t)
	c.mustLogin("max@example.org", goodPassword)
	if err := e.store.SetDisabled(t.Context(), u.ID, true); err != nil {
		t.Fatal(err)
	}
	if c.who() != "" {
		t.Fatal("a disabled user's session goes on")
	}
	// The sign-in page answers as for a wrong password, with the right one too: it neither tells
	// anyone that the address has a (disabled) account nor confirms a guessed password.
	r1, right := c.login("max@example.org", goodPassword)
	r2, wrong := c.login("max@example.org", "not the password")
	m1, m2 := doc(t, right).Find(`[data-testid="form-error"]`).Text(), doc(t, wrong).Find(`[data-testid="form-error"]`).Text()
	if r1.StatusCode != http.StatusUnprocessableEntity || r1.StatusCode != r2.StatusCode || m1 != m2 || strings.Contains(right, "disabled") {
		t.Fatalf("disabled account: right password %d %q, wrong password %d %q", r1.StatusCode, m1, r2.StatusCode, m2)
	}
	// Its owner learns it from the reset mail, which carries no reset link.
	c.post("/password/forgot", url.Values{"email": {"max@example.org"}})
	m := e.waitMails(t, "max@example.org", 1)[0]
	if !strings.Contains(m.Subject, "disabled") || strings.Contains(m.Body, "token=") {
		t.Fatalf("reset mail for a disabled account: %q\n%s", m.Subject, m.Body)
	}
}

// Concurrent registrations through HTTP with one address: one account.
func TestConcurrentRegistrationOverHTTP(t *testing.T) {
	e := newEnv(t, "RATE_LIMITS", "off")
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := e.client(t)
			resp, _ := c.post("/register", url.Values{"name": {"Twin"}, "email": {"twin@example.org"}, "password": {goodPassword}})
			codes[i] = resp.StatusCode
		}(i)
	}
	wg.Wait()
	for _, code := range codes {
		if code != http.StatusOK {
			t.Fatalf("every registration gets the same answer: %v", codes)
		}
	}
	if n, _ := e.store.Client().ZCard(t.Context(), "hw:users").Result(); n != 1 {
		t.Fatalf("%d accounts for one address", n)
	}
}

// The classic open-redirect payloads, as they reach localPath (already URL-decoded).
func TestLocalPathRefusesOtherOrigins(t *testing.T) {
	for _, p := range []string{
		"", "evil.example", "https://evil.example", "http:evil.example", "javascript:alert(1)",
		"//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "/\\/evil.example",
		"/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/\x00/evil.example", "/x\\..\\\\evil.example",
		"\t//evil.example", " //evil.example", "/\u0085/evil.example", "/\xff/evil.example",
	} {
		if got := localPath(p); got != "/" {
			t.Errorf("localPath(%q) = %q, want /", p, got)
		}
	}
	for _, p := range []string{"/", "/account", "/reports?type=pothole&q=a+b", "/reports/abc#map", "/a/%2F%2Fb", "/דיווחים"} {
		if got := localPath(p); got != p {
			t.Errorf("localPath(%q) = %q, want it kept", p, got)
		}
	}
}

func TestSignInRedirectStaysOnSite(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Nat", "nat@example.org", goodPassword, store.RoleCitizen)
	c := e.client(t)
	resp, _ := c.post("/login", url.Values{"email": {"nat@example.org"}, "password": {goodPassword}, "next": {"/\t/evil.example"}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/" {
		t.Fatalf("sign-in with next=/<tab>/evil: %d %q", resp.StatusCode, loc)
	}
	// Signed in, /login sends the browser straight on: the reported payload.
	for _, q := range []string{"/%09/evil.example", "/%5Cevil.example", "%2F%2Fevil.example"} {
		if resp, _ := c.get("/login?next=" + q); resp.Header.Get("Location") != "/" {
			t.Errorf("/login?next=%s sends a signed-in browser to %q", q, resp.Header.Get("Location"))
		}
	}
	if resp, _ := c.get("/login?next=/account"); resp.Header.Get("Location") != "/account" {
		t.Errorf("a local next is not followed: %q", resp.Header.Get("Location"))
	}
}

// Only flash messages the app wrote are shown: the cookie is signed.
func TestForgedFlashIsIgnored(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Ola", "ola@example.org", goodPassword, store.RoleCitizen)
	c := e.client(t)
	c.mustLogin("ola@example.org", goodPassword)
	c.post("/logout", url.Values{})
	if _, body := c.get("/"); !strings.Contains(doc(t, body).Find("#flash").Text(), "You are signed out.") {
		t.Fatal("the app's own flash message is not shown")
	}
	u, _ := url.Parse(e.base)
	forged := "error|Your account is locked. Call +1 555 0100 to unlock it."
	for _, v := range []string{url.QueryEscape(forged), forged} {
		c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "hw_flash", Value: v, Path: "/"}})
		if _, body := c.get("/"); strings.Contains(body, "555 0100") {
			t.Fatalf("a planted flash cookie %q is shown", v)
		}
	}
}

// Successful sign-ins do not count towards the lockout: only failures do.
func TestSuccessfulSignInsDoNotCount(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Una", "una@example.org", goodPassword, store.RoleCitizen)
	for i := 0; i < 12; i++ {
		c := e.client(t) // a new browser each time: no device cookie
		if resp, _ := c.login("una@example.org", goodPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in %d: %d", i+1, resp.StatusCode)
		}
	}
	// And a success clears the failures before it.
	c := e.client(t)
	for i := 0; i < 9; i++ {
		c.login("una@example.org", "wrong password!")
	}
	c.mustLogin("una@example.org", goodPassword)
	other := e.client(t)
	for i := 0; i < 9; i++ {
		other.login("una@example.org", "wrong password!")
	}
	other.mustLogin("una@example.org", goodPassword)
}

// Someone guessing locks the account for browsers it has never signed in from, not for the
// owner's own devices; the reset mail still gets the owner in from a new one.
func TestLockoutSparesKnownDevices(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Vic", "vic@example.org", goodPassword, store.RoleCitizen)
	e.createUser(t, "Wes", "wes@example.org", goodPassword, store.RoleCitizen)
	laptop := e.client(t)
	laptop.mustLogin("vic@example.org", goodPassword)
	laptop.post("/logout", url.Values{}) // the device cookie outlives the session
	wesLaptop := e.client(t)
	wesLaptop.mustLogin("wes@example.org", goodPassword) // knows another account only

	attacker := e.client(t)
	for i := 0; i < 10; i++ {
		attacker.login("vic@example.org", "guess number "+fmt.Sprint(i))
	}
	resp, body := attacker.login("vic@example.org", goodPassword)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "failed sign-ins for this account") {
		t.Fatalf("11th attempt from the attacker: %d", resp.StatusCode)
	}
	if resp, _ := e.client(t).login("vic@example.org", goodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a new browser while locked: want 429, got %d", resp.StatusCode)
	}
	if resp, _ := wesLaptop.login("vic@example.org", goodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a device cookie for another account counts for this one: %d", resp.StatusCode)
	}
	forged := e.client(t)
	u, _ := url.Parse(e.base)
	forged.http.Jar.SetCookies(u, []*http.Cookie{{Name: "hw_device", Value: laptop.cookie("hw_device") + "x", Path: "/"}})
	if resp, _ := forged.login("vic@example.org", goodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a tampered device cookie: %d", resp.StatusCode)
	}
	// The owner's laptop still gets in.
	if resp, body := laptop.login("vic@example.org", goodPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the owner's known device while the account is locked: %d %s", resp.StatusCode, doc(t, body).Find(`[data-testid="form-error"]`).Text())
	}
	// So does the reset link, from a new phone; after it the account is open again.
	phone := e.client(t)
	phone.post("/password/forgot", url.Values{"email": {"vic@example.org"}})
	link := pathOf(t, e.waitMails(t, "vic@example.org", 1)[0].Link)
	token := strings.TrimPrefix(link, "/password/reset?token=")
	if resp, _ := phone.post("/password/reset", url.Values{"token": {token}, "password": {"violet tapestry hums"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	phone.mustLogin("vic@example.org", "violet tapestry hums")
}

// The current-password check on the account page is limited like sign-in.
func TestCurrentPasswordGuessesAreLimited(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Yan", "yan@example.org", goodPassword, store.RoleCitizen)
	c := e.client(t)
	c.mustLogin("yan@example.org", goodPassword)
	for i := 0; i < 10; i++ {
		if resp, _ := c.post("/account/password", url.Values{"current_password": {fmt.Sprint("guess ", i)}, "password": {"changed password 1"}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("guess %d: %d", i+1, resp.StatusCode)
		}
	}
	resp, body := c.post("/account/password", url.Values{"current_password": {goodPassword}, "password": {"changed password 1"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Too many wrong current passwords") {
		t.Fatalf("11th try, with the right password: %d", resp.StatusCode)
	}
	if u, _ := e.store.UserByEmail(t.Context(), "yan@example.org"); u.PasswordVersion != 0 {
		t.Fatal("the password was changed past the limit")
	}
}

// The CSRF token and the Open311 api_key count only in the body (or the CSRF header), never in
// the URL, where logs, history and Referer headers would keep them.
func TestSecretsNotTakenFromTheQuery(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	tok := c.csrf()
	form := url.Values{"_csrf": {""}, "name": {"Quy"}, "email": {"quy@example.org"}, "password": {goodPassword}}
	if resp, _ := c.post("/register?_csrf="+url.QueryEscape(tok), form); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("CSRF token in the query: want 403, got %d", resp.StatusCode)
	}
	form.Set("_csrf", tok)
	if resp, _ := c.post("/register", form); resp.StatusCode != http.StatusOK {
		t.Fatalf("CSRF token in the body: %d", resp.StatusCode)
	}

	key, _, err := e.store.CreateAPIKey(t.Context(), "Client", 100)
	if err != nil {
		t.Fatal(err)
	}
	report := url.Values{"service_code": {"pothole"}, "lat": {"32.8191"}, "long": {"34.9983"}, "description": {"Deep pothole"}}
	req, _ := http.NewRequest(http.MethodPost, e.base+"/open311/v2/requests.json?api_key="+url.QueryEscape(key), strings.NewReader(report.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, _ := c.do(req); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("api_key in the query: want 403, got %d", resp.StatusCode)
	}
	report.Set("api_key", key)
	req, _ = http.NewRequest(http.MethodPost, e.base+"/open311/v2/requests.json", strings.NewReader(report.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, body := c.do(req); resp.StatusCode != http.StatusCreated {
		t.Fatalf("api_key in the body: %d %s", resp.StatusCode, body)
	}
}
