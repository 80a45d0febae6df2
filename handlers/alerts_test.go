package handlers

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/photo/phototest"
	"hazardwatch/store"
	"hazardwatch/worker"
)

// rawMails are the messages for to, with their headers.
func (e *env) rawMails(t *testing.T, to string) []*mail.Message {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(e.mailDir, "*.eml"))
	var out []*mail.Message
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get("To") == to {
			out = append(out, m)
		}
	}
	return out
}

// reportAt stores a public report of typ at a point, as another user.
func (e *env) reportAt(t *testing.T, reporter, typ string, lat, lng float64) string {
	t.Helper()
	r, _, err := e.life.Create(t.Context(), lifecycle.Draft{ID: store.NewReportID(), ReporterID: reporter, Type: typ, Severity: "medium",
		Description: "Seen on the way to work", Lat: lat, Lng: lng, HasPlace: true, AllowClose: true})
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// Subscribe to an area, get one alert mail (with one-click unsubscribe headers) for a new report
// however many alerts match, unsubscribe in one click (a mail client's POST without cookies),
// and get nothing for the next report. Forged and reused links are answered clearly.
func TestAlertSubscribeMailUnsubscribe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, u := e.signedIn(t, "Watcher", store.RoleCitizen)
	_, reporter := e.signedIn(t, "Reporter", store.RoleCitizen)
	// From the map: the view round a point, and a circle round the same place.
	if resp, body := c.get("/alerts?lat=51.5&lng=-0.12&z=15"); resp.StatusCode != 200 || !strings.Contains(body, `value="view"`) {
		t.Fatalf("alerts form from the map: %d", resp.StatusCode)
	}
	b := viewBox(51.5, -0.12, 15)
	for _, form := range []url.Values{
		{"area": {"view"}, "bbox": {fmt.Sprintf("%f,%f,%f,%f", b.MinLng, b.MinLat, b.MaxLng, b.MaxLat)}, "name": {"My street"}},
		{"area": {"radius"}, "lat": {"51.5"}, "lng": {"-0.12"}, "radius": {"500"}, "type": {"pothole", "flooding"}},
	} {
		if resp, body := c.post("/alerts", form); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("save alert: %d %s", resp.StatusCode, body)
		}
	}
	_, body := c.get("/account")
	if n := doc(t, body).Find(`[data-testid="account-alerts"] [data-testid="alert-row"]`).Length(); n != 2 {
		t.Fatalf("the account page lists %d alerts", n)
	}

	e.reportAt(t, reporter.ID, "pothole", 51.5001, -0.1201)
	msgs := e.waitMails(t, u.Email, 1)
	if !strings.Contains(msgs[0].Subject, "My street") && !strings.Contains(msgs[0].Subject, "pothole") {
		t.Errorf("alert subject: %q", msgs[0].Subject)
	}
	time.Sleep(1500 * time.Millisecond) // a second mail for the second alert would be here by now
	raw := e.rawMails(t, u.Email)
	if len(raw) != 1 {
		t.Fatalf("%d mails for one report matching two alerts", len(raw))
	}
	lu := raw[0].Header.Get("List-Unsubscribe")
	if raw[0].Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !strings.HasPrefix(lu, "<"+e.cfg.BaseURL.String()+"/alerts/unsubscribe?token=") {
		t.Fatalf("unsubscribe headers: %q / %q", lu, raw[0].Header.Get("List-Unsubscribe-Post"))
	}
	unsub := pathOf(t, strings.Trim(lu, "<>"))

	// Opening the link asks (a mail scanner must not unsubscribe); the mail client's one-click
	// POST carries no cookie and no CSRF token.
	anon := e.client(t)
	resp, body := anon.get(unsub)
	if resp.StatusCode != 200 || doc(t, body).Find(`[data-testid="unsubscribe-button"]`).Length() != 1 {
		t.Fatalf("unsubscribe page: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, e.base+unsub, strings.NewReader("List-Unsubscribe=One-Click"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body = e.client(t).do(req)
	if resp.StatusCode != 200 || !strings.Contains(body, `data-state="done"`) {
		t.Fatalf("one-click unsubscribe: %d %s", resp.StatusCode, body)
	}
	resp, body = anon.post(unsub, url.Values{})
	if resp.StatusCode != 200 || !strings.Contains(body, `data-state="already"`) {
		t.Fatalf("a reused link: %d", resp.StatusCode)
	}
	forged := strings.Replace(unsub, "token=", "token=x", 1)
	if resp, body := anon.post(forged, url.Values{}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `data-state="invalid"`) {
		t.Fatalf("a forged link: %d", resp.StatusCode)
	}
	as, _ := e.store.Alerts(t.Context(), u.ID)
	if len(as) != 1 {
		t.Fatalf("%d alerts left; one was unsubscribed", len(as))
	}
	// The other alert (potholes and flooding within 500 m) still mails; the reporter is never
	// told of their own report; a type the alert does not ask for is quiet.
	e.reportAt(t, reporter.ID, "streetlight", 51.5002, -0.1202)
	e.reportAt(t, u.ID, "pothole", 51.5003, -0.1203)
	e.reportAt(t, reporter.ID, "flooding", 51.5004, -0.1204)
	e.waitMails(t, u.Email, 2)
	time.Sleep(1500 * time.Millisecond)
	if got := e.mails(t, u.Email); len(got) != 2 || !strings.Contains(strings.ToLower(got[1].Subject), "flooding") {
		t.Fatalf("mails after unsubscribing one alert: %+v", got)
	}
}

// Zero-area and enormous areas, a 21st alert and bad types are refused with a message, and
// nothing is stored.
func TestAlertFormRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, u := e.signedIn(t, "Watcher", store.RoleCitizen)
	for name, form := range map[string]url.Values{
		"zero area": {"area": {"view"}, "bbox": {"-0.1,51.5,-0.1,51.5"}},
		"a line":    {"area": {"view"}, "bbox": {"-0.2,51.5,-0.1,51.50001"}},
		"a country": {"area": {"view"}, "bbox": {"-6,49,2,59"}},
		"no radius": {"area": {"radius"}, "lat": {"51.5"}, "lng": {"-0.1"}, "radius": {"0"}},
		"no place":  {"area": {"radius"}, "radius": {"500"}},
		"bad type":  {"area": {"radius"}, "lat": {"51.5"}, "lng": {"-0.1"}, "radius": {"500"}, "type": {"dragon"}},
		"no area":   {"radius": {"500"}},
	} {
		resp, body := c.post("/alerts", form)
		if resp.StatusCode != http.StatusUnprocessableEntity || doc(t, body).Find(`[data-testid="form-error"]`).Length() != 1 {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	if as, _ := e.store.Alerts(t.Context(), u.ID); len(as) != 0 {
		t.Fatalf("refused alerts were stored: %d", len(as))
	}
	for i := 0; i < store.MaxAlerts; i++ {
		if resp, _ := c.post("/alerts", url.Values{"area": {"radius"}, "lat": {"51.5"}, "lng": {fmt.Sprint(-0.1 + float64(i)/100)}, "radius": {"250"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("alert %d: %d", i+1, resp.StatusCode)
		}
	}
	resp, body := c.post("/alerts", url.Values{"area": {"radius"}, "lat": {"51.5"}, "lng": {"-0.1"}, "radius": {"250"}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "20 alerts") {
		t.Fatalf("a 21st alert: %d", resp.StatusCode)
	}
	// Deleting from the account page.
	as, _ := e.store.Alerts(t.Context(), u.ID)
	if resp, _ := c.post("/alerts/"+as[0].ID+"/delete", url.Values{"next": {"/account"}}); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account" {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, _ := c.post("/alerts/"+as[0].ID+"/delete", url.Values{}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("delete twice: %d", resp.StatusCode)
	}
	if resp, _ := e.client(t).get("/alerts"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("alerts without signing in: %d", resp.StatusCode)
	}
}

// atomFeed is RFC 4287's required structure, read with a real XML parser.
type atomFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Author  []struct {
		Name string `xml:"name"`
	} `xml:"author"`
	Links []struct {
		Href string `xml:"href,attr"`
		Rel  string `xml:"rel,attr"`
	} `xml:"link"`
	Entries []struct {
		ID      string `xml:"id"`
		Title   string `xml:"title"`
		Updated string `xml:"updated"`
		Author  []struct {
			Name string `xml:"name"`
		} `xml:"author"`
		Links []struct {
			Href string `xml:"href,attr"`
		} `xml:"link"`
		Summary string `xml:"summary"`
	} `xml:"entry"`
}

func readAtom(t *testing.T, e *env, path string) atomFeed {
	t.Helper()
	resp, body := e.get(t, path)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/atom+xml") {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var f atomFeed
	if err := xml.Unmarshal([]byte(body), &f); err != nil {
		t.Fatalf("%s is not Atom: %v\n%s", path, err, body)
	}
	// RFC 4287 4.1.1: id, title, updated; an author on the feed or on every entry; entries
	// have id, title, updated and (without content) a link.
	if f.ID == "" || f.Title == "" || f.Updated == "" || len(f.Author) == 0 || f.Author[0].Name == "" {
		t.Fatalf("%s lacks required feed elements: %+v", path, f)
	}
	if _, err := time.Parse(time.RFC3339, f.Updated); err != nil {
		t.Fatalf("updated is not an RFC 3339 date: %q", f.Updated)
	}
	for _, en := range f.Entries {
		if en.ID == "" || en.Title == "" || en.Updated == "" || len(en.Links) == 0 {
			t.Fatalf("%s: entry lacks required elements: %+v", path, en)
		}
		if _, err := time.Parse(time.RFC3339, en.Updated); err != nil {
			t.Fatalf("entry updated: %q", en.Updated)
		}
	}
	return f
}

// The area feed is valid Atom with the newest public reports in the box (by type), never a
// hidden one; a report's own feed lists its timeline and updates.
func TestFeeds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in1 := e.reportAt(t, "u000000000000001", "pothole", 51.5, -0.12)
	in2 := e.reportAt(t, "u000000000000001", "flooding", 51.501, -0.121)
	rejected := e.reportAt(t, "u000000000000001", "pothole", 51.502, -0.122)
	out := e.reportAt(t, "u000000000000001", "pothole", 48.85, 2.35)
	if _, err := e.life.Transition(t.Context(), testMod, rejected, 0, hazard.Reject, "Not a hazard", ""); err != nil {
		t.Fatal(err)
	}
	f := readAtom(t, e, "/feeds/reports.atom?bbox=-0.13,51.49,-0.11,51.51")
	var ids []string
	for _, en := range f.Entries {
		ids = append(ids, en.ID[strings.LastIndex(en.ID, "/")+1:])
	}
	if strings.Join(ids, ",") != in2+","+in1 {
		t.Fatalf("feed entries %v, want the two public ones in the box, newest first", ids)
	}
	if len(f.Links) == 0 || f.Links[0].Rel != "self" {
		t.Errorf("no self link: %+v", f.Links)
	}
	f = readAtom(t, e, "/feeds/reports.atom?bbox=-0.13,51.49,-0.11,51.51&type=pothole")
	if len(f.Entries) != 1 {
		t.Fatalf("type filter: %d entries", len(f.Entries))
	}
	f = readAtom(t, e, "/feeds/reports.atom") // anywhere
	if len(f.Entries) != 3 || !strings.Contains(f.Entries[0].ID, out) {
		t.Fatalf("feed without a box: %d entries", len(f.Entries))
	}
	for _, bad := range []string{"?bbox=1,2,3", "?type=dragon", "?bbox=10,10,0,0"} {
		if resp, _ := e.get(t, "/feeds/reports.atom"+bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, resp.StatusCode)
		}
	}
	if _, err := e.life.AddUpdate(t.Context(), lifecycle.Actor{ID: "u000000000000002", Name: "Sam"}, in1, lifecycle.UpdateDraft{Text: "Still deep", ShowName: true}); err != nil {
		t.Fatal(err)
	}
	f = readAtom(t, e, "/feeds/reports/"+in1+".atom")
	if len(f.Entries) != 2 || !strings.Contains(f.Entries[0].Title, "Sam") || f.Entries[0].Summary != "Still deep" {
		t.Fatalf("report feed: %+v", f.Entries)
	}
	if resp, _ := e.get(t, "/feeds/reports/"+rejected+".atom"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a rejected report's feed: %d", resp.StatusCode)
	}
	// Links to the feeds from the map and the list.
	_, body := e.get(t, "/")
	if doc(t, body).Find(`#follow-area`).Length() != 1 {
		t.Error("no Follow this area link on the map")
	}
	_, body = e.get(t, "/reports?type=pothole")
	if href, _ := doc(t, body).Find(`[data-testid="feed-link"]`).Attr("href"); href != "/feeds/reports.atom?type=pothole" {
		t.Errorf("feed link on /reports: %q", href)
	}
}

// postUpdate sends the update form as a browser does (multipart).
func (c *client) postUpdate(id string, fields url.Values, photo []byte) (*http.Response, string) {
	c.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fields.Set("_csrf", c.csrf())
	for k, vs := range fields {
		for _, v := range vs {
			_ = w.WriteField(k, v)
		}
	}
	if photo != nil {
		part, _ := w.CreateFormFile("photo", "back.jpg")
		_, _ = part.Write(photo)
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.base+"/reports/"+id+"/updates", &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}

// Public updates over HTTP: shown on the report, mailed to the reporter, three "fixed" resolve
// it, a photo reopens it, a moderator hides one (audited), bad input keeps what was typed.
func TestPublicUpdates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc, reporter := e.signedIn(t, "Reporter", store.RoleCitizen)
	_ = rc
	id := e.reportAt(t, reporter.ID, "pothole", 51.5, -0.12)
	var people []*client
	for i := 0; i < 3; i++ {
		c, _ := e.signedIn(t, fmt.Sprint("Passer ", i), store.RoleCitizen)
		people = append(people, c)
	}
	resp, body := people[0].postUpdate(id, url.Values{"text": {strings.Repeat("x", 2001)}}, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, strings.Repeat("x", 2001)) {
		t.Fatalf("too long: %d", resp.StatusCode)
	}
	resp, _ = people[0].postUpdate(id, url.Values{"text": {"Workers were here"}, "show_name": {"1"}}, phototest.PNG(t, 40, 30))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update with a photo: %d", resp.StatusCode)
	}
	_, body = e.get(t, "/reports/"+id)
	d := doc(t, body)
	if d.Find(`[data-testid="update"]`).Length() != 1 || !strings.Contains(d.Find(`[data-testid="update"]`).Text(), "Passer 0") || d.Find(`[data-testid="update"] img`).Length() != 1 {
		t.Fatalf("the update is not on the page")
	}
	// Its time is in the reader's language and time zone, as the timeline's (it was "27 Nov 2026 13:04 UTC" for everyone).
	_, body = e.get(t, "/reports/"+id+"?lang=he")
	when := doc(t, body).Find(`[data-testid="update"] time`)
	if when.Length() != 1 || when.AttrOr("datetime", "") == "" || regexp.MustCompile(`[A-Za-z]`).MatchString(when.Text()) {
		t.Fatalf("the update's time for a Hebrew reader: %d element(s), %q", when.Length(), when.Text())
	}
	m := e.waitMails(t, reporter.Email, 1)
	if !strings.Contains(m[0].Subject, "update") {
		t.Fatalf("reporter mail: %q", m[0].Subject)
	}
	for _, c := range people {
		if resp, _ := c.postUpdate(id, url.Values{"fixed": {"1"}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("fixed: %d", resp.StatusCode)
		}
	}
	if r, _ := e.store.Report(t.Context(), id); r.Status != hazard.Resolved {
		t.Fatalf("three fixed: %s", r.Status)
	}
	if resp, _ := people[0].postUpdate(id, url.Values{"text": {"Back again"}}, phototest.PNG(t, 30, 40)); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("photo update: %d", resp.StatusCode)
	}
	r, _ := e.store.Report(t.Context(), id)
	if r.Status != hazard.Open || r.Attention != hazard.ReopenedByPublic {
		t.Fatalf("a photo on a resolved report: %s %q", r.Status, r.Attention)
	}
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	if resp, _ := mod.post("/reports/"+id+"/updates/"+r.Updates[0].ID+"/hide", url.Values{"reason": {""}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("hide without reason: %d", resp.StatusCode)
	}
	if resp, _ := people[1].post("/reports/"+id+"/updates/"+r.Updates[0].ID+"/hide", url.Values{"reason": {"x"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a citizen hides: %d", resp.StatusCode)
	}
	if resp, _ := mod.post("/reports/"+id+"/updates/"+r.Updates[0].ID+"/hide", url.Values{"reason": {"Shows a face"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("hide: %d", resp.StatusCode)
	}
	_, body = e.get(t, "/reports/"+id)
	if strings.Contains(body, "Workers were here") {
		t.Error("a hidden update is shown to the public")
	}
	_, body = mod.get("/reports/" + id)
	if !strings.Contains(body, "Workers were here") || !strings.Contains(body, "Shows a face") {
		t.Error("moderators see hidden updates with the reason")
	}
	entries, _, _ := e.store.AuditLog(t.Context(), store.AuditFilter{Action: "report.update.hide"}, "", 10)
	if len(entries) != 1 || !strings.Contains(entries[0].Note, "Shows a face") {
		t.Fatalf("audit: %+v", entries)
	}
}

// The questionnaire: mailed once per report however often the job runs, single-use, forged and
// used links answered clearly, a bad answer costs nothing, "fixed" resolves by the reporter.
func TestQuestionnaire(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, reporter := e.signedIn(t, "Reporter", store.RoleCitizen)
	id := e.reportAt(t, reporter.ID, "pothole", 51.5, -0.12)
	if _, err := e.life.Transition(t.Context(), testMod, id, 0, hazard.Approve, "", ""); err != nil {
		t.Fatal(err)
	}
	var due time.Time
	for deadline := time.Now().Add(10 * time.Second); due.IsZero() && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		due, _ = e.store.QuestionnaireDue(t.Context(), id)
	}
	if d := time.Until(due); d < 27*24*time.Hour || d > 29*24*time.Hour {
		t.Fatalf("questionnaire due in %v, want about four weeks", d)
	}
	deps := worker.Deps{Store: e.store, Life: e.life, BaseURL: e.cfg.BaseURL.String(), Log: slog.New(slog.DiscardHandler)}
	if n, err := worker.SendQuestionnaires(context.Background(), deps, time.Now()); err != nil || n != 0 {
		t.Fatalf("sent before due: %d %v", n, err)
	}
	if n, err := worker.SendQuestionnaires(context.Background(), deps, due.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("sent when due: %d %v", n, err)
	}
	// Reopened and due again: never a second questionnaire for the report.
	_ = e.store.ScheduleQuestionnaire(t.Context(), id, due)
	if n, _ := worker.SendQuestionnaires(context.Background(), deps, due.Add(time.Second)); n != 0 {
		t.Fatal("a report was asked twice")
	}
	m := e.waitMails(t, reporter.Email, 2) // the approval's status mail, then the questionnaire
	var link string
	for _, l := range linkRe.FindAllString(m[0].Body+m[1].Body, -1) {
		if strings.Contains(l, "/questionnaire/") && link == "" { // the text part's (the HTML is quoted-printable)
			link = pathOf(t, l)
		}
	}
	if link == "" {
		t.Fatalf("no questionnaire link in %+v", m)
	}
	anon := e.client(t)
	if resp, _ := anon.get(link); resp.StatusCode != 200 {
		t.Fatalf("questionnaire page: %d", resp.StatusCode)
	}
	if resp, _ := anon.get(link + "x"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a forged link: %d", resp.StatusCode)
	}
	if resp, _ := anon.post(link, url.Values{"text": {"hm"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("no answer chosen: %d", resp.StatusCode)
	}
	if resp, body := anon.post(link, url.Values{"fixed": {"yes"}, "text": {"Patched on Monday"}}); resp.StatusCode != 200 || !strings.Contains(body, "thanks-yes") {
		t.Fatalf("answer: %d", resp.StatusCode)
	}
	r, _ := e.store.Report(t.Context(), id)
	if r.Status != hazard.Resolved || r.History[len(r.History)-1].Public != "reporter" || r.Updates[0].Text != "Patched on Monday" {
		t.Fatalf("after yes: %s %+v", r.Status, r.History[len(r.History)-1])
	}
	if resp, body := anon.post(link, url.Values{"fixed": {"no"}}); resp.StatusCode != http.StatusGone || !strings.Contains(body, `data-state="used"`) {
		t.Fatalf("used twice: %d", resp.StatusCode)
	}
	if resp, _ := anon.get(link); resp.StatusCode != http.StatusGone {
		t.Fatalf("opened after use: %d", resp.StatusCode)
	}
}

// Expiry mails carry a signed "still there" link that reopens the expired report.
func TestStillThereLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "REPORT_EXPIRY", "1s")
	_, reporter := e.signedIn(t, "Reporter", store.RoleCitizen)
	id := e.reportAt(t, reporter.ID, "flooding", 51.5, -0.12)
	var m []sentMail
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if m = e.mails(t, reporter.Email); len(m) > 0 {
			break
		}
	}
	if len(m) == 0 || !strings.Contains(m[0].Subject, "expired") {
		t.Fatalf("no expiry mail: %+v", m)
	}
	var link string
	for _, l := range linkRe.FindAllString(m[0].Body, -1) {
		if strings.Contains(l, "/still-there?") && link == "" {
			link = pathOf(t, l)
		}
	}
	if link == "" {
		t.Fatalf("no still-there link in %q", m[0].Body)
	}
	c := e.client(t)
	if resp, _ := c.get(link); resp.StatusCode != 200 {
		t.Fatalf("still-there page: %d", resp.StatusCode)
	}
	if resp, _ := c.post(strings.Replace(link, "token=", "token=zz", 1), url.Values{}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged: %d", resp.StatusCode)
	}
	if resp, body := c.post(link, url.Values{}); resp.StatusCode != 200 || !strings.Contains(body, `data-state="done"`) {
		t.Fatalf("still there: %d %s", resp.StatusCode, body)
	}
	r, _ := e.store.Report(t.Context(), id)
	if r.Status != hazard.Open || r.Attention != hazard.ReopenedByPublic {
		t.Fatalf("after still there: %s %q", r.Status, r.Attention)
	}
	_ = io.Discard
}

// An Open311 reporter who left an email hears that the report expired, with a "still there"
// link and a one-click way to stop the mails; a bad email is refused.
func TestOpen311ContactMails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "REPORT_EXPIRY", "1s")
	key, _, err := e.store.CreateAPIKey(t.Context(), "City app", 100)
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	v := url.Values{"api_key": {key}, "service_code": {"flooding"}, "lat": {"40.1"}, "long": {"20.1"}, "email": {"not an email"}}
	if resp, _ := postOpen311(c, "json", v); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad email: %d", resp.StatusCode)
	}
	v.Set("email", "river@example.org")
	if resp, body := postOpen311(c, "json", v); resp.StatusCode != http.StatusCreated {
		t.Fatalf("post: %d %s", resp.StatusCode, body)
	}
	var m []*mail.Message
	for deadline := time.Now().Add(20 * time.Second); len(m) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		m = e.rawMails(t, "river@example.org")
	}
	if len(m) != 1 || m[0].Header.Get("List-Unsubscribe-Post") == "" {
		t.Fatalf("contact mails: %d", len(m))
	}
	got := e.mails(t, "river@example.org")[0]
	if !strings.Contains(got.Body, "/still-there?token=") {
		t.Fatalf("no still-there link: %s", got.Body)
	}
	unsub := pathOf(t, strings.Trim(m[0].Header.Get("List-Unsubscribe"), "<>"))
	req, _ := http.NewRequest(http.MethodPost, e.base+unsub, strings.NewReader("List-Unsubscribe=One-Click"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, body := e.client(t).do(req); resp.StatusCode != 200 || !strings.Contains(body, `data-state="done"`) {
		t.Fatalf("stop mails: %d", resp.StatusCode)
	}
	page, _ := e.store.List(t.Context(), store.ListQuery{Statuses: hazard.Statuses, Limit: 10})
	rs := page.Reports
	if len(rs) != 1 || rs[0].ContactEmail != "" {
		t.Fatalf("the contact address is kept after stopping: %+v", rs)
	}
}
