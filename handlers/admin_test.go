package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hazardwatch/store"
)

func TestAdminPeople(t *testing.T) {
	e := newEnv(t)
	admin, adminUser := e.signedIn(t, "Ada", store.RoleAdmin)
	citizen, cu := e.signedIn(t, "Cy", store.RoleCitizen)

	_, body := admin.get("/admin?email=" + url.QueryEscape(strings.ToUpper(cu.Email)))
	if rows := doc(t, body).Find(`[data-testid="user-row"]`); rows.Length() != 1 || !strings.Contains(rows.Text(), cu.Email) {
		t.Fatalf("find by email: %q", rows.Text())
	}
	if _, body := admin.get("/admin?email=nobody@example.org"); doc(t, body).Find(`[data-testid="no-user"]`).Length() != 1 {
		t.Fatal("no message for an unknown email")
	}
	if _, body := admin.get("/admin"); doc(t, body).Find(`[data-testid="user-row"]`).Length() != 2 {
		t.Fatal("the recent people list")
	}

	if resp, _ := admin.post("/admin/users/"+cu.ID+"/role", url.Values{"role": {"moderator"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("role change: %d", resp.StatusCode)
	}
	if u, _ := e.store.UserByID(t.Context(), cu.ID); u.Role != store.RoleModerator {
		t.Fatalf("role now %s", u.Role)
	}
	if resp, _ := admin.post("/admin/users/"+cu.ID+"/role", url.Values{"role": {"root"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad role: %d", resp.StatusCode)
	}
	// Disabling ends the person's sessions; enabling lets them back in.
	if resp, _ := admin.post("/admin/users/"+cu.ID+"/disable", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	if citizen.who() != "" {
		t.Fatal("a disabled user is still signed in")
	}
	if resp, _ := citizen.login(cu.Email, goodPassword); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("disabled sign-in: %d", resp.StatusCode)
	}
	admin.post("/admin/users/"+cu.ID+"/enable", url.Values{})
	citizen.mustLogin(cu.Email, goodPassword)

	// The last admin cannot stop being one, nor be disabled.
	if resp, body := admin.post("/admin/users/"+adminUser.ID+"/role", url.Values{"role": {"citizen"}}); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "last admin") {
		t.Fatalf("last admin demoted: %d", resp.StatusCode)
	}
	if resp, _ := admin.post("/admin/users/"+adminUser.ID+"/disable", url.Values{}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("last admin disabled: %d", resp.StatusCode)
	}
	// With a second admin, the first may step down.
	admin.post("/admin/users/"+cu.ID+"/role", url.Values{"role": {"admin"}})
	if resp, _ := admin.post("/admin/users/"+adminUser.ID+"/role", url.Values{"role": {"moderator"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("stepping down with another admin: %d", resp.StatusCode)
	}
	entries, _, _ := e.store.AuditLog(t.Context(), store.AuditFilter{Action: "user."}, "", 50)
	seen := map[string]bool{}
	for _, en := range entries {
		seen[en.Action] = true
	}
	for _, a := range []string{"user.role", "user.disable", "user.enable", "user.signin"} {
		if !seen[a] {
			t.Errorf("no %s audit entry", a)
		}
	}
}

// The audit log's page marker is checked: a bad one is the client's mistake (400), not ours.
func TestAuditLogPageMarker(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.signedIn(t, "Ada", store.RoleAdmin)
	for i := 0; i < 105; i++ {
		if err := e.store.Audit(t.Context(), store.AuditEntry{Actor: "cli", Action: "test.entry", Target: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"garbage", "1-2-3", "-1", "1700000000000-x", "+"} {
		if resp, body := admin.get("/admin/audit?before=" + url.QueryEscape(bad)); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not valid") {
			t.Errorf("before=%s: want 400, got %d", bad, resp.StatusCode)
		}
	}
	_, body := admin.get("/admin/audit?action=test.")
	next, ok := doc(t, body).Find(`a[href^="/admin/audit?"]`).Last().Attr("href")
	if !ok || !strings.Contains(next, "before=") {
		t.Fatalf("no next-page link on a full page")
	}
	if resp, _ := admin.get(next); resp.StatusCode != http.StatusOK {
		t.Fatalf("the app's own next-page link: %d", resp.StatusCode)
	}
}

// After a role change or a disable the admin lands on the person's row, whatever their address.
func TestAdminRedirectKeepsPlusAddresses(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.signedIn(t, "Ada", store.RoleAdmin)
	u := e.createUser(t, "Plus", "plus+tag@example.org", goodPassword, store.RoleCitizen)
	for _, action := range []string{"role", "disable", "enable"} {
		resp, _ := admin.post("/admin/users/"+u.ID+"/"+action, url.Values{"role": {"moderator"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d", action, resp.StatusCode)
		}
		_, body := admin.get(resp.Header.Get("Location"))
		if rows := doc(t, body).Find(`[data-testid="user-row"]`); rows.Length() != 1 || !strings.Contains(rows.Text(), "plus+tag@example.org") {
			t.Fatalf("after %s the admin page (%s) does not show the person", action, resp.Header.Get("Location"))
		}
	}
}

// Nothing shown to a signed-in person is kept by a browser or cache: their pages, admin pages,
// exports.
func TestSignedInPagesAreNotStored(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.signedIn(t, "Ada", store.RoleAdmin)
	for _, p := range []string{"/", "/reports", "/account", "/admin", "/admin/audit", "/admin/api-keys", "/admin/stats", "/moderation",
		"/moderation/export.csv", "/moderation/export.geojson", "/no/such/page"} {
		resp, _ := admin.get(p)
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("%s for a signed-in admin: Cache-Control %q", p, cc)
		}
	}
	resp, _ := admin.post("/admin/api-keys", url.Values{"name": {"Fix app"}, "per_hour": {"50"}})
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("the page showing a new API key: Cache-Control %q", cc)
	}
	// Assets keep their long caching.
	_, body := admin.get("/")
	href, _ := doc(t, body).Find(`link[rel="stylesheet"]`).First().Attr("href")
	if resp, _ := admin.get(href); !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("a versioned asset: Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
}

// The API-key form offers a default hourly limit, and an empty field takes it.
func TestAPIKeyDefaultHourlyLimit(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.signedIn(t, "Ada", store.RoleAdmin)
	_, body := admin.get("/admin/api-keys")
	if v, _ := doc(t, body).Find(`input[name="per_hour"]`).Attr("value"); v != "100" {
		t.Fatalf("the form offers %q", v)
	}
	resp, body := admin.post("/admin/api-keys", url.Values{"name": {"Quick client"}, "per_hour": {""}})
	key := strings.TrimSpace(doc(t, body).Find(`[data-testid="new-key"]`).Text())
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("empty hourly limit: %d", resp.StatusCode)
	}
	if k, err := e.store.APIKeyFor(t.Context(), key); err != nil || k.PerHour != 100 {
		t.Fatalf("stored: %+v %v", k, err)
	}
}
