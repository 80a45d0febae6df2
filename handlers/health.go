package handlers

import (
	"context"
	"crypto/subtle"
	"net/netip"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// healthz answers while the process runs; it never touches Redis.
func (h *handler) healthz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz answers 200 only when Redis answers a PING, so a load balancer stops sending traffic to
// an instance that cannot reach its data.
func (h *handler) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), time.Second)
	defer cancel()
	c.Set(fiber.HeaderCacheControl, "no-store")
	if err := h.store.Ping(ctx); err != nil {
		h.log.Warn("not ready", "err", err)
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"error": say(c, "errors.redis_down")})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// metricsText serves every series in Prometheus' text format: with METRICS_TOKEN set, to
// requests that carry it as a Bearer token; otherwise to loopback clients only (judged after
// TRUSTED_PROXIES, so a proxy on the same machine does not make everyone local).
func (h *handler) metricsText(c *fiber.Ctx) error {
	if h.cfg.MetricsToken != "" {
		sent, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(sent), []byte(h.cfg.MetricsToken)) != 1 {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
			return refuse(fiber.StatusUnauthorized, "errors.metrics.token")
		}
	} else if ip, err := netip.ParseAddr(c.IP()); err != nil || !ip.IsLoopback() {
		return refuse(fiber.StatusForbidden, "errors.metrics.local")
	}
	c.Set(fiber.HeaderContentType, "text/plain; version=0.0.4; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-store")
	h.metrics.Write(c.Response().BodyWriter())
	return nil
}
