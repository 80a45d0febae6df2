package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/views"
)

// stats is /admin/stats (moderators and admins): figures kept at write time, never a scan.
func (h *handler) stats(c *fiber.Ctx) error {
	st, err := h.store.Statistics(c.UserContext(), time.Now(), 30)
	if err != nil {
		return err
	}
	v := views.StatsView{Open: st.Open, Resolved: st.Resolved, Reporters: st.Reporters30d, Resolutions: st.Resolutions}
	if st.Resolutions > 0 {
		v.Median = i18n.Duration(c.UserContext(), st.MedianResolve)
	}
	var labels []string
	var created, resolved []int64
	for _, d := range st.Days {
		labels = append(labels, d.Day[5:])
		created = append(created, d.Created)
		resolved = append(resolved, d.ByStatus[string(hazard.Resolved)])
		row := views.StatsDay{Day: d.Day, Created: d.Created, Resolved: d.ByStatus[string(hazard.Resolved)], Reporters: d.Reporters}
		for _, t := range hazard.Types {
			if n := d.ByType[t.Code]; n > 0 {
				row.Types += fmt.Sprintf("%s %d  ", t.Icon, n)
			}
		}
		v.Days = append(v.Days, row)
	}
	chart, _ := json.Marshal(map[string]any{"labels": labels, "created": created, "resolved": resolved})
	v.Chart = string(chart)
	ctx, cancel := context.WithTimeout(c.UserContext(), 5*time.Second)
	defer cancel()
	for _, a := range st.BusiestAreas {
		label := fmt.Sprintf("%.2f, %.2f", a.Lat, a.Lng)
		if p, err := h.geo.Reverse(ctx, a.Lat, a.Lng); err == nil {
			label = p.Label
		}
		v.Areas = append(v.Areas, views.StatsArea{Label: label, Count: a.Count, Href: fmt.Sprintf("/?lat=%.4f&lng=%.4f&z=13", a.Lat, a.Lng)})
	}
	p := h.page(c, say(c, "admin.stats.title"))
	p.Scripts = []string{"vendor/chart.umd.min.js", "js/stats.js"}
	return render(c, fiber.StatusOK, views.StatsPage(p, v))
}
