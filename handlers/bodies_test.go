package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hazardwatch/lifecycle"
	"hazardwatch/store"
)

// postArea submits a body form with an optional area file, with the CSRF token.
func (c *client) postArea(path string, fields url.Values, file, filename string) (*http.Response, string) {
	c.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("_csrf", c.csrf())
	for k, vs := range fields {
		for _, v := range vs {
			_ = w.WriteField(k, v)
		}
	}
	if filename != "" {
		fw, _ := w.CreateFormFile("area", filename)
		_, _ = fw.Write([]byte(file))
	}
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.base+path, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}

func squareGeo(lat, lng, d float64) string {
	return fmt.Sprintf(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]}}]}`,
		lng-d, lat-d, lng+d, lat-d, lng+d, lat+d, lng-d, lat+d, lng-d, lat-d)
}

// An admin adds a body by uploading its area; bad areas and fields get clear messages and lose
// nothing typed; only admins may.
func TestAdminBodies(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "Ada", "ada@example.org", "correct horse battery", store.RoleAdmin)
	e.createUser(t, "Mo", "mo@example.org", "correct horse battery", store.RoleModerator)
	admin := e.client(t)
	admin.mustLogin("ada@example.org", "correct horse battery")
	fields := url.Values{"name": {"Haifa Municipality"}, "lang": {"he"}, "types": {"pothole", "sign"}, "method": {"email"}, "email": {"roads@haifa.example"}}

	// A bow tie crosses itself: 422, the reason, and the form keeps what was typed.
	resp, body := admin.postArea("/admin/bodies", fields, `{"type":"Polygon","coordinates":[[[35,32.7],[35.1,32.9],[35.1,32.7],[35,32.9],[35,32.7]]]}`, "area.geojson")
	d := doc(t, body)
	if resp.StatusCode != 422 || !strings.Contains(d.Find(`[data-testid="error-area"]`).Text(), "crosses or touches itself") ||
		d.Find(`input[name="name"]`).AttrOr("value", "") != "Haifa Municipality" {
		t.Fatalf("bow tie: %d %q", resp.StatusCode, d.Find(`[data-testid="error-area"]`).Text())
	}
	// In Hebrew, the same refusal in Hebrew.
	resp, body = admin.postArea("/admin/bodies?lang=he", fields, `{"type":"Polygon","coordinates":[[[35,32.7],[35.1,32.7],[35.1,32.9],[35,32.9]]]}`, "area.geojson")
	if resp.StatusCode != 422 || !strings.Contains(doc(t, body).Find(`[data-testid="error-area"]`).Text(), "טבעת לא סגורה") {
		t.Fatalf("not closed, in Hebrew: %d", resp.StatusCode)
	}
	admin.get("/?lang=en")
	// No area, no types, a bad address, Open311 without codes.
	resp, body = admin.postArea("/admin/bodies", url.Values{"name": {"X"}, "method": {"email"}, "email": {"not an address"}}, "", "")
	d = doc(t, body)
	if resp.StatusCode != 422 || d.Find(`[data-testid="error-area"]`).Length() != 1 || d.Find(`[data-testid="error-types"]`).Length() != 1 || d.Find(`[data-testid="error-email"]`).Length() != 1 {
		t.Fatalf("empty form: %d", resp.StatusCode)
	}
	resp, body = admin.postArea("/admin/bodies", url.Values{"name": {"Roads"}, "types": {"pothole"}, "method": {"open311"}, "endpoint": {"ftp://x"}}, squareGeo(32.8, 35, 0.1), "a.json")
	d = doc(t, body)
	if resp.StatusCode != 422 || d.Find(`[data-testid="error-endpoint"]`).Length() != 1 || !strings.Contains(d.Find(`[data-testid="error-codes"]`).Text(), "potholes") {
		t.Fatalf("open311 form: %d", resp.StatusCode)
	}
	// A good one: saved, shown on its page with its map.
	resp, _ = admin.postArea("/admin/bodies", fields, squareGeo(32.8, 35.0, 0.1), "haifa.geojson")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/bodies/") {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	page := resp.Header.Get("Location")
	_, body = admin.get(page)
	d = doc(t, body)
	areaURL := d.Find(`[data-testid="body-map"]`).AttrOr("data-area-url", "")
	if areaURL == "" || d.Find(`input[name="name"]`).AttrOr("value", "") != "Haifa Municipality" || !strings.Contains(d.Find(`[data-testid="body-vertices"]`).Text(), "5 positions") {
		t.Fatalf("body page: %s", body)
	}
	resp, geo := admin.get(areaURL)
	var g struct{ Type string }
	if resp.StatusCode != 200 || json.Unmarshal([]byte(geo), &g) != nil || g.Type != "MultiPolygon" {
		t.Fatalf("area: %d %s", resp.StatusCode, geo)
	}
	// Changing the name keeps the area.
	fields.Set("name", "Haifa City")
	if resp, _ := admin.postArea(page, fields, "", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update: %d", resp.StatusCode)
	}
	if _, body := admin.get("/admin/bodies"); !strings.Contains(body, "Haifa City") {
		t.Fatal("the list lacks the renamed body")
	}
	if resp, _ := admin.get(areaURL); resp.StatusCode != 200 {
		t.Fatal("the area was lost by an update without a file")
	}
	// Moderators and citizens may not.
	mod := e.client(t)
	mod.mustLogin("mo@example.org", "correct horse battery")
	if resp, _ := mod.get("/admin/bodies"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a moderator saw the bodies: %d", resp.StatusCode)
	}
	if resp, _ := mod.postArea("/admin/bodies", fields, squareGeo(1, 1, 0.1), "x.json"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a moderator made a body: %d", resp.StatusCode)
	}
	// Delete.
	if resp, _ := admin.post(page+"/delete", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if resp, _ := admin.get(page); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("deleted body: %d", resp.StatusCode)
	}
}

// The form says who will get a report; once sent, the report page says who has it since when,
// the timeline says it was sent, the list marks it and the API lists it in sent_to; moderators
// send a report no body covers by hand.
func TestCitizensSeeWhereReportsGo(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	b := &store.Body{ID: store.NewBodyID(), Name: "Camden Council", Lang: "en", Types: []string{"pothole"}, Method: store.ByEmail, Email: "roads@camden.example",
		BBox: [4]float64{34.9, 32.7, 35.1, 32.9}}
	if err := e.store.SaveBody(ctx, b, []byte(`{"type":"MultiPolygon","coordinates":[[[[34.9,32.7],[35.1,32.7],[35.1,32.9],[34.9,32.9],[34.9,32.7]]]]}`)); err != nil {
		t.Fatal(err)
	}
	anon := e.client(t)
	_, body := anon.get("/reports/send-to?lat=32.8&lng=35.0&type=pothole")
	if got := strings.Join(strings.Fields(doc(t, body).Text()), " "); got != "This will be sent to: Camden Council (potholes)" {
		t.Fatalf("send-to: %q", got)
	}
	if _, body := anon.get("/reports/send-to?lat=32.8&lng=35.0"); !strings.Contains(body, "Reports here go to") {
		t.Fatalf("without a type: %s", body)
	}
	if _, body := anon.get("/reports/send-to?lat=40&lng=10&type=pothole"); !strings.Contains(body, "No body covers this place") {
		t.Fatalf("outside: %s", body)
	}
	if _, body := anon.get("/reports/send-to?lat=x"); !strings.Contains(body, "No body covers") {
		t.Fatalf("bad point: %s", body)
	}

	r, _, err := e.life.Create(ctx, lifecycle.Draft{ID: store.NewReportID(), ReporterID: "citizen000000001", Type: "pothole", Severity: "high",
		Description: "Deep", Lat: 32.8, Lng: 35.0, HasPlace: true})
	if err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	_, body = anon.get("/reports/" + r.ID)
	d := doc(t, body)
	if !strings.Contains(d.Find(`[data-testid="delivery-sent"]`).Text(), "Camden Council has it since") ||
		!strings.Contains(d.Find(`[data-testid="timeline"]`).Text(), "Sent to Camden Council by email") {
		t.Fatalf("report page: %s", d.Find(`[data-testid="deliveries"]`).Text())
	}
	if d.Find(`[data-testid="send-by-hand"]`).Length() != 0 {
		t.Fatal("the public sees the moderators' send form")
	}
	_, body = anon.get("/reports")
	if doc(t, body).Find(`[data-testid="sent-mark"]`).Length() != 1 {
		t.Fatal("no sent mark in the list")
	}
	_, body = anon.get("/api/reports/" + r.ID)
	var f struct {
		Properties struct {
			SentTo []struct {
				Body, Via, At string
			} `json:"sent_to"`
			SentLabel string `json:"sent_label"`
		}
	}
	if err := json.Unmarshal([]byte(body), &f); err != nil || len(f.Properties.SentTo) != 1 || f.Properties.SentTo[0].Body != "Camden Council" ||
		f.Properties.SentTo[0].Via != "email" || f.Properties.SentLabel != "Sent to Camden Council" {
		t.Fatalf("api: %s", body)
	}
	if mails := e.mails(t, "roads@camden.example"); len(mails) != 1 || !strings.Contains(mails[0].Body, "Deep") {
		t.Fatalf("mails to the body: %+v", mails)
	}

	// Outside every area: moderators see "not sent", send it by hand; citizens cannot.
	far, _, err := e.life.Create(ctx, lifecycle.Draft{ID: store.NewReportID(), ReporterID: "citizen000000001", Type: "pothole", Severity: "high",
		Description: "Far", Lat: 40, Lng: 10, HasPlace: true})
	if err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	e.createUser(t, "Mo", "mo@example.org", "correct horse battery", store.RoleModerator)
	e.createUser(t, "Cy", "cy@example.org", "correct horse battery", store.RoleCitizen)
	mod := e.client(t)
	mod.mustLogin("mo@example.org", "correct horse battery")
	_, body = mod.get("/reports/" + far.ID)
	if !strings.Contains(doc(t, body).Find(`[data-testid="delivery-none"]`).Text(), "no body covers this place") {
		t.Fatalf("moderator's view: %s", doc(t, body).Find(`[data-testid="deliveries"]`).Text())
	}
	if _, body := mod.get("/moderation/deliveries"); doc(t, body).Find(`[data-testid="unrouted-report"]`).Length() != 1 {
		t.Fatal("the unrouted list")
	}
	cit := e.client(t)
	cit.mustLogin("cy@example.org", "correct horse battery")
	if resp, _ := cit.post("/moderation/reports/"+far.ID+"/send", url.Values{"body": {b.ID}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a citizen sent a report: %d", resp.StatusCode)
	}
	if resp, body := mod.post("/moderation/reports/nosuchreport0000/send", url.Values{"body": {b.ID}}); resp.StatusCode != http.StatusNotFound ||
		!strings.Contains(body, "We could not find that report") {
		t.Fatalf("unknown report: %d %s", resp.StatusCode, body)
	}
	if resp, _ := mod.post("/moderation/reports/"+far.ID+"/send", url.Values{"body": {"nosuchbody000000"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("unknown body: %d", resp.StatusCode)
	}
	if resp, _ := mod.post("/moderation/reports/"+far.ID+"/send", url.Values{"body": {b.ID}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("send by hand: %d", resp.StatusCode)
	}
	e.drain(t)
	if _, body := anon.get("/reports/" + far.ID); !strings.Contains(body, "Camden Council has it since") {
		t.Fatal("sent by hand, but not shown")
	}
	if _, body := mod.get("/moderation/deliveries"); doc(t, body).Find(`[data-testid="unrouted-report"]`).Length() != 0 {
		t.Fatal("still on the unrouted list")
	}
	// A sent report moved out of every area: moderators are told, next to who had it.
	if _, err := e.life.Relocate(ctx, lifecycle.Actor{ID: "mod0000000000001", Role: store.RoleModerator}, r.ID, 0, 40, 10, "wrong pin"); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	_, body = mod.get("/reports/" + r.ID)
	d = doc(t, body)
	if !strings.Contains(d.Find(`[data-testid="delivery-none"]`).Text(), "no body covers this place") ||
		!strings.Contains(d.Find(`[data-testid="delivery-sent"]`).Text(), "Camden Council has it since") {
		t.Fatalf("moved out of every area: %s", d.Find(`[data-testid="deliveries"]`).Text())
	}
}
