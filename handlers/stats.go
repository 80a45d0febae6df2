package handlers

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/store"
	"hazardwatch/views"
)

const statsDays = 30

// stats is /admin/stats (moderators and admins): every figure from the counters kept at write
// time (never a scan), and the headline's figures over the period are the table's column sums, so
// the two cannot disagree. Actions per moderator are for admins only.
func (h *handler) stats(c *fiber.Ctx) error {
	ctx := c.UserContext()
	st, err := h.store.Statistics(ctx, time.Now(), statsDays)
	if err != nil {
		return err
	}
	v := views.StatsView{Days: statsDays, Reported: st.Created, Resolved: st.Resolved, Open: st.Open, Reporters: st.Reporters30d,
		Resolutions: st.Resolutions, FirstActions: st.FirstActions}
	if st.Resolutions > 0 {
		v.MedianResolve = i18n.Duration(ctx, st.MedianResolve)
	}
	if st.FirstActions > 0 {
		v.MedianFirst = i18n.Duration(ctx, st.MedianFirstAction)
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
		v.Rows = append(v.Rows, row)
	}
	chart, _ := json.Marshal(map[string]any{"labels": labels, "created": created, "resolved": resolved})
	v.Chart = string(chart)
	if u := currentUser(c); u.Role == store.RoleAdmin {
		v.ShowStaff = true
		v.Staff = h.staffCounts(ctx, st.ByStaff)
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, a := range st.BusiestAreas {
		label := fmt.Sprintf("%.2f, %.2f", a.Lat, a.Lng)
		if p, err := h.geo.Reverse(actx, a.Lat, a.Lng); err == nil {
			label = p.Label
		}
		v.Areas = append(v.Areas, views.StatsArea{Label: label, Count: a.Count, Href: fmt.Sprintf("/?lat=%.4f&lng=%.4f&z=13", a.Lat, a.Lng)})
	}
	p := h.page(c, i18n.T(ctx, "moderation.stats.title"))
	p.Scripts = []string{"vendor/chart.umd.min.js", "js/stats.js"}
	return render(c, fiber.StatusOK, views.StatsPage(p, v))
}

// staffCounts names the moderators behind the actions counted, most active first.
func (h *handler) staffCounts(ctx context.Context, by map[string]int64) []views.StatsStaff {
	out := make([]views.StatsStaff, 0, len(by))
	for uid, n := range by {
		name := uid
		if u, err := h.store.UserByID(ctx, uid); err == nil {
			name = u.Name
		}
		out = append(out, views.StatsStaff{Name: name, Actions: n})
	}
	slices.SortFunc(out, func(a, b views.StatsStaff) int {
		return cmp.Or(cmp.Compare(b.Actions, a.Actions), cmp.Compare(a.Name, b.Name))
	})
	return out
}
