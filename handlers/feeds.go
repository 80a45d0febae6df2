package handlers

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gorilla/feeds"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/store"
)

// Atom 1.0 feeds (RFC 4287): the newest public reports in an area (CONTRACT.md), and one
// report's timeline (its status changes and public updates).

const feedSize = 50

func (h *handler) writeAtom(c *fiber.Ctx, f *feeds.Feed) error {
	atom, err := f.ToAtom()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/atom+xml; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.SendString(atom)
}

// reportsFeed is GET /feeds/reports.atom?bbox=&type=: the newest 50 public reports in the box
// (anywhere without one), of the given types (comma list; all without).
func (h *handler) reportsFeed(c *fiber.Ctx) error {
	ctx := c.UserContext()
	var box *store.BBox
	if s := c.Query("bbox"); s != "" {
		b, msg := parseBBox(s)
		if !msg.IsZero() {
			return refuseMsg(fiber.StatusBadRequest, msg)
		}
		box = &b
	}
	var types []string
	for _, t := range strings.Split(c.Query("type"), ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if _, ok := hazard.TypeByCode(t); !ok {
			return fiber.NewError(fiber.StatusBadRequest, i18n.T(ctx, "feeds.error.type", map[string]any{"Type": t}))
		}
		types = append(types, strings.Clone(t))
	}
	public := h.life.VisibleStatuses(nil, hazard.Statuses)
	page, err := h.store.List(ctx, store.ListQuery{Statuses: public, Types: types, Box: box, Limit: feedSize})
	if err != nil {
		return err
	}
	rs := page.Reports
	base := h.cfg.BaseURL.String()
	self := base + "/feeds/reports.atom"
	if q := string(c.Request().URI().QueryString()); q != "" {
		self += "?" + q
	}
	f := &feeds.Feed{
		Title:   i18n.T(ctx, "feeds.reports.title"),
		Link:    &feeds.Link{Href: self, Rel: "self"},
		Id:      self,
		Author:  &feeds.Author{Name: i18n.T(ctx, "site.name")},
		Updated: time.Unix(0, 0).UTC(),
	}
	for _, r := range rs {
		t, _ := hazard.TypeByCode(r.Type)
		title := t.Label(ctx) + " · " + r.Status.Label(ctx)
		if r.Address != "" {
			title += " · " + r.Address
		}
		f.Items = append(f.Items, &feeds.Item{
			Title: title, Link: &feeds.Link{Href: base + "/reports/" + r.ID}, Id: base + "/reports/" + r.ID,
			Description: r.Description, Created: r.CreatedAt, Updated: r.UpdatedAt,
			Author: &feeds.Author{Name: h.reporterName(ctx, r)},
		})
		if r.UpdatedAt.After(f.Updated) {
			f.Updated = r.UpdatedAt
		}
	}
	return h.writeAtom(c, f)
}

func (h *handler) reporterName(ctx context.Context, r *store.Report) string {
	if r.ShowName && r.ReporterName != "" {
		return r.ReporterName
	}
	return i18n.T(ctx, "feeds.anonymous")
}

// reportFeed is GET /feeds/reports/{id}.atom: a public report's timeline, newest first.
func (h *handler) reportFeed(c *fiber.Ctx) error {
	ctx := c.UserContext()
	r, err := h.life.Load(ctx, nil, strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	base := h.cfg.BaseURL.String()
	link := base + "/reports/" + r.ID
	t, _ := hazard.TypeByCode(r.Type)
	f := &feeds.Feed{
		Title:   i18n.T(ctx, "feeds.report.title", map[string]any{"Type": t.Label, "Address": r.Address}),
		Link:    &feeds.Link{Href: base + "/feeds/reports/" + r.ID + ".atom", Rel: "self"},
		Id:      base + "/feeds/reports/" + r.ID + ".atom",
		Author:  &feeds.Author{Name: i18n.T(ctx, "site.name")},
		Updated: r.UpdatedAt,
	}
	var items []*feeds.Item
	for i, ch := range r.History {
		if ch.Internal {
			continue // moderators' own entries, as on the report page
		}
		title := i18n.T(ctx, "feeds.report.reported")
		switch {
		case ch.BodyName != "" && ch.From != ch.To: // a body's staff: the body, never the person
			title = i18n.T(ctx, "reports.timeline.body_marked", map[string]any{"Body": ch.BodyName, "Status": ch.To.InlineMsg()})
		case ch.From != "":
			title = i18n.T(ctx, "feeds.report.status", map[string]any{"Status": ch.To.Label(ctx)})
		}
		items = append(items, &feeds.Item{Title: title, Link: &feeds.Link{Href: link}, Id: link + "#change-" + strconv.Itoa(i),
			Description: ch.Note, Created: ch.At, Updated: ch.At})
	}
	for _, up := range r.Updates {
		if up.Hidden() {
			continue
		}
		name := cmp.Or(up.BodyName, up.Name, i18n.T(ctx, "feeds.anonymous")) // a body's staff: the body, never the person
		title := i18n.T(ctx, "feeds.report.update", map[string]any{"Name": name})
		if up.Fixed {
			title = i18n.T(ctx, "feeds.report.fixed", map[string]any{"Name": name})
		}
		items = append(items, &feeds.Item{Title: title, Link: &feeds.Link{Href: link + "#update-" + up.ID}, Id: link + "#update-" + up.ID,
			Description: up.Text, Created: up.At, Updated: up.At})
	}
	slices.SortStableFunc(items, func(a, b *feeds.Item) int { return b.Created.Compare(a.Created) }) // newest first
	f.Items = items
	return h.writeAtom(c, f)
}
