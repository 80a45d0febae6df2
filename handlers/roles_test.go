package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/store"
)

// access says who may use a route.
type access int

const (
	public    access = iota // anyone
	signedIn_               // any signed-in user; others are sent to sign in
	staff_                  // a body's staff (on their body's reports only), moderators and admins
	moderator               // moderators and admins
	admin                   // admins only
	byAPIKey                // Open311 clients with an api_key, whoever is signed in (403 without)
)

// routeAccess lists every route of the app. A route added without an entry fails the test, so
// nobody adds a page without deciding who may see it.
var routeAccess = map[string]access{
	"GET /healthz":                              public,
	"GET /readyz":                               public,
	"GET /metrics":                              public,
	"GET /events":                               public,
	"GET /static/*":                             public,
	"GET /i18n/:file":                           public,
	"GET /photos/:name":                         public,
	"GET /api/reports/:id":                      public,
	"GET /api/reports":                          public,
	"GET /reports":                              public,
	"GET /reports/:id":                          public,
	"GET /reports/new":                          public, // guests report too (issue 18)
	"GET /reports/nearby":                       public,
	"GET /reports/send-to":                      public,
	"GET /reports/in-view":                      public,
	"POST /reports":                             public,
	"POST /reports/draft":                       public,
	"GET /reports/sent":                         public,
	"GET /reports/confirm":                      public, // the holder of the mailed token
	"POST /reports/confirm":                     public,
	"GET /reports/waiting":                      public,
	"GET /manifest.webmanifest":                 public,
	"GET /sw.js":                                public,
	"POST /reports/:id/confirm":                 signedIn_,
	"POST /reports/:id/edit":                    signedIn_,
	"POST /reports/:id/withdraw":                signedIn_,
	"POST /reports/:id/follow":                  signedIn_,
	"POST /account/notifications":               signedIn_,
	"POST /account/language":                    signedIn_,
	"GET /":                                     public,
	"GET /geocode/suggest":                      public,
	"GET /api/geocode":                          public,
	"GET /api/reverse":                          public,
	"GET /register":                             public,
	"POST /register":                            public,
	"GET /login":                                public,
	"POST /login":                               public,
	"POST /logout":                              public,
	"GET /verify-email":                         public,
	"GET /password/forgot":                      public,
	"POST /password/forgot":                     public,
	"GET /password/reset":                       public,
	"POST /password/reset":                      public,
	"GET /auth/google":                          public,
	"GET /auth/google/callback":                 public,
	"GET /account":                              signedIn_,
	"GET /moderation/deliveries":                moderator,
	"POST /moderation/reports/:id/send":         staff_,
	"GET /moderation":                           staff_,
	"POST /moderation/reports/:id":              staff_,
	"GET /moderation/export.csv":                moderator,
	"GET /moderation/export.geojson":            moderator,
	"GET /admin/audit":                          admin,
	"GET /admin":                                admin,
	"GET /admin/stats":                          moderator,
	"GET /admin/system":                         admin,
	"POST /admin/system/dead-letters/:id/retry": admin,
	"GET /admin/mail-preview":                   admin,
	"GET /admin/mail-preview/:kind":             admin,
	"POST /admin/users/:id/role":                admin,
	"POST /admin/users/:id/disable":             admin,
	"POST /admin/users/:id/enable":              admin,
	"GET /admin/bodies":                         admin,
	"POST /admin/bodies":                        admin,
	"GET /admin/bodies/:id":                     admin,
	"POST /admin/bodies/:id":                    admin,
	"POST /admin/bodies/:id/delete":             admin,
	"GET /admin/bodies/:id/area.geojson":        admin,
	"GET /admin/api-keys":                       admin,
	"POST /admin/api-keys":                      admin,
	"POST /admin/api-keys/:id/revoke":           admin,
	"GET /open311/v2/discovery.:fmt":            public,
	"GET /open311/v2/services.:fmt":             public,
	"GET /open311/v2/services/:code.:fmt":       public,
	"GET /open311/v2/requests.:fmt":             public,
	"POST /open311/v2/requests.:fmt":            byAPIKey,
	"GET /open311/v2/requests/:id.:fmt":         public,
	"POST /account/password":                    signedIn_,
	"POST /account/sessions/:id/revoke":         signedIn_,

	// The review queue's staff tools, response templates and abuse flags.
	"POST /reports/:id/abuse":                    public,
	"GET /moderation/tabs":                       staff_,
	"POST /moderation/bulk":                      staff_,
	"GET /moderation/reports/:id/panel":          staff_,
	"POST /moderation/reports/:id/assign":        staff_,
	"POST /moderation/reports/:id/priority":      staff_,
	"POST /moderation/reports/:id/description":   staff_,
	"POST /moderation/reports/:id/photos/hide":   staff_,
	"POST /moderation/reports/:id/type":          staff_,
	"POST /moderation/reports/:id/place":         staff_,
	"POST /moderation/reports/:id/abuse/dismiss": staff_,
	"GET /admin/templates":                       admin,
	"POST /admin/templates":                      admin,
	"POST /admin/templates/:id/delete":           admin,
	"POST /account/shortcuts":                    staff_,
	"GET /feeds/reports.atom":                    public,
	"GET /feeds/reports/:id.atom":                public,
	"GET /reports/:id/still-there":               public, // the mailed token is the key
	"POST /reports/:id/still-there":              public,
	"GET /questionnaire/:token":                  public,
	"POST /questionnaire/:token":                 public,
	"GET /alerts/unsubscribe":                    public,
	"POST /alerts/unsubscribe":                   public,
	"GET /alerts":                                signedIn_,
	"POST /alerts":                               signedIn_,
	"POST /alerts/:id/delete":                    signedIn_,
	"POST /reports/:id/updates":                  signedIn_,
	"POST /reports/:id/updates/:uid/hide":        staff_,
}

func TestRoleMatrix(t *testing.T) {
	e := newEnv(t, "RATE_LIMITS", "off")
	w := newStaffWorld(t, e) // the staff below work for Haifa; one report was sent there, one to Tel Aviv
	clients := map[string]*client{"anonymous": e.client(t)}
	for _, role := range store.Roles {
		email := string(role) + "@example.org"
		u := e.createUser(t, string(role), email, goodPassword, store.RoleCitizen)
		body := ""
		if role == store.RoleStaff {
			body = w.haifa.ID
		}
		if err := e.store.SetRole(t.Context(), u.ID, role, body); err != nil {
			t.Fatal(err)
		}
		c := e.client(t)
		c.mustLogin(email, goodPassword)
		clients[string(role)] = c
	}
	relogin := func() {
		for _, role := range store.Roles {
			clients[string(role)].mustLogin(string(role)+"@example.org", goodPassword)
		}
	}
	rank := map[string]access{"anonymous": -1, "citizen": signedIn_, "staff": staff_, "moderator": moderator, "admin": admin}

	seen := map[string]bool{}
	for _, r := range e.app.GetRoutes(true) {
		if r.Method == fiber.MethodHead {
			continue
		}
		key := r.Method + " " + r.Path
		if seen[key] {
			continue
		}
		seen[key] = true
		need, ok := routeAccess[key]
		if !ok {
			t.Errorf("route %s has no entry in routeAccess: decide who may use it", key)
			continue
		}
		path := strings.NewReplacer(":id", "aaaaaaaa-0000-0000-0000-000000000000", "*", "dist/app.css", ":fmt", "json", ":code", "pothole").Replace(r.Path)
		send := func(c *client, path string) *http.Response {
			if r.Method == fiber.MethodGet {
				resp, _ := c.get(path)
				return resp
			}
			resp, _ := c.post(path, url.Values{})
			return resp
		}
		for who, c := range clients {
			p := path
			// A body's staff: a route about one report is open to them for a report sent to
			// their body (below) and refused for another body's (checked after the loop).
			if who == "staff" && need == staff_ && strings.Contains(r.Path, ":id") {
				p = strings.ReplaceAll(r.Path, ":id", w.inHaifa)
			}
			resp := send(c, p)
			toLogin := resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login?next=")
			forbidden := resp.StatusCode == http.StatusForbidden
			allowed := need == public || (need != byAPIKey && rank[who] >= need)
			switch {
			case need == byAPIKey:
				if !forbidden {
					t.Errorf("%s as %s without an api_key: want 403, got %d", key, who, resp.StatusCode)
				}
			case allowed && (toLogin || forbidden):
				t.Errorf("%s as %s: refused (%d %s)", key, who, resp.StatusCode, resp.Header.Get("Location"))
			case !allowed && who == "anonymous" && !toLogin:
				t.Errorf("%s as anonymous: want a redirect to sign in, got %d", key, resp.StatusCode)
			case !allowed && who != "anonymous" && !forbidden:
				t.Errorf("%s as %s: want 403, got %d", key, who, resp.StatusCode)
			}
		}
		if need == staff_ && strings.Contains(r.Path, ":id") {
			if resp := send(clients["staff"], strings.ReplaceAll(r.Path, ":id", w.inTelAviv)); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s as Haifa's staff on Tel Aviv's report: want 403, got %d", key, resp.StatusCode)
			}
		}
		if key == "POST /logout" {
			relogin()
		}
	}
	for key := range routeAccess {
		if !seen[key] {
			t.Errorf("routeAccess names %s, which is not a route", key)
		}
	}
}

// requireRole on its own: moderator and admin areas refuse everyone below them.
func TestRequireRole(t *testing.T) {
	app := fiber.New()
	app.Use(func(c *fiber.Ctx) error {
		if r := c.Get("X-Test-Role"); r != "" {
			c.Locals("user", &store.User{ID: "u", Role: store.Role(r)})
		}
		return c.Next()
	})
	app.Get("/mod", requireRole(store.RoleModerator), func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/adm", requireRole(store.RoleAdmin), func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/api/mod", requireRole(store.RoleModerator), func(c *fiber.Ctx) error { return c.SendString("ok") })
	for _, tc := range []struct {
		path, role string
		want       int
	}{
		{"/mod", "", http.StatusSeeOther}, {"/mod", "citizen", http.StatusForbidden},
		{"/mod", "staff", http.StatusForbidden}, {"/mod", "moderator", 200}, {"/mod", "admin", 200},
		{"/adm", "", http.StatusSeeOther}, {"/adm", "citizen", http.StatusForbidden},
		{"/adm", "staff", http.StatusForbidden}, {"/adm", "moderator", http.StatusForbidden}, {"/adm", "admin", 200},
		{"/api/mod", "", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(http.MethodGet, tc.path+"?x=1", nil)
		if tc.role != "" {
			req.Header.Set("X-Test-Role", tc.role)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.want {
			t.Errorf("%s as %q: %d, want %d", tc.path, tc.role, resp.StatusCode, tc.want)
		}
		if tc.want == http.StatusSeeOther && resp.Header.Get("Location") != "/login?next="+url.QueryEscape(tc.path+"?x=1") {
			t.Errorf("%s: sign-in redirect %q", tc.path, resp.Header.Get("Location"))
		}
	}
}
