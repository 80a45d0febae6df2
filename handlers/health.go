package handlers

import (
	"context"
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
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"error": "Redis is not reachable"})
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// metricsText serves every series in Prometheus' text format.
func (h *handler) metricsText(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/plain; version=0.0.4; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-store")
	h.metrics.Write(c.Response().BodyWriter())
	return nil
}
