package handlers

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"hazardwatch/lifecycle"
	"hazardwatch/password"
	"hazardwatch/routing"
	"hazardwatch/store"
	"hazardwatch/worker"
)

// client is a browser stand-in: a cookie jar, no automatic redirects (tests assert them).
type client struct {
	t    *testing.T
	e    *env
	http *http.Client
	ua   string
}

func (e *env) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, e: e, ua: "Mozilla/5.0 (X11; Linux x86_64) Chrome/150.0 Safari/537.36", http: &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	req.Header.Set("User-Agent", c.ua)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) get(path string, headers ...string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.e.base+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

func (c *client) cookie(name string) string {
	u, _ := url.Parse(c.e.base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// csrf returns the token a page would embed, fetching a page first if the jar has none.
func (c *client) csrf() string {
	if tok := c.cookie("hw_csrf"); tok != "" {
		return tok
	}
	_, body := c.get("/login")
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	tok, _ := doc.Find(`meta[name="csrf-token"]`).Attr("content")
	return tok
}

// post submits a form with the CSRF token, unless vals sets _csrf itself.
func (c *client) post(path string, vals url.Values, headers ...string) (*http.Response, string) {
	c.t.Helper()
	if _, ok := vals["_csrf"]; !ok {
		vals.Set("_csrf", c.csrf())
	}
	req, _ := http.NewRequest(http.MethodPost, c.e.base+path, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// register submits the registration form; every accepted registration answers "check your email".
func (c *client) register(name, email, pw string) *http.Response {
	c.t.Helper()
	resp, body := c.post("/register", url.Values{"name": {name}, "email": {email}, "password": {pw}})
	if resp.StatusCode != http.StatusOK || doc(c.t, body).Find(`[data-testid="register-sent"]`).Length() != 1 {
		c.t.Fatalf("register %s: %d %s", email, resp.StatusCode, body)
	}
	return resp
}

func (c *client) login(email, pw string) (*http.Response, string) {
	c.t.Helper()
	return c.post("/login", url.Values{"email": {email}, "password": {pw}})
}

func (c *client) mustLogin(email, pw string) {
	c.t.Helper()
	if resp, body := c.login(email, pw); resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s: %d %s", email, resp.StatusCode, body)
	}
}

// who returns the name the header shows, or "" when signed out.
func (c *client) who() string {
	c.t.Helper()
	_, body := c.get("/")
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(body))
	return strings.TrimSpace(doc.Find(`[data-testid="nav-user"]`).Text())
}

func doc(t *testing.T, body string) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// createUser makes an account directly through the store (as the CLI does).
func (e *env) createUser(t *testing.T, name, email, pw string, role store.Role) *store.User {
	t.Helper()
	hash, err := password.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{Name: name, Email: email, PasswordHash: hash, Role: role}
	if err := e.store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

type sentMail struct {
	To, Subject, Body, Link string
}

var linkRe = regexp.MustCompile(`https?://\S+`)

// mails returns the messages written to MAIL_DIR for to, oldest first.
func (e *env) mails(t *testing.T, to string) []sentMail {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(e.mailDir, "*.eml"))
	sort.Strings(files)
	var out []sentMail
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get("To") != to {
			continue
		}
		body, _ := io.ReadAll(m.Body)
		out = append(out, sentMail{To: to, Subject: m.Header.Get("Subject"), Body: string(body), Link: linkRe.FindString(string(body))})
	}
	return out
}

// waitMails waits (bounded) until n messages for to exist; mail goes out in the background.
func (e *env) waitMails(t *testing.T, to string, n int) []sentMail {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := e.mails(t, to); len(m) >= n {
			return m
		}
	}
	t.Fatalf("no %d mail(s) for %s arrived", n, to)
	return nil
}

// pathOf strips the scheme and host from a link in a mail.
func pathOf(t *testing.T, link string) string {
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// setDescription rewrites a report's text behind the rules' back (test setup).
func (e *env) setDescription(t *testing.T, id, text string) {
	t.Helper()
	prev, err := e.store.Report(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	r := *prev
	r.Description = text
	if err := e.store.UpdateReport(t.Context(), prev, &r); err != nil {
		t.Fatal(err)
	}
}

// drain waits (bounded) until the workers have handled every event and sent every mail.
func (e *env) drain(t *testing.T) {
	t.Helper()
	groups := map[store.Stream][]string{
		store.EventsStream:   {worker.LiveGroup, worker.StatsGroup, worker.NotifyGroup, routing.Group},
		store.DeliveryStream: {store.DeliveryGroup},
		store.MailStream:     {store.MailGroup},
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		idle := true
		for _, st := range []store.Stream{store.EventsStream, store.DeliveryStream, store.MailStream} { // events first: they queue sends and mail
			for _, g := range groups[st] {
				if lag, pending, err := e.store.StreamLag(t.Context(), st, g); err != nil || lag > 0 || pending > 0 {
					idle = false
				}
			}
		}
		if idle {
			return
		}
	}
	t.Fatal("the workers did not finish their work")
}

// testMod is a moderator for changes made behind the web forms (test setup).
var testMod = lifecycle.Actor{ID: "mod0000000000000", Role: store.RoleModerator}
