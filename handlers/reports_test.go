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
	"time"

	"github.com/rwcarlsen/goexif/exif"

	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/photo"
	"hazardwatch/photo/phototest"
	"hazardwatch/store"
)

type upload struct {
	name string
	data []byte
}

// postReport submits the report form as a browser would (multipart, with the CSRF token).
func (c *client) postReport(fields url.Values, files ...upload) (*http.Response, string) {
	c.t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if _, ok := fields["_csrf"]; !ok {
		fields.Set("_csrf", c.csrf())
	}
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
	req, _ := http.NewRequest(http.MethodPost, c.e.base+"/reports", &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}

func reportFields(typ string, lat, lng float64) url.Values {
	return url.Values{
		"type": {typ}, "severity": {"medium"}, "description": {"Deep pothole in the right lane"},
		"lat": {fmt.Sprint(lat)}, "lng": {fmt.Sprint(lng)}, "idem": {fmt.Sprint(time.Now().UnixNano())},
	}
}

func (e *env) signedIn(t *testing.T, name string, role store.Role) (*client, *store.User) {
	email := strings.ToLower(strings.ReplaceAll(name, " ", "")) + fmt.Sprint(time.Now().UnixNano()) + "@example.org"
	u := e.createUser(t, name, email, goodPassword, role)
	c := e.client(t)
	c.mustLogin(email, goodPassword)
	return c, u
}

func reportIDFrom(t *testing.T, resp *http.Response) string {
	t.Helper()
	loc := resp.Header.Get("Location")
	id, ok := strings.CutPrefix(loc, "/reports/")
	if resp.StatusCode != http.StatusSeeOther || !ok {
		t.Fatalf("want a redirect to the report, got %d %q", resp.StatusCode, loc)
	}
	return id
}

func TestCreateReportWithPhoto(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	c, _ := e.signedIn(t, "Rita", store.RoleCitizen)
	_, form := c.get("/reports/new")
	idem, _ := doc(t, form).Find(`input[name="idem"]`).Attr("value")
	if len(idem) < 20 {
		t.Fatalf("the form carries no idempotency key: %q", idem)
	}
	fields := reportFields("pothole", 32.8191, 34.9983)
	fields.Set("idem", idem)
	jpg := phototest.JPEGWithEXIF(t, phototest.RedBlue(60, 40), 1, 32.5, 34.5)
	resp, _ := c.postReport(fields, upload{"street.jpg", jpg})
	id := reportIDFrom(t, resp)

	// A retry of the same submit (same key) does not make a second report.
	resp, _ = c.postReport(fields, upload{"street.jpg", jpg})
	if again := reportIDFrom(t, resp); again != id {
		t.Fatalf("retry made report %s, first was %s", again, id)
	}
	if n, _ := e.store.Client().ZCard(t.Context(), "hw:reports:time").Result(); n != 1 {
		t.Fatalf("%d reports stored", n)
	}

	_, page := c.get("/reports/" + id)
	d := doc(t, page)
	if d.Find(`[data-testid="status"]`).Text() != "Unverified" || !strings.Contains(d.Find(`[data-testid="address"]`).Text(), "Haifa") ||
		d.Find(`[data-testid="description"]`).Text() != "Deep pothole in the right lane" {
		t.Fatalf("report page: status %q address %q", d.Find(`[data-testid="status"]`).Text(), d.Find(`[data-testid="address"]`).Text())
	}
	if got := strings.Join(strings.Fields(d.Find(`[data-testid="reported"]`).Text()), " "); !strings.HasPrefix(got, "reported ") || len(got) <= len("reported ") {
		t.Fatalf("report page says %q, want \"reported\", a space and when", got) // was "reportedjust now"
	}
	if strings.Contains(page, "Reported by") {
		t.Fatal("the reporter's name shows although they did not choose to show it")
	}
	thumb, _ := d.Find(`[data-testid="photos"] img`).Attr("src")
	full, _ := d.Find(`[data-testid="photos"] a`).Attr("href")
	resp, body := c.get(full)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || resp.Header.Get("Cache-Control") != "public, max-age=3600" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("photo: %d %v", resp.StatusCode, resp.Header)
	}
	if _, err := exif.Decode(strings.NewReader(body)); err == nil || strings.Contains(body, "SpyCam") {
		t.Fatal("the stored photo still carries EXIF")
	}
	if resp, _ := c.get(thumb); resp.StatusCode != 200 {
		t.Fatalf("thumbnail: %d", resp.StatusCode)
	}
	for _, bad := range []string{"/photos/../../etc/passwd", "/photos/nothere.jpg", "/photos/" + strings.Repeat("a", 32) + ".jpg"} {
		if resp, _ := c.get(bad); resp.StatusCode != 404 {
			t.Errorf("%s: %d", bad, resp.StatusCode)
		}
	}

	// The API gives the Feature of CONTRACT.md.
	resp, body = c.get("/api/reports/" + id)
	var f struct {
		Type     string
		ID       string
		Geometry struct {
			Type        string
			Coordinates []float64
		}
		Properties map[string]any
	}
	if err := json.Unmarshal([]byte(body), &f); err != nil || resp.StatusCode != 200 {
		t.Fatalf("api: %d %s", resp.StatusCode, body)
	}
	if f.Type != "Feature" || f.ID != id || f.Geometry.Coordinates[0] != 34.9983 || f.Geometry.Coordinates[1] != 32.8191 {
		t.Fatalf("feature: %+v", f)
	}
	for _, k := range []string{"id", "type", "severity", "status", "description", "address", "created_at", "updated_at", "confirmations", "photos", "url"} {
		if _, ok := f.Properties[k]; !ok {
			t.Errorf("feature lacks %s", k)
		}
	}
	if photos := f.Properties["photos"].([]any); len(photos) != 1 || !strings.HasPrefix(photos[0].(string), "http://localhost:8080/photos/") {
		t.Fatalf("photo URLs: %v", photos)
	}
	if resp, body := c.get("/api/reports/nosuchreport0000"); resp.StatusCode != 404 || !strings.Contains(body, `"error"`) {
		t.Fatalf("unknown report: %d %s", resp.StatusCode, body)
	}

	// It shows in the list, and in "my reports".
	_, list := c.get("/reports")
	if doc(t, list).Find(`[data-testid="report-item"]`).Length() != 1 {
		t.Fatal("not in the list")
	}
	_, mine := c.get("/reports?mine=1")
	if !strings.Contains(mine, "/reports/"+id) {
		t.Fatal("not in my reports")
	}
}

func TestReportValidationKeepsEverything(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	c, _ := e.signedIn(t, "Sam", store.RoleCitizen)
	good := upload{"good.png", phototest.PNG(t, 20, 20)}
	cases := []struct {
		name   string
		edit   func(url.Values)
		files  []upload
		field  string
		substr string
	}{
		{"no place", func(v url.Values) { v.Del("lat"); v.Del("lng") }, []upload{good}, "lat", "Choose where the hazard is"},
		{"place off the map", func(v url.Values) { v.Set("lat", "95") }, nil, "lat", "between -90 and 90"},
		{"text coordinates", func(v url.Values) { v.Set("lng", "east") }, nil, "lat", "decimal numbers"},
		{"unknown type", func(v url.Values) { v.Set("type", "volcano") }, []upload{good}, "type", "Choose the type"},
		{"no severity", func(v url.Values) { v.Del("severity") }, nil, "severity", "how dangerous"},
		{"long text", func(v url.Values) { v.Set("description", strings.Repeat("é", 2001)) }, nil, "description", "2000 characters"},
		{"fake image", nil, []upload{good, {"virus.jpg", []byte("MZ this is not an image at all....")}}, "photos", "virus.jpg: Photos must be JPEG, PNG or WebP"},
		{"too many photos", nil, []upload{good, good, good, good, good, good}, "photos", "at most 5"},
	}
	for _, tc := range cases {
		v := reportFields("pothole", 32.8191, 34.9983)
		v.Set("description", "Keep this text")
		if tc.edit != nil {
			tc.edit(v)
		}
		resp, body := c.postReport(v, tc.files...)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d", tc.name, resp.StatusCode)
			continue
		}
		d := doc(t, body)
		if msg := d.Find(`[data-testid="error-` + tc.field + `"]`).Text(); !strings.Contains(msg, tc.substr) {
			t.Errorf("%s: error by %s is %q", tc.name, tc.field, msg)
		}
		if tc.name != "long text" && d.Find(`textarea[name="description"]`).Text() != "Keep this text" {
			t.Errorf("%s: description lost", tc.name)
		}
		if idem, _ := d.Find(`input[name="idem"]`).Attr("value"); idem != v.Get("idem") {
			t.Errorf("%s: idempotency key changed", tc.name)
		}
		// A good photo survives the failed submit: it comes back as a kept photo.
		if tc.name == "no place" || tc.name == "fake image" {
			if d.Find(`[data-testid="kept-photos"] input[name="photo_keep"]`).Length() != 1 {
				t.Errorf("%s: the good photo was not kept", tc.name)
			}
		}
	}
	if n, _ := e.store.Client().ZCard(t.Context(), "hw:reports:time").Result(); n != 0 {
		t.Fatalf("failed submits stored %d reports", n)
	}
	// Submitting again with the kept photo works and the report has it.
	v := reportFields("pothole", 32.8191, 34.9983)
	_, body := c.postReport(v, good, upload{"bad.gif", []byte("GIF89a")})
	kept, _ := doc(t, body).Find(`input[name="photo_keep"]`).Attr("value")
	v["photo_keep"] = []string{kept}
	id := reportIDFrom(t, func() *http.Response { r, _ := c.postReport(v); return r }())
	r, _ := e.store.Report(t.Context(), id)
	if len(r.Photos) != 1 || !photo.Exists(e.cfg.PhotoDir(), r.Photos[0]) {
		t.Fatalf("report photos: %v", r.Photos)
	}
}

func TestPhotoLocationIsOffered(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	c, _ := e.signedIn(t, "Tom", store.RoleCitizen)
	v := reportFields("crack", 0, 0)
	v.Del("lat")
	v.Del("lng")
	resp, body := c.postReport(v, upload{"gps.jpg", phototest.JPEGWithEXIF(t, phototest.RedBlue(30, 30), 1, 32.8, 35.0)})
	offer := doc(t, body).Find(`[data-testid="photo-gps"] button`)
	value, _ := offer.Attr("value")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.HasPrefix(value, "32.8") {
		t.Fatalf("no offer of the photo's location: %d %q", resp.StatusCode, value)
	}
	kept, _ := doc(t, body).Find(`input[name="photo_keep"]`).Attr("value")
	v["photo_keep"] = []string{kept}
	v.Set("use_photo_location", value)
	resp, _ = c.postReport(v)
	r, err := e.store.Report(t.Context(), reportIDFrom(t, resp))
	if err != nil || r.Lat < 32.79 || r.Lat > 32.81 || r.Lng < 34.99 || r.Lng > 35.01 {
		t.Fatalf("report placed at %v,%v (%v)", r.Lat, r.Lng, err)
	}
}

func TestDuplicatesNearby(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	first, _ := e.signedIn(t, "Uma", store.RoleCitizen)
	existing := reportIDFrom(t, func() *http.Response { r, _ := first.postReport(reportFields("pothole", 32.8191, 34.9983)); return r }())
	c, _ := e.signedIn(t, "Vic", store.RoleCitizen)

	// While filling the form: open reports of the same type within 50 m.
	_, body := c.get("/reports/nearby?lat=32.8193&lng=34.9984&type=pothole")
	if !strings.Contains(body, "/reports/"+existing+"/confirm") || !strings.Contains(body, "I see it too") {
		t.Fatalf("nearby: %s", body)
	}
	if _, body := c.get("/reports/nearby?lat=32.8193&lng=34.9984&type=crack"); strings.TrimSpace(body) != "" {
		t.Fatal("another type was offered as a duplicate")
	}
	if _, body := c.get("/reports/nearby?lat=32.83&lng=34.9984&type=pothole"); strings.TrimSpace(body) != "" {
		t.Fatal("a report 1 km away was offered as a duplicate")
	}

	// A submit within 15 m asks first; ticking "different hazard" goes through.
	v := reportFields("pothole", 32.81915, 34.99832)
	resp, body := c.postReport(v)
	if resp.StatusCode != http.StatusConflict || doc(t, body).Find(`[data-testid="too-close"]`).Length() != 1 {
		t.Fatalf("too close: %d", resp.StatusCode)
	}
	v.Set("confirm_distinct", "1")
	reportIDFrom(t, func() *http.Response { r, _ := c.postReport(v); return r }())

	// "I see it too" instead: one confirmation per person; not for one's own report.
	if resp, _ := c.post("/reports/"+existing+"/confirm", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm: %d", resp.StatusCode)
	}
	c.post("/reports/"+existing+"/confirm", url.Values{})
	r, _ := e.store.Report(t.Context(), existing)
	if r.Confirmations != 1 {
		t.Fatalf("confirmations %d", r.Confirmations)
	}
	if resp, _ := first.post("/reports/"+existing+"/confirm", url.Values{}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("confirming one's own report: %d", resp.StatusCode)
	}
	_, page := c.get("/reports/" + existing)
	if doc(t, page).Find(`[data-testid="confirmations"]`).Text() != "1" {
		t.Fatal("the page does not show the confirmation")
	}
}

func TestReportVisibility(t *testing.T) {
	for _, mode := range []string{"post", "pre"} {
		e := newEnv(t, "DATA_DIR", t.TempDir(), "MODERATION", mode)
		owner, _ := e.signedIn(t, "Wes", store.RoleCitizen)
		other, _ := e.signedIn(t, "Xia", store.RoleCitizen)
		mod, modUser := e.signedIn(t, "Yul", store.RoleModerator)
		anon := e.client(t)
		id := reportIDFrom(t, func() *http.Response { r, _ := owner.postReport(reportFields("tree", 32.8, 35.0)); return r }())
		wantPublic := mode == "post"
		for who, c := range map[string]*client{"anonymous": anon, "other": other} {
			resp, _ := c.get("/reports/" + id)
			if (resp.StatusCode == 200) != wantPublic {
				t.Errorf("%s: pending report for %s: %d", mode, who, resp.StatusCode)
			}
			_, list := c.get("/reports")
			if strings.Contains(list, id) != wantPublic {
				t.Errorf("%s: pending report in %s's list: %v", mode, who, !wantPublic)
			}
		}
		for who, c := range map[string]*client{"owner": owner, "moderator": mod} {
			if resp, _ := c.get("/reports/" + id); resp.StatusCode != 200 {
				t.Errorf("%s: %s cannot see the report: %d", mode, who, resp.StatusCode)
			}
		}
		// Rejected: only the reporter and moderators.
		if _, err := e.life.Transition(t.Context(), lifecycle.ActorOf(modUser), id, 0, hazard.Reject, "Not a hazard", ""); err != nil {
			t.Fatal(err)
		}
		if resp, _ := anon.get("/reports/" + id); resp.StatusCode != 404 {
			t.Errorf("%s: rejected report public: %d", mode, resp.StatusCode)
		}
		if resp, _ := anon.get("/api/reports/" + id); resp.StatusCode != 404 {
			t.Errorf("%s: rejected report in the API: %d", mode, resp.StatusCode)
		}
		if resp, body := owner.get("/reports/" + id); resp.StatusCode != 200 || !strings.Contains(body, "Not a hazard") {
			t.Errorf("%s: the reporter does not see the rejection and its reason", mode)
		}
	}
}

func TestOwnerEditsAndWithdrawsWhilePending(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	owner, _ := e.signedIn(t, "Zoe", store.RoleCitizen)
	other, _ := e.signedIn(t, "Abe", store.RoleCitizen)
	id := reportIDFrom(t, func() *http.Response { r, _ := owner.postReport(reportFields("sign", 32.8, 35.0)); return r }())
	if resp, _ := other.post("/reports/"+id+"/edit", url.Values{"description": {"vandalised"}, "version": {"1"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another user's edit: %d", resp.StatusCode)
	}
	if resp, _ := owner.post("/reports/"+id+"/edit", url.Values{"description": {"Sign bent over the cycle lane"}, "version": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d", resp.StatusCode)
	}
	if resp, _ := owner.post("/reports/"+id+"/edit", url.Values{"description": {"stale"}, "version": {"1"}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("edit with a stale version: %d", resp.StatusCode)
	}
	r, _ := e.store.Report(t.Context(), id)
	if r.Description != "Sign bent over the cycle lane" {
		t.Fatalf("description %q", r.Description)
	}
	if resp, _ := owner.post("/reports/"+id+"/withdraw", url.Values{"version": {fmt.Sprint(r.Version)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("withdraw: %d", resp.StatusCode)
	}
	if resp, _ := other.get("/reports/" + id); resp.StatusCode != 404 {
		t.Fatal("a withdrawn report is public")
	}
	// Once reviewed, no more changes.
	id2 := reportIDFrom(t, func() *http.Response { r, _ := owner.postReport(reportFields("sign", 32.9, 35.1)); return r }())
	if _, err := e.life.Transition(t.Context(), testMod, id2, 0, hazard.Approve, "", ""); err != nil {
		t.Fatal(err)
	}
	if resp, _ := owner.post("/reports/"+id2+"/edit", url.Values{"description": {"x"}, "version": {"2"}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("edit after review: %d", resp.StatusCode)
	}
}

func TestReportListFilters(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir(), "RATE_LIMITS", "off")
	c, _ := e.signedIn(t, "Bea", store.RoleCitizen)
	for i := 0; i < 25; i++ {
		typ := "pothole"
		if i%5 == 0 {
			typ = "flooding"
		}
		v := reportFields(typ, 32.0+float64(i)*0.01, 35.0)
		v.Set("description", fmt.Sprintf("report %02d", i))
		reportIDFrom(t, func() *http.Response { r, _ := c.postReport(v); return r }())
	}
	count := func(q string) (int, string) {
		resp, body := c.get("/reports" + q)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", q, resp.StatusCode)
		}
		d := doc(t, body)
		next, _ := d.Find(`a[rel="next"]`).Attr("href")
		return d.Find(`[data-testid="report-item"]`).Length(), next
	}
	if n, next := count(""); n != 20 || next != "/reports?page=2" {
		t.Fatalf("first page: %d next=%q", n, next)
	}
	if n, next := count("?page=2"); n != 5 || next != "" {
		t.Fatalf("second page: %d next=%q", n, next)
	}
	if n, _ := count("?type=flooding"); n != 5 {
		t.Fatalf("type filter: %d", n)
	}
	if n, _ := count("?q=report+07"); n != 1 { // whole words
		t.Fatalf("text filter: %d", n)
	}
	if n, _ := count("?status=resolved"); n != 0 {
		t.Fatalf("status filter: %d", n)
	}
	// htmx asks for the results only.
	resp, body := c.get("/reports?type=flooding", "HX-Request", "true")
	if resp.StatusCode != 200 || strings.Contains(body, "<html") || !strings.Contains(body, `id="results"`) {
		t.Fatal("the htmx answer should be the results fragment")
	}
	for _, bad := range []string{"?type=volcano", "?status=lost", "?page=0", "?page=x", "?q=" + strings.Repeat("x", 101)} {
		if resp, _ := c.get("/reports" + bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, resp.StatusCode)
		}
	}
	if resp, _ := c.get("/reports/nosuchreport0000"); resp.StatusCode != 404 {
		t.Fatalf("unknown report page: %d", resp.StatusCode)
	}
}

func TestReportRateLimit(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	c, _ := e.signedIn(t, "Cal", store.RoleCitizen)
	for i := 0; i < 20; i++ {
		reportIDFrom(t, func() *http.Response { r, _ := c.postReport(reportFields("other", 10+float64(i), 10)); return r }())
	}
	v := reportFields("other", 50, 50)
	v.Set("description", "the 21st")
	resp, body := c.postReport(v)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "try again in") || !strings.Contains(body, "the 21st") {
		t.Fatalf("21st report in an hour: %d", resp.StatusCode)
	}
}
