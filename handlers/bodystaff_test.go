package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/photo/phototest"
	"hazardwatch/store"
)

// staffWorld is two bodies with a report sent to each (delivered by the real workers), a staff
// member of the first, and a moderator.
type staffWorld struct {
	haifa, telAviv *store.Body
	inHaifa        string // a report sent to Haifa
	inTelAviv      string // a report sent to Tel Aviv
	staff          *client
	staffUser      *store.User
	mod            *client
}

func newStaffWorld(t *testing.T, e *env) *staffWorld {
	t.Helper()
	ctx := t.Context()
	w := &staffWorld{}
	body := func(name string, lat, lng float64) *store.Body {
		b := &store.Body{ID: store.NewBodyID(), Name: name, Lang: "en", Types: []string{"pothole", "flooding"}, Method: store.ByEmail,
			Email: strings.ReplaceAll(strings.ToLower(name), " ", ".") + "@example.org", BBox: [4]float64{lng - 0.1, lat - 0.1, lng + 0.1, lat + 0.1}}
		if err := e.store.SaveBody(ctx, b, []byte(squareArea(lat, lng, 0.1))); err != nil {
			t.Fatal(err)
		}
		return b
	}
	w.haifa, w.telAviv = body("Haifa Municipality", 32.8, 35.0), body("Tel Aviv Municipality", 32.08, 34.78)
	report := func(typ string, lat, lng float64) string {
		r, _, err := e.life.Create(ctx, lifecycle.Draft{ID: store.NewReportID(), ReporterID: "citizen000000001", Type: typ, Severity: "high",
			Description: "A " + typ, Lat: lat, Lng: lng, HasPlace: true, AllowClose: true})
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	w.inHaifa, w.inTelAviv = report("pothole", 32.8, 35.0), report("pothole", 32.08, 34.78)
	e.drain(t) // routed and sent by the workers: each body's index now lists its report
	w.staff, w.staffUser = e.signedIn(t, "Stav", store.RoleCitizen)
	if err := e.store.SetRole(ctx, w.staffUser.ID, store.RoleStaff, w.haifa.ID); err != nil {
		t.Fatal(err)
	}
	w.mod, _ = e.signedIn(t, "Moe", store.RoleModerator)
	return w
}

// squareArea is a body's stored area: a MultiPolygon square of side 2d degrees round a point.
func squareArea(lat, lng, d float64) string {
	return fmt.Sprintf(`{"type":"MultiPolygon","coordinates":[[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]]}`,
		lng-d, lat-d, lng+d, lat-d, lng+d, lat+d, lng-d, lat+d, lng-d, lat-d)
}

func queueIDs(t *testing.T, body string) []string {
	var ids []string
	doc(t, body).Find(`[data-testid="queue-item"]`).Each(func(_ int, s *goquery.Selection) {
		ids = append(ids, strings.TrimPrefix(s.AttrOr("id", ""), "mod-"))
	})
	return ids
}

// Staff of Haifa see Haifa's reports in the queue (exact counts, filters) and never Tel Aviv's;
// every action route refuses Tel Aviv's report with a clear 403, whichever form it comes from.
func TestStaffSeeAndActOnTheirBodyOnly(t *testing.T) {
	e := newEnv(t, "RATE_LIMITS", "off")
	w := newStaffWorld(t, e)

	_, body := w.staff.get("/moderation?tab=pending")
	d := doc(t, body)
	if ids := queueIDs(t, body); len(ids) != 1 || ids[0] != w.inHaifa {
		t.Fatalf("staff queue: %v (want only %s)", ids, w.inHaifa)
	}
	if got := d.Find(`[data-testid="tab-pending"] [data-testid="tab-count"]`).Text(); got != "1" {
		t.Fatalf("staff's pending count: %q", got)
	}
	if !strings.Contains(d.Find(`[data-testid="queue-scope"]`).Text(), "Haifa Municipality") {
		t.Fatal("the queue does not say whose reports it holds")
	}
	if strings.Contains(body, `href="/admin/stats"`) || strings.Contains(body, "/moderation/export.csv") {
		t.Fatal("staff are offered the statistics or the export of every report")
	}
	if _, body := w.staff.get("/moderation?tab=pending&type=flooding"); len(queueIDs(t, body)) != 0 {
		t.Fatal("a type filter did not narrow the staff queue")
	}
	if _, body := w.staff.get("/moderation/tabs?tab=pending"); strings.Contains(body, ">2<") {
		t.Fatal("the live tab counts count other bodies' reports")
	}
	if _, body := w.mod.get("/moderation?tab=pending"); len(queueIDs(t, body)) != 2 {
		t.Fatalf("the moderator's queue: %v", queueIDs(t, body))
	}

	// Every action on Tel Aviv's report: 403 with the reason, nothing changed.
	before, _ := e.store.Report(t.Context(), w.inTelAviv)
	v := strconv.FormatInt(before.Version, 10)
	for _, tc := range []struct {
		path   string
		fields url.Values
	}{
		{"", url.Values{"action": {"approve"}}},
		{"/assign", url.Values{"assignee": {"me"}}},
		{"/priority", url.Values{"priority": {"p1"}}},
		{"/description", url.Values{"description": {"Other text"}, "reason": {"r"}}},
		{"/photos/hide", url.Values{"photo": {"x"}, "reason": {"r"}}},
		{"/type", url.Values{"type": {"flooding"}, "reason": {"r"}}},
		{"/place", url.Values{"lat": {"32.8"}, "lng": {"35.0"}, "reason": {"r"}}},
		{"/abuse/dismiss", url.Values{"note": {"n"}}},
		{"/send", url.Values{"body": {w.haifa.ID}}},
	} {
		tc.fields.Set("version", v)
		for _, hx := range [][]string{nil, {"HX-Request", "true"}} {
			resp, body := w.staff.post("/moderation/reports/"+w.inTelAviv+tc.path, tc.fields, hx...)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not sent to your body") || strings.Contains(body, "A pothole") {
				t.Errorf("POST %s by Haifa's staff on Tel Aviv's report (htmx %v): %d %.300s", tc.path, hx != nil, resp.StatusCode, body)
			}
		}
	}
	if resp, body := w.staff.get("/moderation/reports/" + w.inTelAviv + "/panel"); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "A pothole") {
		t.Errorf("the panel of Tel Aviv's report: %d", resp.StatusCode)
	}
	if resp, _ := w.staff.post("/reports/"+w.inTelAviv+"/updates/u1/hide", url.Values{"reason": {"r"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("hiding an update on Tel Aviv's report: %d", resp.StatusCode)
	}
	// Bulk: Haifa's report changes, Tel Aviv's is refused with the reason.
	resp, body := w.staff.post("/moderation/bulk", url.Values{"ids": {w.inHaifa, w.inTelAviv}, "action": {"approve"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(doc(t, body).Find(`[data-testid="bulk-refused"]`).Parent().Text(), "not sent to your body") {
		t.Fatalf("bulk: %d %s", resp.StatusCode, doc(t, body).Find(`[data-testid="bulk-result"]`).Text())
	}
	if after, _ := e.store.Report(t.Context(), w.inTelAviv); after.Version != before.Version {
		t.Fatal("Tel Aviv's report changed")
	}
	if r, _ := e.store.Report(t.Context(), w.inHaifa); r.Status != hazard.Open {
		t.Fatalf("Haifa's report after the bulk approve: %s", r.Status)
	}
	// Nor may their report become a duplicate of another body's.
	r, _ := e.store.Report(t.Context(), w.inHaifa)
	resp, body = w.staff.post("/moderation/reports/"+w.inHaifa, url.Values{"action": {"duplicate"}, "duplicate_of": {w.inTelAviv},
		"version": {strconv.FormatInt(r.Version, 10)}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "sent to your body") {
		t.Fatalf("duplicate of another body's report: %d", resp.StatusCode)
	}
	// Staff may send their own report again, to their own body only.
	if resp, body := w.staff.post("/moderation/reports/"+w.inHaifa+"/send", url.Values{"body": {w.telAviv.ID}}); resp.StatusCode != http.StatusForbidden ||
		!strings.Contains(body, "only to your own body") {
		t.Fatalf("sending to another body: %d", resp.StatusCode)
	}
	// The pages and lists of everyone's work stay closed.
	for _, path := range []string{"/admin", "/admin/stats", "/moderation/deliveries", "/moderation/export.csv", "/admin/bodies"} {
		if resp, _ := w.staff.get(path); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s as staff: %d", path, resp.StatusCode)
		}
	}
	// The moderator still acts on both.
	if resp, _ := w.mod.post("/moderation/reports/"+w.inTelAviv, url.Values{"action": {"approve"}, "version": {v}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the moderator's approve: %d", resp.StatusCode)
	}

	// A deleted body leaves its staff with nothing, and says so.
	if err := e.store.DeleteBody(t.Context(), w.haifa.ID); err != nil {
		t.Fatal(err)
	}
	_, body = w.staff.get("/moderation?tab=open")
	if ids := queueIDs(t, body); len(ids) != 0 || doc(t, body).Find(`[data-testid="queue-scope-gone"]`).Length() != 1 {
		t.Fatalf("after the body was deleted: %v", ids)
	}
	r, _ = e.store.Report(t.Context(), w.inHaifa)
	if resp, _ := w.staff.post("/moderation/reports/"+w.inHaifa, url.Values{"action": {"start"}, "version": {strconv.FormatInt(r.Version, 10)}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("acting after the body was deleted: %d", resp.StatusCode)
	}
}

// An admin makes a user staff of a body on the admin page: the body is required and must exist,
// and the page says when it has been deleted since.
func TestAdminMakesStaff(t *testing.T) {
	e := newEnv(t, "RATE_LIMITS", "off")
	ctx := t.Context()
	admin, _ := e.signedIn(t, "Ada", store.RoleAdmin)
	_, u := e.signedIn(t, "Stav", store.RoleCitizen)
	b := &store.Body{ID: store.NewBodyID(), Name: "Haifa Municipality", Types: []string{"pothole"}, Method: store.ByEmail, Email: "h@example.org",
		BBox: [4]float64{34.9, 32.7, 35.1, 32.9}}
	if err := e.store.SaveBody(ctx, b, []byte(squareArea(32.8, 35.0, 0.1))); err != nil {
		t.Fatal(err)
	}
	role := "/admin/users/" + u.ID + "/role"
	if resp, body := admin.post(role, url.Values{"role": {"staff"}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Choose the body") {
		t.Fatalf("staff without a body: %d", resp.StatusCode)
	}
	if resp, body := admin.post(role, url.Values{"role": {"staff"}, "body": {"nosuchbody000000"}}); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "does not exist") {
		t.Fatalf("staff of an unknown body: %d", resp.StatusCode)
	}
	if got, _ := e.store.UserByID(ctx, u.ID); got.Role != store.RoleCitizen {
		t.Fatalf("a refused change changed the role: %s", got.Role)
	}
	_, page := admin.get("/admin?email=" + url.QueryEscape(u.Email))
	if doc(t, page).Find(`[data-testid="staff-body"] option[value="`+b.ID+`"]`).Length() != 1 {
		t.Fatal("the admin page does not offer the body")
	}
	if resp, _ := admin.post(role, url.Values{"role": {"staff"}, "body": {b.ID}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("make staff: %d", resp.StatusCode)
	}
	if got, _ := e.store.UserByID(ctx, u.ID); got.Role != store.RoleStaff || got.Body != b.ID {
		t.Fatalf("after: %s %q", got.Role, got.Body)
	}
	_, page = admin.get("/admin?email=" + url.QueryEscape(u.Email))
	if !strings.Contains(doc(t, page).Find(`[data-testid="staff-of"]`).Text(), "staff of Haifa Municipality") {
		t.Fatal("the admin page does not say whose staff")
	}
	if err := e.store.DeleteBody(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	_, page = admin.get("/admin?email=" + url.QueryEscape(u.Email))
	if !strings.Contains(doc(t, page).Find(`[data-testid="staff-body-gone"]`).Text(), "deleted body") {
		t.Fatal("the admin page does not say the body is gone")
	}
	// Another role drops the body.
	if resp, _ := admin.post(role, url.Values{"role": {"moderator"}, "body": {b.ID}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("make moderator: %d", resp.StatusCode)
	}
	if got, _ := e.store.UserByID(ctx, u.ID); got.Role != store.RoleModerator || got.Body != "" {
		t.Fatalf("moderator keeps a body: %q", got.Body)
	}
}

// What staff do shows as their body's: on the public timeline and feed under the body's name,
// with the person's name only in the moderators' history and the audit log.
func TestStaffActionsShowAsTheBody(t *testing.T) {
	e := newEnv(t, "RATE_LIMITS", "off")
	w := newStaffWorld(t, e)
	r, _ := e.store.Report(t.Context(), w.inHaifa)
	if resp, _ := w.staff.post("/moderation/reports/"+w.inHaifa, url.Values{"action": {"resolve"}, "note": {"Filled this morning"},
		"version": {strconv.FormatInt(r.Version, 10)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resolve: %d", resp.StatusCode)
	}
	r, _ = e.store.Report(t.Context(), w.inHaifa)
	last := r.History[len(r.History)-1]
	if last.By != w.staffUser.ID || last.Body != w.haifa.ID || last.BodyName != "Haifa Municipality" {
		t.Fatalf("history entry: %+v", last)
	}
	anon := e.client(t)
	_, page := anon.get("/reports/" + w.inHaifa)
	timeline := doc(t, page).Find(`[data-testid="timeline"]`).Text()
	if !strings.Contains(timeline, "Haifa Municipality marked this resolved") || !strings.Contains(timeline, "Filled this morning") ||
		strings.Contains(page, "Stav") {
		t.Fatalf("public timeline: %s", strings.Join(strings.Fields(timeline), " "))
	}
	if _, feed := anon.get("/feeds/reports/" + w.inHaifa + ".atom"); !strings.Contains(feed, "Haifa Municipality marked this resolved") || strings.Contains(feed, "Stav") {
		t.Fatalf("feed: %s", feed)
	}
	_, panel := w.mod.get("/moderation/reports/" + w.inHaifa + "/panel")
	if !strings.Contains(doc(t, panel).Find(`[data-testid="row-panel"]`).Text(), "Stav (Haifa Municipality)") {
		t.Fatal("the moderators' history does not name the staff member")
	}
	entries, _, err := e.store.AuditLog(t.Context(), store.AuditFilter{Target: w.inHaifa}, "", 10)
	if err != nil || len(entries) == 0 || entries[0].Actor != w.staffUser.ID {
		t.Fatalf("audit: %+v %v", entries, err)
	}
}

// Staff see their body's reports as moderators do, whatever their state: a rejected report's
// page and API answer, its hidden photo (the panel's thumbnail) and hidden updates. Another
// body's report shows them no more than a citizen sees: its hidden photo and hidden update stay
// hidden, and once rejected it is 404.
func TestStaffSeeTheirBodysHiddenReportsOnly(t *testing.T) {
	e := newEnv(t, "RATE_LIMITS", "off", "DATA_DIR", t.TempDir())
	ctx := t.Context()
	w := newStaffWorld(t, e)
	rex, _ := e.signedIn(t, "Rex", store.RoleCitizen)
	cid, _ := e.signedIn(t, "Cid", store.RoleCitizen)
	withPhoto := func(lat, lng float64, side int) (string, string) {
		resp, _ := rex.postReport(reportFields("pothole", lat, lng), upload{"a.png", phototest.PNG(t, side, side)})
		id := reportIDFrom(t, resp)
		r, _ := e.store.Report(ctx, id)
		if len(r.Photos) != 1 {
			t.Fatalf("photos: %v", r.Photos)
		}
		return id, r.Photos[0]
	}
	haifa, haifaPhoto := withPhoto(32.81, 35.01, 21)
	telAviv, telAvivPhoto := withPhoto(32.09, 34.79, 22)
	e.drain(t) // sent: each body's index lists its report
	for _, tc := range []struct{ id, photo string }{{haifa, haifaPhoto}, {telAviv, telAvivPhoto}} {
		if resp, _ := rex.postUpdate(tc.id, url.Values{"text": {"Plate 12-345-67 parked on it"}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("update: %d", resp.StatusCode)
		}
		r, _ := e.store.Report(ctx, tc.id)
		if _, err := e.life.HideUpdate(ctx, testMod, tc.id, r.Updates[0].ID, "a number plate"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.life.HidePhoto(ctx, testMod, tc.id, 0, tc.photo, "a face"); err != nil {
			t.Fatal(err)
		}
	}
	status := func(c *client, path string) int {
		resp, _ := c.get(path)
		return resp.StatusCode
	}
	thumb := func(hash string) string { return "/photos/" + hash + "_t.jpg" }

	// Open reports: Haifa's staff read Haifa's hidden update and photo, not Tel Aviv's.
	if _, page := w.staff.get("/reports/" + haifa); !strings.Contains(page, "Plate 12-345-67") {
		t.Error("Haifa's staff do not see the hidden update on Haifa's report")
	}
	if _, page := w.staff.get("/reports/" + telAviv); strings.Contains(page, "Plate 12-345-67") {
		t.Error("Haifa's staff see the hidden update on Tel Aviv's report")
	}
	_, panel := w.staff.get("/moderation/reports/" + haifa + "/panel")
	src, _ := doc(t, panel).Find(`[data-testid="hidden-photo"] img`).Attr("src")
	if src != thumb(haifaPhoto) {
		t.Fatalf("the panel's hidden photo: %q", src)
	}
	if got := status(w.staff, src); got != http.StatusOK {
		t.Errorf("the hidden photo's thumbnail in Haifa's staff's panel: %d", got)
	}
	for _, path := range []string{thumb(telAvivPhoto), "/photos/" + telAvivPhoto + ".jpg"} {
		if got := status(w.staff, path); got != http.StatusNotFound {
			t.Errorf("Tel Aviv's hidden photo %s to Haifa's staff: %d", path, got)
		}
	}

	// Rejected: Haifa's report stays open to Haifa's staff, as to moderators; Tel Aviv's is gone.
	for _, id := range []string{haifa, telAviv} {
		if _, err := e.life.Transition(ctx, testMod, id, 0, hazard.Reject, "not a hazard", ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{"/reports/" + haifa, "/api/reports/" + haifa, thumb(haifaPhoto), "/photos/" + haifaPhoto + ".jpg"} {
		if got := status(w.staff, path); got != http.StatusOK {
			t.Errorf("GET %s (Haifa's, rejected) as Haifa's staff: %d", path, got)
		}
		if got := status(cid, path); got != http.StatusNotFound {
			t.Errorf("GET %s (Haifa's, rejected) as a citizen: %d", path, got)
		}
	}
	if _, page := w.staff.get("/reports/" + haifa); !strings.Contains(page, "Plate 12-345-67") {
		t.Error("the rejected report's hidden update, to its body's staff")
	}
	for _, path := range []string{"/reports/" + telAviv, "/api/reports/" + telAviv, thumb(telAvivPhoto), "/feeds/reports/" + telAviv + ".atom"} {
		if got := status(w.staff, path); got != http.StatusNotFound {
			t.Errorf("GET %s (Tel Aviv's, rejected) as Haifa's staff: %d", path, got)
		}
		if got := status(w.mod, path); got != http.StatusOK && !strings.HasSuffix(path, ".atom") {
			t.Errorf("GET %s (Tel Aviv's, rejected) as a moderator: %d", path, got)
		}
	}
}

// A staff member's public update on their body's report (the form, even with show_name, and a
// questionnaire answer) shows as the body's on the page, the feed and the followers' mail; the
// person's name only to those who moderate the report. On another body's report they write as
// anyone does.
func TestStaffUpdatesShowAsTheBody(t *testing.T) {
	e := newEnv(t, "RATE_LIMITS", "off")
	ctx := t.Context()
	w := newStaffWorld(t, e)
	fan, fu := e.signedIn(t, "Fan", store.RoleCitizen)
	if resp, _ := fan.post("/reports/"+w.inHaifa+"/follow", url.Values{"follow": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("follow: %d", resp.StatusCode)
	}
	if resp, _ := w.staff.postUpdate(w.inHaifa, url.Values{"text": {"Crew booked for Sunday"}, "fixed": {"1"}, "show_name": {"1"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update: %d", resp.StatusCode)
	}
	token, err := e.store.NewAnswerToken(ctx, store.Answer{Report: w.inHaifa, By: w.staffUser.ID}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := w.staff.post("/questionnaire/"+token, url.Values{"fixed": {"yes"}, "text": {"Patched on Sunday"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("questionnaire: %d", resp.StatusCode)
	}
	r, _ := e.store.Report(ctx, w.inHaifa)
	if len(r.Updates) != 2 {
		t.Fatalf("updates: %+v", r.Updates)
	}
	for _, up := range r.Updates {
		if up.By != w.staffUser.ID || up.Body != w.haifa.ID || up.BodyName != "Haifa Municipality" || up.Name != "" {
			t.Fatalf("stored update: %+v", up)
		}
	}

	updates := func(c *client) string {
		_, page := c.get("/reports/" + w.inHaifa)
		return strings.Join(strings.Fields(doc(t, page).Find(`[data-testid="update-list"]`).Text()), " ")
	}
	if got := updates(e.client(t)); strings.Count(got, "Haifa Municipality") != 2 || strings.Contains(got, "Stav") {
		t.Errorf("the public's updates: %s", got)
	}
	if got := updates(w.mod); strings.Count(got, "Stav (Haifa Municipality)") != 2 {
		t.Errorf("the moderator's updates: %s", got)
	}
	if _, feed := e.client(t).get("/feeds/reports/" + w.inHaifa + ".atom"); !strings.Contains(feed, "Haifa Municipality thinks it is fixed") || strings.Contains(feed, "Stav") {
		t.Errorf("feed: %s", feed)
	}
	e.drain(t)
	ms := e.waitMails(t, fu.Email, 2)
	for _, m := range ms {
		if !strings.Contains(m.Body, "Haifa Municipality added an update") || strings.Contains(m.Body, "Stav") || strings.Contains(m.Subject, "Stav") {
			t.Errorf("the follower's mail: %s\n%s", m.Subject, m.Body)
		}
	}

	// Tel Aviv's report: Stav is a citizen there, and signs as one.
	if resp, _ := w.staff.postUpdate(w.inTelAviv, url.Values{"text": {"Saw it on my way"}, "show_name": {"1"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update on Tel Aviv's report: %d", resp.StatusCode)
	}
	if r, _ := e.store.Report(ctx, w.inTelAviv); r.Updates[0].Body != "" || r.Updates[0].Name != "Stav" {
		t.Fatalf("update on another body's report: %+v", r.Updates[0])
	}
}
