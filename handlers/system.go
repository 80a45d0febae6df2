package handlers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/geocode"
	"hazardwatch/i18n"
	"hazardwatch/store"
	"hazardwatch/views"
)

// system is /admin/system: Redis role, replication, memory, persistence, clients, load, the
// slow log, LATENCY DOCTOR and MEMORY DOCTOR, key family sizes and the geocoding cache's hit ratio.
func (h *handler) system(c *fiber.Ctx) error {
	if h.monitor == nil {
		return fiber.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	v := views.SystemView{}
	health, err := h.monitor.Health(ctx)
	if err != nil {
		v.Error = say(c, "admin.system.unreadable", map[string]any{"Error": err.Error()})
	} else {
		v.Uptime = i18n.Duration(c.UserContext(), store.Uptime(health.Info))
		v.LatencyDoctor, v.MemoryDoctor = health.LatencyDoctor, health.MemoryDoctor
		for _, f := range store.InfoFields {
			if val, ok := health.Info[f]; ok {
				v.Info = append(v.Info, views.KV{Key: f, Value: val})
			}
		}
		for _, s := range health.SlowLog {
			v.Slow = append(v.Slow, views.KV{Key: fmt.Sprintf("%s, %d µs", s.Time.Format("15:04:05"), s.Duration.Microseconds()), Value: strings.Join(s.Args, " ")})
		}
		for k, n := range health.Families {
			v.Families = append(v.Families, views.KV{Key: k, Value: fmt.Sprint(n)})
		}
		sort.Slice(v.Families, func(i, j int) bool { return v.Families[i].Key < v.Families[j].Key })
		if warnings, err := h.monitor.Warnings(ctx); err == nil {
			v.Warnings = warnings
		}
	}
	if g, ok := h.geo.(interface{ Stats() geocode.Stats }); ok {
		s := g.Stats()
		v.CacheHits, v.CacheMisses, v.CacheErrors = s.Hits, s.Misses, s.Errors
		if total := s.Hits + s.Misses; total > 0 {
			v.HitRatio = fmt.Sprintf("%.0f%%", 100*float64(s.Hits)/float64(total))
		}
	}
	v.Workers = h.workersView(ctx)
	return render(c, fiber.StatusOK, views.SystemPage(h.page(c, say(c, "admin.system.title")), v))
}
