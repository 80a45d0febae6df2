package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/photo/phototest"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

// postMultipart submits fields and photos to path as the report form does.
func (c *client) postMultipart(path string, fields url.Values, files ...upload) (*http.Response, string) {
	c.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fields.Set("_csrf", c.csrf())
	for k, vs := range fields {
		for _, v := range vs {
			_ = w.WriteField(k, v)
		}
	}
	for _, f := range files {
		part, _ := w.CreateFormFile("photos", f.name)
		_, _ = part.Write(f.data)
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.base+path, &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}

func guestFields(email string, lat, lng float64) url.Values {
	f := reportFields("pothole", lat, lng)
	f.Set("email", email)
	return f
}

// A guest's report (issue 18): the form asks for an address; the report waits unconfirmed, on
// no map and on no page, until the mailed link's button publishes it; the link works once.
func TestGuestReportConfirmedByMail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "DATA_DIR", t.TempDir())
	c := e.client(t)
	_, form := c.get("/reports/new")
	d := doc(t, form)
	if d.Find(`[data-testid="guest-fields"] input[name="email"]`).Length() != 1 {
		t.Fatal("a guest's form asks for no email address")
	}
	if d.Find(`input[name="severity"][checked]`).Length() != 0 || d.Find(`input[name="type"][checked]`).Length() != 0 {
		t.Fatal("the form chose a type or severity for the reporter")
	}

	// No address: the form comes back, with the error summary first.
	fields := guestFields("", 32.8191, 34.9983)
	resp, body := c.postReport(fields)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("no email: %d", resp.StatusCode)
	}
	d = doc(t, body)
	if !strings.HasPrefix(d.Find("title").Text(), "Error: ") || d.Find(`[data-error-summary] a[href="#f-email"]`).Length() != 1 {
		t.Fatalf("no error summary naming the email field: %q", d.Find("[data-error-summary]").Text())
	}

	fields.Set("email", "Guest@Example.org")
	fields.Set("name", "Gil")
	fields.Set("show_name", "1")
	resp, _ = c.postReport(fields, upload{"hole.jpg", phototest.JPEGWithEXIF(t, phototest.RedBlue(40, 30), 1, 0, 0)})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/reports/sent" {
		t.Fatalf("guest report: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, sent := c.get("/reports/sent")
	if !strings.Contains(doc(t, sent).Find("#flash").Text(), "Guest@Example.org") {
		t.Fatalf("the page does not say where the link went: %s", doc(t, sent).Find("#flash").Text())
	}
	id := store.ReportID("", fields.Get("idem"))
	r, err := e.store.Report(t.Context(), id)
	if err != nil || r.Status != hazard.Unconfirmed || r.ReporterID != "" || r.ReporterName != "Gil" || len(r.Photos) != 1 {
		t.Fatalf("stored: %+v %v", r, err)
	}
	if resp, _ := c.get("/reports/" + id); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("an unconfirmed report's page: %d", resp.StatusCode)
	}
	if _, body := c.get("/api/reports?bbox=34.9,32.7,35.1,32.9"); strings.Contains(body, id) {
		t.Fatal("an unconfirmed report is on the map")
	}

	// A retry of the same submit makes no second report and no second mail.
	if resp, _ := c.postReport(fields); resp.Header.Get("Location") != "/reports/sent" {
		t.Fatalf("retry: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	e.drain(t)
	mails := e.waitMails(t, "Guest@Example.org", 1)
	if len(mails) != 1 || !strings.Contains(mails[0].Subject, "Confirm your hazard report") || !strings.Contains(mails[0].Link, "/reports/confirm?token=") {
		t.Fatalf("mails: %+v", mails)
	}
	if n := e.store.Client().ZCard(t.Context(), "hw:reports:time").Val(); n != 1 {
		t.Fatalf("%d reports", n)
	}

	// Opening the link shows the report and a button; only the button publishes it.
	link := pathOf(t, mails[0].Link)
	other := e.client(t) // the mail may be opened in another browser
	resp, page := other.get(link)
	if resp.StatusCode != 200 || doc(t, page).Find(`[data-testid="confirm-report"]`).Length() != 1 || !strings.Contains(page, "Deep pothole") {
		t.Fatalf("confirmation page: %d", resp.StatusCode)
	}
	if r, _ := e.store.Report(t.Context(), id); r.Status != hazard.Unconfirmed {
		t.Fatal("opening the link published the report without the button")
	}
	token := strings.TrimPrefix(link, "/reports/confirm?token=")
	resp, _ = other.post("/reports/confirm", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/reports/"+id {
		t.Fatalf("confirm: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if r, _ := e.store.Report(t.Context(), id); r.Status != hazard.Pending || r.GuestEmail != "" {
		t.Fatalf("after confirming: %s %q", r.Status, r.GuestEmail)
	}
	if other.who() != "" {
		t.Fatal("the link signed someone in")
	}
	if _, body := c.get("/api/reports?bbox=34.9,32.7,35.1,32.9"); !strings.Contains(body, id) {
		t.Fatal("the confirmed report is not on the map")
	}
	// Once only.
	if resp, _ := other.post("/reports/confirm", url.Values{"token": {token}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("second use: %d", resp.StatusCode)
	}
	if resp, _ := other.get(link); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("second opening: %d", resp.StatusCode)
	}
}

// Whether the address has an account changes neither the answer nor the mail; the confirmed
// report then belongs to that account (which nobody was signed into).
func TestGuestReportRevealsNoAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.createUser(t, "Hana", "hana@example.org", goodPassword, store.RoleCitizen)
	answers := map[string]string{}
	bodies := map[string]string{}
	ids := map[string]string{}
	for i, email := range []string{"hana@example.org", "nobody@example.org"} {
		c := e.client(t)
		fields := guestFields(email, 32.80+float64(i)/100, 35.0)
		resp, _ := c.postReport(fields)
		_, sent := c.get("/reports/sent")
		answers[email] = fmt.Sprint(resp.StatusCode, resp.Header.Get("Location"), strings.ReplaceAll(doc(t, sent).Find("main").Text(), email, "X"))
		ids[email] = store.ReportID("", fields.Get("idem"))
	}
	if answers["hana@example.org"] != answers["nobody@example.org"] {
		t.Fatalf("the answers differ:\n%s\n%s", answers["hana@example.org"], answers["nobody@example.org"])
	}
	tokenRe := regexp.MustCompile(`token=[A-Za-z0-9_-]+`)
	for email := range answers {
		m := e.waitMails(t, email, 1)[0]
		text, _, _ := strings.Cut(m.Body, "Content-Type: text/html") // the words; the HTML part says the same
		bodies[email] = regexp.MustCompile(`hw-[0-9a-f]+`).ReplaceAllString(tokenRe.ReplaceAllString(m.Subject+text, "token=T"), "hw-B")
		c := e.client(t)
		if resp, _ := c.post("/reports/confirm", url.Values{"token": {strings.TrimPrefix(pathOf(t, m.Link), "/reports/confirm?token=")}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("confirm %s: %d", email, resp.StatusCode)
		}
	}
	strip := func(s string) string {
		return regexp.MustCompile(`(?s)Pothole.*?Deep pothole in the right lane`).ReplaceAllString(s, "")
	}
	if strip(bodies["hana@example.org"]) != strip(bodies["nobody@example.org"]) {
		t.Fatalf("the mails differ:\n%s\n---\n%s", bodies["hana@example.org"], bodies["nobody@example.org"])
	}
	if r, _ := e.store.Report(t.Context(), ids["hana@example.org"]); r.ReporterID != owner.ID {
		t.Fatalf("the report went to %q, not the address's account", r.ReporterID)
	}
	if r, _ := e.store.Report(t.Context(), ids["nobody@example.org"]); r.ReporterID != "" {
		t.Fatalf("a report of an address without an account belongs to %q", r.ReporterID)
	}
}

// Guest reports are limited per address and per client, each with a message on the form.
func TestGuestReportLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	for i := range 6 {
		resp, body := c.postReport(guestFields("busy@example.org", 32.8+float64(i)/100, 35.0))
		if i < 5 && resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("report %d: %d", i+1, resp.StatusCode)
		}
		if i == 5 {
			if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(doc(t, body).Find(`[data-testid="form-error"]`).Text(), "Too many") {
				t.Fatalf("the sixth report to one address in an hour: %d", resp.StatusCode)
			}
		}
	}
	for i := range 5 {
		resp, _ := c.postReport(guestFields(fmt.Sprintf("other%d@example.org", i), 33+float64(i)/100, 35.0))
		want := http.StatusSeeOther
		if i >= 4 { // 5 + 5 + the refused one: over ten an hour from this client
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want {
			t.Fatalf("address %d from the same client: %d, want %d", i, resp.StatusCode, want)
		}
	}
}

// "Create an account" parks the form, photo included; after registering, confirming the address
// and signing in, the form opens where it was.
func TestDraftSurvivesRegistration(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "DATA_DIR", t.TempDir())
	c := e.client(t)
	fields := guestFields("", 32.8191, 34.9983)
	fields.Set("description", "Tree across the cycle path")
	fields.Set("then", "register")
	resp, _ := c.postMultipart("/reports/draft", fields, upload{"tree.jpg", phototest.JPEGWithEXIF(t, phototest.RedBlue(40, 30), 1, 0, 0)})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/register?next=%2Freports%2Fnew" {
		t.Fatalf("draft: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	email := fmt.Sprintf("new%d@example.org", time.Now().UnixNano())
	c.register("Nea", email, goodPassword)
	link := pathOf(t, e.waitMails(t, email, 1)[0].Link)
	resp, _ = c.get(link)
	resp, page := c.get(resp.Header.Get("Location"))
	if next, _ := doc(t, page).Find(`input[name="next"]`).Attr("value"); resp.StatusCode != 200 || next != "/reports/new" {
		t.Fatalf("the sign-in page after confirming leads to %q", next)
	}
	resp, _ = c.post("/login", url.Values{"email": {email}, "password": {goodPassword}, "next": {"/reports/new"}})
	if resp.Header.Get("Location") != "/reports/new" {
		t.Fatalf("after signing in: %s", resp.Header.Get("Location"))
	}
	_, form := c.get("/reports/new")
	d := doc(t, form)
	lat, _ := d.Find(`input[name="lat"]`).Attr("value")
	if lat != "32.8191" || d.Find(`textarea[name="description"]`).Text() != "Tree across the cycle path" ||
		d.Find(`input[name="type"][value="pothole"][checked]`).Length() != 1 || d.Find(`input[name="photo_keep"]`).Length() != 1 {
		t.Fatalf("the form lost the draft: lat %q, %q", lat, d.Find(`textarea[name="description"]`).Text())
	}
	// Sent now, the draft is done with.
	fields.Del("then")
	fields.Del("_csrf") // signing in changed it
	keep, _ := d.Find(`input[name="photo_keep"]`).Attr("value")
	fields.Set("photo_keep", keep)
	resp, _ = c.postReport(fields)
	id := reportIDFrom(t, resp)
	if r, _ := e.store.Report(t.Context(), id); len(r.Photos) != 1 || r.ReporterID == "" {
		t.Fatalf("the report from the draft: %+v", r)
	}
	_, form = c.get("/reports/new")
	if doc(t, form).Find(`textarea[name="description"]`).Text() != "" {
		t.Fatal("the sent report's draft came back")
	}
}

// The emergency notice names the deployment's numbers.
func TestEmergencyNumbersOnTheForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "EMERGENCY_NUMBERS", "100,101,102")
	_, form := e.client(t).get("/reports/new")
	if got := doc(t, form).Find(`[data-testid="emergency"]`).Text(); !strings.Contains(got, "Call 100 / 101 / 102 now") {
		t.Fatalf("emergency notice: %q", got)
	}
}

// Every form sent back with errors starts with the summary, its title with "Error:" (the report
// form here, sign-in and registration through FormError).
func TestErrorSummaryOnEveryForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	for _, tc := range []struct {
		path   string
		fields url.Values
		links  []string
	}{
		{"/reports", url.Values{"description": {"x"}}, []string{"#f-lat", "#f-type", "#f-severity", "#f-email"}},
		{"/register", url.Values{"email": {"bad"}}, []string{"#f-name", "#f-email", "#f-password"}},
		{"/login", url.Values{}, []string{"#f-email", "#f-password"}},
		{"/password/forgot", url.Values{}, []string{"#f-email"}},
	} {
		resp, body := c.post(tc.path, tc.fields)
		d := doc(t, body)
		var links []string
		d.Find("[data-error-summary] a").Each(func(_ int, a *goquery.Selection) { h, _ := a.Attr("href"); links = append(links, h) })
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.HasPrefix(d.Find("title").Text(), "Error: ") ||
			strings.Join(links, " ") != strings.Join(tc.links, " ") || d.Find("[data-error-summary] h2").Text() != "There is a problem" {
			t.Errorf("%s: %d, title %q, links %v", tc.path, resp.StatusCode, d.Find("title").Text(), links)
		}
		for _, l := range links {
			if d.Find(l).Length() != 1 {
				t.Errorf("%s: the summary links to %s, which is not on the page", tc.path, l)
			}
		}
	}
	// Pages that are not a form sent back keep their title.
	if _, body := c.get("/reports/new"); strings.HasPrefix(doc(t, body).Find("title").Text(), "Error") {
		t.Fatal("a fresh form's title says Error")
	}
}

// The installable app: a manifest and a service worker at the root, under the strict CSP.
func TestManifestAndServiceWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(t)
	resp, body := c.get("/manifest.webmanifest?lang=he")
	var m struct {
		Name, StartURL, Display, Lang, Dir string
		Icons                              []struct{ Src string }
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || resp.Header.Get("Content-Type") != "application/manifest+json" {
		t.Fatalf("manifest: %v %s", err, resp.Header.Get("Content-Type"))
	}
	if m.Name != "משמר מפגעים" || m.Lang != "he" || m.Dir != "rtl" || len(m.Icons) == 0 {
		t.Fatalf("manifest: %+v", m)
	}
	resp, body = c.get("/sw.js?lang=he")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") || !strings.HasPrefix(body, "var HW_SW = {") ||
		!strings.Contains(body, `"lang":"he"`) || !strings.Contains(body, "/static/js/offline.js?v=") ||
		!strings.Contains(body, `"`+i18n.ScriptURL("he")+`"`) { // the offline pages' words
		t.Fatalf("sw.js: %d %v\n%.300s", resp.StatusCode, resp.Header, body)
	}
	for _, p := range []string{"/", "/reports/new", "/reports/waiting"} {
		if resp, body := c.get(p); resp.StatusCode != 200 || !strings.Contains(body, `rel="manifest"`) {
			t.Errorf("%s: %d, no manifest link", p, resp.StatusCode)
		}
	}
}

// "Sign in with Google" from the report form: the flow comes back to the form, and what was
// typed, the pin and the photo are there.
func TestDraftSurvivesGoogleSignIn(t *testing.T) {
	t.Parallel()
	f := newFakeGoogle(t)
	e := newEnvOn(t, redistest.Start(t), f.client(), "GOOGLE_CLIENT_ID", "test-client", "GOOGLE_CLIENT_SECRET", "test-secret",
		"DATA_DIR", t.TempDir())
	f.next("g-draft", "walker@example.org", "Walker", true)
	c := e.client(t)
	fields := guestFields("", 32.8191, 34.9983)
	fields.Set("description", "Broken kerb by the school gate")
	fields.Set("then", "google")
	resp, _ := c.postMultipart("/reports/draft", fields, upload{"kerb.jpg", phototest.JPEGWithEXIF(t, phototest.RedBlue(40, 30), 1, 0, 0)})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/auth/google?next=%2Freports%2Fnew" {
		t.Fatalf("draft: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = googleSignInNext(t, c, "/reports/new", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/reports/new" || c.who() != "Walker" {
		t.Fatalf("after Google: %d %s, signed in as %q", resp.StatusCode, resp.Header.Get("Location"), c.who())
	}
	_, form := c.get("/reports/new")
	d := doc(t, form)
	lat, _ := d.Find(`input[name="lat"]`).Attr("value")
	if lat != "32.8191" || d.Find(`textarea[name="description"]`).Text() != "Broken kerb by the school gate" ||
		d.Find(`input[name="photo_keep"]`).Length() != 1 || d.Find(`input[name="email"]`).Length() != 0 {
		t.Fatalf("the form after Google: lat %q, %q, %d photos", lat, d.Find(`textarea[name="description"]`).Text(), d.Find(`input[name="photo_keep"]`).Length())
	}
}
