package handlers

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

// exportFilter reads the /reports filters (type, status, q, bbox) for an export (moderators:
// every status unless one is asked for).
func exportFilter(c *fiber.Ctx) (store.ListQuery, error) {
	q := store.ListQuery{Statuses: hazard.Statuses}
	if t := c.Query("type"); t != "" {
		if _, ok := hazard.TypeByCode(t); !ok {
			return q, refuse(fiber.StatusBadRequest, "errors.unknown_type", "Type", t)
		}
		q.Types = []string{t}
	}
	if s := c.Query("status"); s != "" {
		if !hazard.Status(s).Valid() {
			return q, refuse(fiber.StatusBadRequest, "errors.unknown_status", "Status", s)
		}
		q.Statuses = []hazard.Status{hazard.Status(s)}
	}
	if text := strings.TrimSpace(c.Query("q")); len([]rune(text)) > 100 {
		return q, refuse(fiber.StatusBadRequest, "errors.search_long", "Max", 100)
	} else {
		q.Text = text
	}
	if s := c.Query("bbox"); s != "" {
		b, msg := parseBBox(s)
		if !msg.IsZero() {
			return q, refuseMsg(fiber.StatusBadRequest, msg)
		}
		q.Box = &b
	}
	return q, nil
}

// eachReport pages through every report matching q (newest first) until fn says stop. Each
// page starts below the last one's time, so a long export costs the same per page throughout.
func (h *handler) eachReport(ctx context.Context, q store.ListQuery, fn func(*store.Report) bool) error {
	q.Limit, q.Skip = 200, 0
	for {
		res, err := h.store.List(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range res.Reports {
			if !fn(r) {
				return nil
			}
		}
		if !res.More || len(res.Reports) == 0 {
			return nil
		}
		// Continue below the last report's millisecond; its ties are skipped by count.
		last := res.Reports[len(res.Reports)-1].CreatedAt
		ties := 0
		for _, r := range res.Reports {
			if r.CreatedAt.UnixMilli() == last.UnixMilli() {
				ties++
			}
		}
		if q.To.UnixMilli() == last.UnixMilli() {
			q.Skip += ties
		} else {
			q.To, q.Skip = time.UnixMilli(last.UnixMilli()), ties
		}
	}
}

// csvSafe neutralises cells a spreadsheet would run as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// exportCSV streams the matching reports as CSV (moderators), row by row, never the whole set
// in memory.
func (h *handler) exportCSV(c *fiber.Ctx) error {
	f, err := exportFilter(c)
	if err != nil {
		return err
	}
	ctx := context.WithoutCancel(c.UserContext())
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="hazard-reports-`+time.Now().UTC().Format("20060102")+`.csv"`)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"id", "type", "severity", "status", "description", "address", "lat", "lng", "created_at", "updated_at", "confirmations", "url"})
		base := h.cfg.BaseURL.String()
		err := h.eachReport(ctx, f, func(r *store.Report) bool {
			row := []string{r.ID, r.Type, r.Severity, string(r.Status), csvSafe(r.Description), csvSafe(r.Address),
				strconv.FormatFloat(r.Lat, 'f', 6, 64), strconv.FormatFloat(r.Lng, 'f', 6, 64),
				r.CreatedAt.Format(time.RFC3339), r.UpdatedAt.Format(time.RFC3339), strconv.FormatInt(r.Confirmations, 10), base + "/reports/" + r.ID}
			if cw.Write(row) != nil {
				return false
			}
			cw.Flush()
			return cw.Error() == nil
		})
		cw.Flush()
		if err != nil {
			h.log.Error("csv export stopped", "err", err)
		}
	})
	return nil
}

// exportGeoJSON streams the matching reports as a FeatureCollection, one Feature at a time.
func (h *handler) exportGeoJSON(c *fiber.Ctx) error {
	f, err := exportFilter(c)
	if err != nil {
		return err
	}
	ctx := context.WithoutCancel(c.UserContext())
	c.Set(fiber.HeaderContentType, "application/geo+json")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="hazard-reports-`+time.Now().UTC().Format("20060102")+`.geojson"`)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		_, _ = w.WriteString(`{"type":"FeatureCollection","features":[`)
		first := true
		err := h.eachReport(ctx, f, func(r *store.Report) bool {
			b, err := json.Marshal(h.feature(r))
			if err != nil {
				return false
			}
			if !first {
				_ = w.WriteByte(',')
			}
			first = false
			_, werr := w.Write(b)
			return werr == nil && w.Flush() == nil
		})
		_, _ = w.WriteString("]}\n")
		_ = w.Flush()
		if err != nil {
			h.log.Error("geojson export stopped", "err", err)
		}
	})
	return nil
}
