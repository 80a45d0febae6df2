package handlers

import (
	"bufio"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/live"
)

// events is GET /events: server-sent events for report.created and report.updated, from every
// app instance (Redis pub/sub through live.Hub). Browsers reconnect by themselves (retry: 3 s).
func (h *handler) events(c *fiber.Ctx) error {
	if h.live == nil {
		return fiber.ErrNotFound
	}
	sub, err := h.live.Subscribe(c.IP())
	switch {
	case errors.Is(err, live.ErrTooManyForIP):
		c.Set(fiber.HeaderRetryAfter, "60")
		return refuse(fiber.StatusTooManyRequests, "errors.events.too_many")
	case errors.Is(err, live.ErrFull):
		c.Set(fiber.HeaderRetryAfter, "60")
		return refuse(fiber.StatusServiceUnavailable, "errors.events.busy")
	case err != nil:
		return refuse(fiber.StatusServiceUnavailable, "errors.events.shutdown")
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no") // no proxy buffering
	conn := c.Context().Conn()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer h.live.Unsubscribe(sub)
		heartbeat := time.NewTicker(20 * time.Second)
		defer heartbeat.Stop()
		write := func(s string) bool {
			// Each write gets its own deadline: the server's WriteTimeout would end the stream.
			_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := w.WriteString(s); err != nil {
				return false
			}
			return w.Flush() == nil
		}
		if !write("retry: 3000\n: connected\n\n") {
			return
		}
		for {
			select {
			case ev, ok := <-sub.C:
				if !ok {
					return
				}
				if !write("event: " + ev.Kind + "\ndata: " + ev.Data() + "\n\n") {
					return
				}
			case <-heartbeat.C:
				if !write(": ping\n\n") {
					return
				}
			}
		}
	})
	return nil
}
