package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"hazardwatch/lifecycle"
	"hazardwatch/mail"
	"hazardwatch/store"
)

// A message a worker gave up on shows on /admin/system; "Retry" gives it back to its group.
func TestDeadLettersOnSystemPage(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.signedIn(t, "Ada", store.RoleAdmin)
	_, body := admin.get("/admin/system")
	if doc(t, body).Find(`[data-testid="no-dead-letters"]`).Length() != 1 {
		t.Fatal("no empty state for dead letters")
	}
	// A report event that a (test) consumer gave up on.
	ctx := t.Context()
	if err := e.store.EnsureGroup(ctx, store.EventsStream, "ops-test"); err != nil {
		t.Fatal(err)
	}
	r, _, err := e.life.Create(ctx, lifecycle.Draft{ID: store.NewReportID(), ReporterID: "u", Type: "ice", Severity: "low", Lat: 1, Lng: 1, HasPlace: true})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.store.ReadGroup(ctx, store.EventsStream, "ops-test", "t", 1, 10*time.Millisecond)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("read: %v", err)
	}
	if err := e.store.Bury(ctx, store.EventsStream, "ops-test", msgs[0], 8, "550 mailbox unavailable"); err != nil {
		t.Fatal(err)
	}
	_, body = admin.get("/admin/system")
	rows := doc(t, body).Find(`[data-testid="dead-letter"]`)
	if rows.Length() != 1 || !strings.Contains(rows.Text(), r.ID) || !strings.Contains(rows.Text(), "550 mailbox unavailable") {
		t.Fatalf("dead letters: %q", rows.Text())
	}
	action, _ := rows.Find("form").Attr("action")
	if resp, _ := admin.post(action, url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry: %d", resp.StatusCode)
	}
	_, body = admin.get("/admin/system")
	if doc(t, body).Find(`[data-testid="dead-letter"]`).Length() != 0 {
		t.Fatal("the retried letter is still listed")
	}
	if resp, _ := admin.post(action, url.Values{}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("retrying twice: %d", resp.StatusCode)
	}
	if resp, _ := admin.post("/admin/system/dead-letters/%2e%2e/retry", url.Values{}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad id: %d", resp.StatusCode)
	}
}

// Every mail can be previewed with sample data, as text and as HTML.
func TestMailPreview(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.signedIn(t, "Ada", store.RoleAdmin)
	resp, body := admin.get("/admin/mail-preview")
	previews := doc(t, body).Find(`[data-testid="mail-preview"]`)
	if resp.StatusCode != 200 || previews.Length() != len(mail.Kinds) || !strings.Contains(previews.Text(), "Confirm your email") {
		t.Fatalf("preview: %d, %d mails", resp.StatusCode, previews.Length())
	}
	href, _ := previews.First().Find("a").Attr("href")
	resp, html := admin.get(href)
	if resp.StatusCode != 200 || !strings.Contains(html, "<html") || strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src") {
		t.Fatalf("html preview: %d %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	if resp, _ := admin.get("/admin/mail-preview/nosuch.html"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown mail: %d", resp.StatusCode)
	}
}
