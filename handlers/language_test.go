package handlers

import (
	"encoding/json"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hazardwatch/i18n"
	"hazardwatch/store"
)

// pageLang is the language and direction a page says it is in.
func pageLang(t *testing.T, body string) (string, string) {
	t.Helper()
	h := doc(t, body).Find("html")
	return h.AttrOr("lang", ""), h.AttrOr("dir", "")
}

// The order of CONTRACT.md: ?lang= (remembered), then the cookie, then the account's choice,
// then Accept-Language; anything unknown falls through to the next.
func TestLanguageOrder(t *testing.T) {
	e := newEnv(t)
	he := "he-IL,he;q=0.9,en;q=0.5"

	c := e.client(t)
	for _, tc := range []struct {
		path, accept, lang, dir string
	}{
		{"/", "", "en", "ltr"},
		{"/", he, "he", "rtl"},
		{"/", "fr-FR,fr", "en", "ltr"},
		{"/?lang=xx", he, "he", "rtl"},    // unknown ?lang: Accept-Language decides
		{"/?lang=en-XA", he, "he", "rtl"}, // the pseudo-locale is off unless I18N_PSEUDO is on
	} {
		_, body := c.get(tc.path, "Accept-Language", tc.accept)
		if l, d := pageLang(t, body); l != tc.lang || d != tc.dir {
			t.Errorf("%s with Accept-Language %q: lang=%q dir=%q, want %s %s", tc.path, tc.accept, l, d, tc.lang, tc.dir)
		}
	}
	if c.cookie("lang") != "" {
		t.Fatal("an unknown ?lang= was remembered")
	}

	// ?lang= wins over Accept-Language and is remembered in the cookie, which then wins too.
	_, body := c.get("/reports?lang=he", "Accept-Language", "en")
	if l, d := pageLang(t, body); l != "he" || d != "rtl" || c.cookie("lang") != "he" {
		t.Fatalf("?lang=he: lang=%q dir=%q cookie=%q", l, d, c.cookie("lang"))
	}
	if _, body := c.get("/", "Accept-Language", "en"); !strings.Contains(body, `lang="he"`) {
		t.Fatal("the lang cookie did not outrank Accept-Language")
	}

	// The account's choice outranks Accept-Language, not an explicit choice on this browser.
	_, u := e.signedIn(t, "Hila", store.RoleCitizen)
	if err := e.store.SetLanguage(t.Context(), u.ID, "he"); err != nil {
		t.Fatal(err)
	}
	fresh := e.client(t)
	fresh.mustLogin(u.Email, goodPassword)
	if _, body := fresh.get("/account", "Accept-Language", "en-US,en"); !strings.Contains(body, `lang="he"`) {
		t.Fatal("the account's language did not outrank Accept-Language")
	}
	if _, body := fresh.get("/account?lang=en", "Accept-Language", "en-US,en"); !strings.Contains(body, `lang="en"`) {
		t.Fatal("?lang=en did not outrank the account's language")
	}
	if _, body := fresh.get("/account", "Accept-Language", "he"); !strings.Contains(body, `lang="en"`) {
		t.Fatal("the lang cookie from ?lang=en did not outrank the account's language")
	}

	// The pseudo-locale, when a developer turns it on: accented and longer, still left to right.
	dev := newEnv(t, "I18N_PSEUDO", "on")
	_, body = dev.client(t).get("/?lang=en-XA")
	if l, d := pageLang(t, body); l != "en-XA" || d != "ltr" {
		t.Fatalf("pseudo-locale: lang=%q dir=%q", l, d)
	}
	if strings.Contains(body, ">"+i18n.For("en").T("nav.reports")+"<") {
		t.Fatal("the pseudo-locale page still shows the English navigation")
	}
}

// The switcher links to the same page, with its query, in each other language; plain links, so
// it works without JavaScript.
func TestLanguageSwitcherKeepsThePage(t *testing.T) {
	e := newEnv(t)
	_, body := e.client(t).get("/reports?status=open&q=tree", "Accept-Language", "en")
	d := doc(t, body)
	link := d.Find(`[data-testid="lang-switcher"] a[data-testid="lang-he"]`)
	href, _ := link.Attr("href")
	u, err := url.Parse(href)
	if err != nil || u.Path != "/reports" || u.Query().Get("lang") != "he" || u.Query().Get("status") != "open" || u.Query().Get("q") != "tree" {
		t.Fatalf("switcher link to Hebrew: %q", href)
	}
	if link.AttrOr("lang", "") != "he" || link.AttrOr("dir", "") != "rtl" || strings.TrimSpace(link.Text()) != "עברית" {
		t.Fatalf("the Hebrew link is not named in Hebrew: %q lang=%q", link.Text(), link.AttrOr("lang", ""))
	}
	if d.Find(`[data-testid="lang-switcher"] [aria-current="true"]`).AttrOr("lang", "") != "en" {
		t.Fatal("the switcher does not mark the current language")
	}
}

// decodedSubject is a mail's Subject header as people read it (Hebrew goes out encoded).
func decodedSubject(t *testing.T, m sentMail) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(m.Subject)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The language chosen at registration is the account's: stored, and the confirmation mail
// speaks it, whatever the browser asked for.
func TestRegistrationLanguage(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	_, form := c.get("/register", "Accept-Language", "he")
	if doc(t, form).Find(`select[name="lang"] option[value="he"][selected], input[name="lang"][value="he"][checked]`).Length() != 1 {
		t.Fatal("the registration form does not start at the page's language")
	}
	resp, body := c.post("/register", url.Values{"name": {"Noa"}, "email": {"noa@example.org"}, "password": {goodPassword}, "lang": {"he"}},
		"Accept-Language", "en")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	u, err := e.store.UserByEmail(t.Context(), "noa@example.org")
	if err != nil || u.Lang != "he" {
		t.Fatalf("stored language: %+v %v", u, err)
	}
	m := e.waitMails(t, "noa@example.org", 1)[0]
	if got, want := decodedSubject(t, m), i18n.For("he").T("mail.verify.subject"); got != want {
		t.Fatalf("confirmation subject %q, want %q", got, want)
	}
	html := htmlPart(t, m)
	if !strings.Contains(m.Body, i18n.For("he").T("mail.verify.ask_text")) || !strings.Contains(html, i18n.For("he").T("mail.verify.button")) ||
		!strings.Contains(html, `<html lang="he" dir="rtl">`) {
		t.Fatalf("confirmation is not Hebrew, right to left:\n%s\n%s", m.Body, html)
	}
}

// /account changes the stored language; the page and later mails follow it.
func TestAccountLanguage(t *testing.T) {
	e := newEnv(t)
	c, u := e.signedIn(t, "Dan", store.RoleCitizen)
	if resp, _ := c.post("/account/language", url.Values{"lang": {"tlh"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("unknown language: %d", resp.StatusCode)
	}
	if resp, _ := c.post("/account/language", url.Values{"lang": {"he"}}, "Accept-Language", "en"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set language: %d", resp.StatusCode)
	}
	if got, _ := e.store.UserByID(t.Context(), u.ID); got.Lang != "he" {
		t.Fatalf("stored language %q", got.Lang)
	}
	_, body := c.get("/account", "Accept-Language", "en")
	if l, _ := pageLang(t, body); l != "he" || !strings.Contains(body, i18n.For("he").T("account.language.saved")) {
		t.Fatalf("after choosing Hebrew the account page is %q", l)
	}
}

// Mails speak the recipient's language, not the language of whoever caused them: a reset asked
// for from an English browser, a registration attempt on a Hebrew speaker's address, and a
// status change made by an English-speaking moderator.
func TestMailsInRecipientLanguage(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	he := i18n.For("he")
	owner := e.createUser(t, "Yael", "yael@example.org", goodPassword, store.RoleCitizen)
	if err := e.store.SetLanguage(t.Context(), owner.ID, "he"); err != nil {
		t.Fatal(err)
	}
	en := e.client(t)
	en.post("/password/forgot", url.Values{"email": {"yael@example.org"}}, "Accept-Language", "en")
	if got := decodedSubject(t, e.waitMails(t, "yael@example.org", 1)[0]); got != he.T("mail.reset.subject") {
		t.Fatalf("reset mail subject %q", got)
	}
	en.post("/register", url.Values{"name": {"Mallory"}, "email": {"yael@example.org"}, "password": {"an unguessable phrase"}}, "Accept-Language", "en")
	if got := decodedSubject(t, e.waitMails(t, "yael@example.org", 2)[1]); got != he.T("mail.registered.subject") {
		t.Fatalf("registration attempt mail subject %q", got)
	}

	// An address without a chosen language hears the request's.
	e.createUser(t, "Omer", "omer@example.org", goodPassword, store.RoleCitizen)
	e.client(t).post("/password/forgot", url.Values{"email": {"omer@example.org"}}, "Accept-Language", "he")
	if got := decodedSubject(t, e.waitMails(t, "omer@example.org", 1)[0]); got != he.T("mail.reset.subject") {
		t.Fatalf("reset mail to an account without a language, asked in Hebrew: %q", got)
	}

	reporter, ru := e.signedIn(t, "Rina", store.RoleCitizen)
	if err := e.store.SetLanguage(t.Context(), ru.ID, "he"); err != nil {
		t.Fatal(err)
	}
	mod, _ := e.signedIn(t, "Mike", store.RoleModerator)
	id := reportIDFrom(t, func() *http.Response { r, _ := reporter.postReport(reportFields("sign", 32.8, 35.0)); return r }())
	mod.post("/moderation/reports/"+id+"?lang=en", url.Values{"action": {"approve"}, "note": {"On the list"}, "version": {"1"}})
	e.drain(t)
	ms := e.mails(t, ru.Email)
	if len(ms) != 1 {
		t.Fatalf("%d status mails to the reporter", len(ms))
	}
	subject := decodedSubject(t, ms[0])
	if !strings.HasPrefix(subject, strings.SplitN(he.T("mail.status.subject.reporter", map[string]any{"Status": ""}), ":", 2)[0]) ||
		!strings.Contains(ms[0].Body, he.T("hazard.type.sign")) {
		t.Fatalf("status mail to a Hebrew reader, from an English moderator: %q\n%s", subject, ms[0].Body)
	}
}

// JSON errors and Open311 service names follow Accept-Language.
func TestAPISpeaksTheRequestLanguage(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	resp, body := c.get("/api/reports?bbox=1,2,3", "Accept-Language", "he")
	var msg struct{ Error string }
	if resp.StatusCode != http.StatusBadRequest || json.Unmarshal([]byte(body), &msg) != nil || !hasHebrew(msg.Error) {
		t.Fatalf("JSON error in Hebrew: %d %s", resp.StatusCode, body)
	}
	for _, tc := range []struct{ accept, want string }{{"he", "hazard.type.pothole"}, {"en", "hazard.type.pothole"}} {
		resp, body := c.get("/open311/v2/services.json", "Accept-Language", tc.accept)
		var services []map[string]any
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &services) != nil || len(services) == 0 {
			t.Fatalf("services.json: %d %s", resp.StatusCode, body)
		}
		if got, want := services[0]["service_name"], i18n.For(tc.accept).T(tc.want); got != want {
			t.Errorf("Accept-Language %s: service_name %q, want %q", tc.accept, got, want)
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Accept-Language") {
			t.Errorf("services.json does not vary by Accept-Language: %q", resp.Header.Get("Vary"))
		}
	}
}

// The browser's words come from a script per language at a URL naming its content, kept long.
func TestBrowserMessagesScript(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	_, page := c.get("/?lang=he")
	src := doc(t, page).Find(`script[src^="`+i18n.ScriptPrefix+`"]`).AttrOr("src", "")
	if src == "" || src != i18n.ScriptURL("he") {
		t.Fatalf("Hebrew page loads %q, want %q", src, i18n.ScriptURL("he"))
	}
	resp, body := c.get(src)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !hasHebrew(body) {
		t.Fatalf("%s: %d %q %q", src, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	if i18n.ScriptURL("he") == i18n.ScriptURL("en") {
		t.Fatal("both languages share one script URL")
	}
	if resp, _ := c.get(i18n.ScriptPrefix + "he.0000.js"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a stale script URL: %d", resp.StatusCode)
	}
}

// htmlPart is the decoded HTML alternative of a mail.
func htmlPart(t *testing.T, m sentMail) string {
	t.Helper()
	const head = "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	_, rest, ok := strings.Cut(m.Body, head)
	if !ok {
		t.Fatalf("no HTML part:\n%s", m.Body)
	}
	rest, _, _ = strings.Cut(rest, "\r\n--hw-")
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(rest)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hasHebrew(s string) bool {
	for _, r := range s {
		if r >= 0x0590 && r <= 0x05FF {
			return true
		}
	}
	return false
}
