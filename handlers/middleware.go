package handlers

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/config"
)

// logRequests writes one structured line per request. It runs the error handler itself, so the
// line carries the status the client really got.
func (h *handler) logRequests(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	elapsed := time.Since(start)
	route := c.Route().Path // the pattern, not the URL: bounded label values
	h.requests.Add(1, c.Method(), route, strconv.Itoa(status))
	h.latency.Observe(elapsed.Seconds(), route)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	h.log.LogAttrs(c.UserContext(), level, "request",
		slog.String("method", c.Method()),
		slog.String("path", c.Path()),
		slog.Int("status", status),
		slog.Duration("duration", elapsed),
		slog.Int("bytes", bodySize(c)),
		slog.String("request_id", requestID(c)),
	)
	return nil
}

func (h *handler) logPanic(c *fiber.Ctx, e any) {
	h.log.Error("panic", "path", c.Path(), "request_id", requestID(c), "panic", fmt.Sprint(e), "stack", string(debug.Stack()))
}

// securityHeaders sets a strict CSP (no inline script or style) and the usual hardening headers.
func (h *handler) securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", h.csp)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	// Not no-referrer: Fiber's CSRF check compares Referer with the host over HTTPS.
	c.Set(fiber.HeaderReferrerPolicy, "strict-origin-when-cross-origin")
	c.Set(fiber.HeaderPermissionsPolicy, "geolocation=(self), camera=(), microphone=(), payment=()")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	if h.cfg.Secure() {
		c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000; includeSubDomains")
	}
	return c.Next()
}

// contentSecurityPolicy allows our own origin only, plus the map tile server for images.
func contentSecurityPolicy(cfg *config.Config) string {
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data: blob: " + tileOrigin(cfg.MapTileURL),
		"connect-src 'self'",
		"font-src 'self'",
		"object-src 'none'",
		"base-uri 'self'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

// tileOrigin is the scheme and host of a Leaflet tile template, with a {s} subdomain as a wildcard.
func tileOrigin(tmpl string) string {
	scheme, rest, ok := strings.Cut(tmpl, "://")
	if !ok {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + strings.ReplaceAll(host, "{s}", "*")
}

// bodySize is the response size for the log; -1 for a stream (reading Body() would drain it).
func bodySize(c *fiber.Ctx) int {
	if c.Response().IsBodyStream() {
		return -1
	}
	return len(c.Response().Body())
}
