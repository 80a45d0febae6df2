package handlers

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/photo"
	"hazardwatch/photo/phototest"
	"hazardwatch/store"
	"hazardwatch/worker"

	"github.com/PuerkitoBio/goquery"
)

// Issue 13: photos of rejected reports stayed public with a year of caching, and anyone could
// attach another user's photo through the kept-photo field.
func TestPhotosFollowTheirReportsVisibility(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	rita, _ := e.signedIn(t, "Rita", store.RoleCitizen)
	resp, _ := rita.postReport(reportFields("pothole", 32.8191, 34.9983), upload{"a.png", phototest.PNG(t, 30, 20)})
	id := reportIDFrom(t, resp)
	r, _ := e.store.Report(t.Context(), id)
	src := "/photos/" + r.Photos[0] + ".jpg"
	anon := e.client(t)
	if resp, _ := anon.get(src); resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=3600" {
		t.Fatalf("a public report's photo: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	if _, err := e.life.Transition(t.Context(), testMod, id, 0, hazard.Reject, "not a hazard", ""); err != nil {
		t.Fatal(err)
	}
	if resp, _ := anon.get(src); resp.StatusCode != 404 {
		t.Fatalf("a rejected report's photo, to the public: %d", resp.StatusCode)
	}
	if resp, _ := rita.get(src); resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("a rejected report's photo, to its reporter: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	mod, _ := e.signedIn(t, "Mo", store.RoleModerator)
	if resp, _ := mod.get(src); resp.StatusCode != 200 {
		t.Fatalf("to a moderator: %d", resp.StatusCode)
	}

	// A failed form keeps its photo for its uploader only.
	noPlace := reportFields("crack", 32.8191, 34.9983)
	noPlace.Del("lat")
	_, body := rita.postReport(noPlace, upload{"b.png", phototest.PNG(t, 25, 25)})
	d := doc(t, body)
	ref, _ := d.Find(`input[name="photo_keep"]`).Attr("value")
	thumb, _ := d.Find(`[data-testid="kept-photos"] img`).Attr("src")
	if resp, _ := rita.get(thumb); resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("the uploader's kept photo: %d", resp.StatusCode)
	}
	if resp, _ := anon.get(thumb); resp.StatusCode != 404 {
		t.Fatalf("someone else with the kept photo's link: %d", resp.StatusCode)
	}

	// Another user cannot attach it, by reference or by hash; Rita can.
	sam, _ := e.signedIn(t, "Sam", store.RoleCitizen)
	hash := strings.TrimSuffix(strings.TrimPrefix(thumb[:strings.Index(thumb, "?")], "/photos/"), "_t.jpg")
	for i, keep := range []string{ref, hash} {
		v := reportFields("crack", 32.8291+float64(i)/100, 34.9983)
		v["photo_keep"] = []string{keep}
		resp, _ := sam.postReport(v)
		got, _ := e.store.Report(t.Context(), reportIDFrom(t, resp))
		if len(got.Photos) != 0 {
			t.Fatalf("someone else's photo attached through %q", keep)
		}
	}
	v := reportFields("crack", 32.8791, 34.9983)
	v["photo_keep"] = []string{ref}
	resp, _ = rita.postReport(v)
	if got, _ := e.store.Report(t.Context(), reportIDFrom(t, resp)); len(got.Photos) != 1 || got.Photos[0] != hash {
		t.Fatalf("the uploader's own kept photo: %v", got.Photos)
	}
}

// bombPNG is a small PNG whose header claims w x h pixels.
func bombPNG(t *testing.T, w, h uint32) []byte {
	b := bytes.Clone(phototest.PNG(t, 2, 2))
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// Issue 13: five 40-megapixel PNG bombs cost about 950 MB in one request, failed submits never
// counted, and nothing bounded how many requests decoded at once.
func TestPhotoDecodingIsBounded(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	c, _ := e.signedIn(t, "Pat", store.RoleCitizen)

	// Pixels per request: the header says so before anything is decoded.
	_, body := c.postReport(reportFields("pothole", 32.8191, 34.9983), upload{"one.png", bombPNG(t, 7000, 5000)}, upload{"two.png", bombPNG(t, 7000, 5000)})
	if msg := doc(t, body).Find(`[data-testid="error-photos"]`).Text(); !strings.Contains(msg, "two.png: together the photos are too large") {
		t.Fatalf("two 35-megapixel photos in one submit: %q", msg)
	}

	// Every slot taken: the form comes back with 503 and Retry-After, nothing lost.
	var leaves []func()
	for range 2 {
		leave, ok := e.decoders.Enter(t.Context(), time.Second)
		if !ok {
			t.Fatal("the test could not take a decoding slot")
		}
		leaves = append(leaves, leave)
	}
	v := reportFields("pothole", 32.8191, 34.9983)
	v.Set("description", "Typed before the server got busy")
	resp, body := c.postReport(v, upload{"a.png", phototest.PNG(t, 20, 20)})
	for _, leave := range leaves {
		leave()
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		doc(t, body).Find(`textarea[name="description"]`).Text() != "Typed before the server got busy" {
		t.Fatalf("busy decoders: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// Failed submits count against the hourly photo budget.
	noPlace := reportFields("pothole", 0, 0)
	noPlace.Del("lat")
	five := []upload{}
	for i := range 5 {
		five = append(five, upload{"p.png", phototest.PNG(t, 10+i, 10)})
	}
	sent := 3 // the two bombs, and the photo above (counted before it waited)
	for ; sent+5 <= photosPerUser; sent += 5 {
		if resp, _ := c.postReport(noPlace, five...); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("submit %d: %d", sent/5, resp.StatusCode)
		}
	}
	_, body = c.postReport(noPlace, five...)
	if msg := doc(t, body).Find(`[data-testid="error-photos"]`).Text(); !strings.Contains(msg, "a lot of photos") {
		t.Fatalf("past the budget (%d photos sent): %q", sent+5, msg)
	}
	// A public update's photo takes the same path: the same budget, and nothing stored.
	id := e.reportAt(t, "someone-else", "pothole", 51.5, -0.12)
	resp, body = c.postUpdate(id, url.Values{"text": {"Still there, see the photo"}}, phototest.PNG(t, 41, 30))
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "a lot of photos") || !strings.Contains(body, "Still there, see the photo") {
		t.Fatalf("an update's photo past the budget: %d", resp.StatusCode)
	}
	if r, _ := e.store.Report(t.Context(), id); len(r.Updates) != 0 {
		t.Fatalf("an update was stored with its photo refused: %+v", r.Updates)
	}
}

// Photos no report names go after the grace period; named ones and recent ones stay.
func TestPhotoSweeperRemovesOnlyOrphans(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, "DATA_DIR", dir)
	c, _ := e.signedIn(t, "Uma", store.RoleCitizen)
	resp, _ := c.postReport(reportFields("pothole", 32.8191, 34.9983), upload{"kept.png", phototest.PNG(t, 30, 30)})
	r, _ := e.store.Report(t.Context(), reportIDFrom(t, resp))
	noPlace := reportFields("pothole", 0, 0)
	noPlace.Del("lat")
	_, body := c.postReport(noPlace, upload{"orphan.png", phototest.PNG(t, 31, 30)}, upload{"fresh.png", phototest.PNG(t, 32, 30)})
	var orphan, fresh string
	doc(t, body).Find(`[data-testid="kept-photos"] img`).Each(func(i int, s *goquery.Selection) {
		src, _ := s.Attr("src")
		h := strings.TrimSuffix(strings.TrimPrefix(src[:strings.Index(src, "?")], "/photos/"), "_t.jpg")
		if i == 0 {
			orphan = h
		} else {
			fresh = h
		}
	})
	old := time.Now().Add(-25 * time.Hour)
	for _, h := range []string{r.Photos[0], orphan} {
		full, thumb := photo.Paths(e.cfg.PhotoDir(), h)
		_ = os.Chtimes(full, old, old)
		_ = os.Chtimes(thumb, old, old)
	}
	n, err := worker.SweepPhotos(t.Context(), worker.Deps{Store: e.store, PhotoDir: e.cfg.PhotoDir()})
	if err != nil || n != 1 {
		t.Fatalf("swept %d (%v), want 1", n, err)
	}
	if photo.Exists(e.cfg.PhotoDir(), orphan) || !photo.Exists(e.cfg.PhotoDir(), r.Photos[0]) || !photo.Exists(e.cfg.PhotoDir(), fresh) {
		t.Fatal("the sweeper removed the wrong photos")
	}
}
