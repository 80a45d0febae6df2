package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"runtime/debug"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/i18n"
	"hazardwatch/static"
	"hazardwatch/views"
)

// The installable app (CONTRACT.md): a web app manifest and a service worker at the site's root
// (its scope is where it is served from). The worker keeps the app shell for offline use and
// sends reports kept on the device when the connection is back (static/js/sw.js).

// manifest is /manifest.webmanifest, in the request's language.
func (h *handler) manifest(c *fiber.Ctx) error {
	ctx := c.UserContext()
	l := lang(c)
	m := fiber.Map{
		"name": i18n.T(ctx, "site.name"), "short_name": i18n.T(ctx, "site.name"),
		"description": i18n.T(ctx, "reportform.app.description"),
		"lang":        l.Tag, "dir": l.Dir, "start_url": "/", "scope": "/", "display": "standalone",
		"background_color": "#f8fafc", "theme_color": "#1d4ed8",
		"icons":     []fiber.Map{{"src": static.URL("dist/favicon.svg"), "sizes": "any", "type": "image/svg+xml", "purpose": "any"}},
		"shortcuts": []fiber.Map{{"name": i18n.T(ctx, "reportform.title"), "url": "/reports/new"}},
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/manifest+json")
	c.Set(fiber.HeaderCacheControl, "public, no-cache")
	return c.Send(b)
}

// shellAssets are the embedded files the offline app shell needs (not the admin pages' charts).
var shellAssets = []string{
	"dist/app.css", "dist/favicon.svg", "vendor/htmx.min.js", "js/app.js", "js/offline.js",
	"vendor/leaflet/leaflet.css", "vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet-heat.js",
	"vendor/leaflet/images/marker-icon.png", "vendor/leaflet/images/marker-icon-2x.png", "vendor/leaflet/images/marker-shadow.png",
	"vendor/leaflet/images/layers.png", "vendor/leaflet/images/layers-2x.png",
	"js/map.js", "js/search.js", "js/reportform.js",
}

// buildID names the running build (its VCS revision, when it has one): cached pages change with
// the templates even when no static file does.
var buildID = func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return ""
}()

// serviceWorker is /sw.js: the worker's source (static/js/sw.js) after a header naming this
// build's shell. ?lang= is the language the registering page spoke: the cached pages are fetched
// in it.
func (h *handler) serviceWorker(c *fiber.Ctx) error {
	src, err := static.Read("js/sw.js")
	if err != nil {
		return err
	}
	l, ok := i18n.ByTag(c.Query("lang"))
	if !ok {
		l = i18n.Languages[0]
	}
	assets := make([]string, len(shellAssets))
	for i, a := range shellAssets {
		assets[i] = static.URL(a)
	}
	// Every page's scripts say their words through the language's message script.
	assets = append(assets, i18n.ScriptURL(l.Tag))
	sum := sha256.Sum256([]byte(static.Version + buildID + l.Tag))
	cfg, err := json.Marshal(map[string]any{
		"version": hex.EncodeToString(sum[:6]), "lang": l.Tag,
		"pages":  []string{"/", "/reports/new", "/reports/waiting"},
		"assets": assets, "outbox": static.URL("js/offline.js"),
	})
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("var HW_SW = ")
	b.Write(cfg)
	b.WriteString(";\n")
	b.Write(src)
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	// Browsers check for a new worker on every navigation; never serve them an old one.
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.SendString(b.String())
}

// waitingReports is /reports/waiting: the reports kept on this device (listed by offline.js).
func (h *handler) waitingReports(c *fiber.Ctx) error {
	p := h.page(c, i18n.T(c.UserContext(), "reportform.waiting.title"))
	return render(c, fiber.StatusOK, views.WaitingPage(p))
}
