package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/store"
)

var he, en = i18n.For("he"), i18n.For("en")

var regexpHebrew = regexp.MustCompile(`[א-ת]`)

// hebrewPhone is a phone whose browser asks for Hebrew; axe can be injected (the CSP is bypassed
// in this context only).
func hebrewPhone(t *testing.T) *session {
	t.Helper()
	return open(t, playwright.BrowserNewContextOptions{
		Viewport: &playwright.Size{Width: 390, Height: 844}, IsMobile: playwright.Bool(true), HasTouch: playwright.Bool(true),
		Locale: playwright.String("he-IL"), BypassCSP: playwright.Bool(true),
	})
}

// untranslated are templ files not yet on the catalogs (see the allowlist in i18n's source
// tests): their pages are checked for direction and accessibility, not for English words.
var untranslated []string

// englishWords are the catalog's English texts a Hebrew page must not show: whole messages
// without placeholders, long enough not to be a name both languages share.
var englishWords = func() []string {
	var out []string
	for _, id := range i18n.Messages {
		s := en.T(id)
		if strings.Contains(s, "{{") || len([]rune(s)) < 6 || s == he.T(id) || s == id {
			continue
		}
		out = append(out, s)
	}
	return out
}()

// inHebrew checks the page as it is now: Hebrew, right to left, no English from the catalogs,
// no serious or critical axe violations.
func inHebrew(t *testing.T, s *session, path string) {
	t.Helper()
	if err := expect.Locator(s.page.Locator("html")).ToHaveAttribute("dir", "rtl"); err != nil {
		t.Errorf("%s: %v", path, err)
	}
	if err := expect.Locator(s.page.Locator("html")).ToHaveAttribute("lang", "he"); err != nil {
		t.Errorf("%s: %v", path, err)
	}
	if !slices.Contains(untranslated, path) {
		text, err := s.page.Locator("body").InnerText()
		if err != nil {
			t.Fatal(err)
		}
		// What people wrote is theirs (marked dir="auto"): other tests' English reports share
		// this app's queue and lists.
		written, err := s.page.Locator(`[dir="auto"]`).AllInnerTexts()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range written {
			text = strings.Replace(text, w, "", 1)
		}
		for _, w := range englishWords {
			if strings.Contains(text, w) {
				t.Errorf("%s shows the English %q", path, w)
			}
		}
	}
	axeSerious(t, s)
}

// A Hebrew-speaking citizen on a phone: the map, signing in, reporting, resetting a password;
// then a Hebrew-speaking moderator approves the report, and the citizen's mail is in Hebrew.
func TestHebrewJourneysOnAPhone(t *testing.T) {
	_, email := newUser(t, store.RoleCitizen)
	s := hebrewPhone(t)

	s.goto_("/")
	inHebrew(t, s, "/")
	if err := expect.Locator(s.page.Locator(".leaflet-control-zoom")).ToBeVisible(); err != nil {
		t.Fatal("no map controls: ", err)
	}
	// Leaflet's controls sit on the start side, which is the right in Hebrew.
	if box, err := s.page.Locator(".leaflet-control-zoom").BoundingBox(); err != nil || box.X < 390/2 {
		t.Errorf("the zoom control is not on the right of a right-to-left map: %+v %v", box, err)
	}

	// Sign in through the Hebrew form.
	s.goto_("/login")
	inHebrew(t, s, "/login")
	s.signInHebrew(email)
	for _, path := range []string{"/reports", "/account", "/reports/new"} {
		s.goto_(path)
		inHebrew(t, s, path)
	}
	s.signOutHebrew()

	// Reset the password from a Hebrew mail.
	s.goto_("/password/forgot")
	inHebrew(t, s, "/password/forgot")
	s.fill(he.T("auth.field.email"), email)
	s.click("button", he.T("auth.forgot.submit"))
	if err := expect.Locator(s.page.GetByTestId("forgot-sent")).ToContainText(email); err != nil {
		t.Fatal(err)
	}
	link, _ := mailLink(t, email, he.T("mail.reset.subject"), 0)
	s.goto_(strings.TrimPrefix(link, baseURL))
	inHebrew(t, s, "/password/reset")
	s.fill(he.T("auth.field.new_password"), "סיסמה חדשה ולא צפויה")
	s.click("button", he.T("auth.reset.submit"))
	if err := expect.Locator(s.page.Locator("#flash")).ToContainText(he.T("auth.reset.done")); err != nil {
		t.Fatal(err)
	}
	s.noProblems()
}

// signInHebrew signs in through the Hebrew form.
func (s *session) signInHebrew(email string) {
	s.t.Helper()
	s.goto_("/login")
	s.fill(he.T("auth.field.email"), email)
	s.fill(he.T("auth.field.password"), pw)
	s.click("button", he.T("auth.login.title"))
	if err := expect.Locator(s.page.GetByTestId("nav-user")).ToBeVisible(); err != nil {
		s.t.Fatal("not signed in: ", err)
	}
}

// signOutHebrew signs out with the Hebrew header's button.
func (s *session) signOutHebrew() {
	s.t.Helper()
	if err := s.page.GetByTestId("sign-out").Click(); err != nil {
		s.t.Fatal(err)
	}
	if err := expect.Locator(s.page.GetByRole("link", playwright.PageGetByRoleOptions{Name: he.T("nav.sign_in"), Exact: playwright.Bool(true)})).ToBeVisible(); err != nil {
		s.t.Fatal("not signed out: ", err)
	}
}

// A moderator who chose Hebrew approves a report; its reporter, who chose Hebrew too, reads a
// Hebrew mail and a Hebrew report page with the status word and dates from CLDR.
func TestHebrewModerationAction(t *testing.T) {
	_, citizenEmail := newUser(t, store.RoleCitizen)
	_, modEmail := newUser(t, store.RoleModerator)
	var citizen *store.User
	for _, e := range []string{citizenEmail, modEmail} {
		u, err := theApp.Store.UserByEmail(t.Context(), e)
		if err != nil {
			t.Fatal(err)
		}
		if err := theApp.Store.SetLanguage(t.Context(), u.ID, "he"); err != nil {
			t.Fatal(err)
		}
		if e == citizenEmail {
			citizen = u
		}
	}
	now := time.Now().UTC()
	r := &store.Report{ID: store.NewReportID(), Type: "streetlight", Severity: "low", Description: "פנס כבוי ליד שער הפארק",
		Lat: 32.79, Lng: 34.99, Status: hazard.Pending, ReporterID: citizen.ID, Photos: []string{}, CreatedAt: now, UpdatedAt: now,
		History: []store.Change{{At: now, By: citizen.ID, To: hazard.Pending}}}
	if _, _, err := theApp.Store.CreateReport(t.Context(), r); err != nil {
		t.Fatal(err)
	}

	mod := hebrewPhone(t)
	mod.signInHebrew(modEmail)
	mod.goto_("/moderation")
	inHebrew(t, mod, "/moderation")
	row := mod.page.Locator("#mod-" + r.ID)
	if err := expect.Locator(row).ToContainText("פנס כבוי"); err != nil {
		t.Fatal(err)
	}
	if _, err := row.Locator(`select[name="action"]`).SelectOption(playwright.SelectOptionValues{Values: &[]string{"approve"}}); err != nil {
		t.Fatal(err)
	}
	if err := row.Locator(`button[type="submit"]`).First().Click(); err != nil {
		t.Fatal(err)
	}
	open := hazard.Status("open")
	if err := expect.Locator(mod.page.Locator("#mod-" + r.ID).GetByTestId("queue-status")).ToHaveText(he.T("hazard.status." + string(open))); err != nil {
		t.Fatal("the row did not update in place, in Hebrew: ", err)
	}
	mod.noProblems()

	link, _ := mailLink(t, citizenEmail, he.T("mail.status.subject.reporter", map[string]any{"Status": he.T("hazard.status.open")}), 0)
	if link != baseURL+"/reports/"+r.ID {
		t.Fatalf("status mail link %q", link)
	}
	c := hebrewPhone(t)
	c.goto_("/reports/" + r.ID)
	inHebrew(t, c, "/reports/"+r.ID)
	c.see("status", he.T("hazard.status.open"))
	if err := expect.Locator(c.page.GetByTestId("description")).ToHaveAttribute("dir", "auto"); err != nil {
		t.Error("user text without dir=auto: ", err)
	}
	// The server writes the date in Hebrew words from CLDR; the browser rewrites it with Intl.
	when := c.page.Locator("time[datetime]").First()
	if err := expect.Locator(when).ToHaveText(regexpHebrew); err != nil {
		t.Errorf("the date is not in Hebrew: %v", err)
	}
	c.noProblems()
}

// Every page in the pseudo-locale (accented and 40% longer) on a phone: nothing is wider than
// the page or sticks out of its container, and no button breaks a word in two.
func TestPseudoLocaleDoesNotOverflowOnAPhone(t *testing.T) {
	_, email := newUser(t, store.RoleAdmin)
	s := open(t, playwright.BrowserNewContextOptions{Viewport: &playwright.Size{Width: 360, Height: 740}, IsMobile: playwright.Bool(true)})
	s.goto_("/?lang=en-XA")
	for _, path := range []string{"/", "/login", "/register", "/password/forgot", "/reports", "/no-such-page"} {
		s.page.Goto(path)
		overflow(t, s, path)
	}
	s.goto_("/login")
	xa := i18n.For(i18n.Pseudo.Tag)
	s.fill(xa.T("auth.field.email"), email)
	s.fill(xa.T("auth.field.password"), pw)
	s.click("button", xa.T("auth.login.title"))
	if err := expect.Locator(s.page.GetByTestId("nav-user")).ToBeVisible(); err != nil {
		t.Fatal("not signed in: ", err)
	}
	for _, path := range []string{"/account", "/reports/new", "/moderation", "/admin"} {
		s.page.Goto(path)
		overflow(t, s, path)
	}
}

// overflow fails when the page scrolls sideways, an element of text is wider than its parent, or a
// button's word is split across lines.
func overflow(t *testing.T, s *session, path string) {
	t.Helper()
	if err := expect.Locator(s.page.Locator("html")).ToHaveAttribute("lang", "en-XA"); err != nil {
		t.Fatalf("%s: not in the pseudo-locale: %v", path, err)
	}
	res, err := s.page.Evaluate(`() => {
		const out = [], W = document.documentElement.clientWidth;
		if (document.documentElement.scrollWidth > W + 1) out.push("the page is " + document.documentElement.scrollWidth + "px wide on a " + W + "px screen");
		for (const el of document.querySelectorAll("body *")) {
			const p = el.parentElement, cs = getComputedStyle(el);
			if (!p || cs.display === "none" || cs.visibility === "hidden" || el.closest(".leaflet-container, .sr-only, .skip-link, pre, [aria-hidden=true]")) continue;
			if (!el.childNodes.length || ![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
			const r = el.getBoundingClientRect(), pr = p.getBoundingClientRect();
			if (r.width > 0 && (r.right > W + 1 || r.left < -1)) out.push(el.tagName.toLowerCase() + " '" + el.textContent.trim().slice(0, 40) + "' leaves the screen");
			else if (el.scrollWidth > el.clientWidth + 1 && cs.overflowX === "visible" && getComputedStyle(p).overflowX === "visible" && el.clientWidth > 0 && cs.display !== "inline")
				out.push(el.tagName.toLowerCase() + " '" + el.textContent.trim().slice(0, 40) + "' overflows its box");
		}
		// Long words in text may break anywhere (body's overflow-wrap); a button's may not.
		for (const b of document.querySelectorAll(".btn")) {
			if (!b.getClientRects().length || b.closest(".sr-only")) continue;
			const walk = document.createTreeWalker(b, NodeFilter.SHOW_TEXT);
			for (let n; (n = walk.nextNode());) {
				for (const m of n.textContent.matchAll(/\S+/g)) {
					const r = document.createRange();
					r.setStart(n, m.index);
					r.setEnd(n, m.index + m[0].length);
					if (new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1) out.push("button '" + b.textContent.trim().slice(0, 40) + "' breaks the word '" + m[0] + "'");
				}
			}
		}
		return out.slice(0, 10);
	}`)
	if err != nil {
		t.Fatal(err)
	}
	if vs, _ := res.([]any); len(vs) > 0 {
		t.Errorf("%s in the pseudo-locale on a phone:%s", path, fmt.Sprint(vs))
	}
}
