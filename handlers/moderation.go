package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"hazardwatch/hazard"
	"hazardwatch/i18n"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
	"hazardwatch/views"
)

// The review queue: tabs with live counts, urgency order, filters answered by the store's queue
// indexes (so a filtered page is full), a map of the page, rows with what a moderator needs to
// decide, one-click duplicates and bulk actions.

const (
	queuePer        = 50
	tabMine         = "mine"
	similarRadius   = 1000.0 // metres: how far the "nearest similar report" looks
	candidateRadius = 100.0  // metres: originals offered for a one-click duplicate
	maxCandidates   = 3
)

// queueParams is the queue's address: tab, filters, order and page. Every queue link and the
// "back" field of every queue form are built from it, so they are well-formed by construction.
type queueParams struct {
	Tab, Type, Severity, BBox, Order string
	Page                             int
	box                              *store.BBox
}

// parseQueue reads the queue's address (a 400 message when it is wrong).
func parseQueue(v url.Values) (queueParams, i18n.Msg) {
	q := queueParams{Tab: v.Get("tab"), Type: v.Get("type"), Severity: v.Get("severity"), BBox: strings.TrimSpace(v.Get("bbox")), Order: v.Get("order"), Page: 1}
	if q.Tab == "" {
		q.Tab = v.Get("status") // the queue's address before it had tabs
	}
	if q.Tab == "" {
		q.Tab = string(hazard.Pending)
	}
	if !validTab(q.Tab) {
		return q, i18n.M("moderation.err.tab", "Tab", q.Tab)
	}
	if _, ok := hazard.TypeByCode(q.Type); q.Type != "" && !ok {
		return q, i18n.M("moderation.err.type", "Type", q.Type)
	}
	if _, ok := hazard.SeverityByCode(q.Severity); q.Severity != "" && !ok {
		return q, i18n.M("moderation.err.severity", "Severity", q.Severity)
	}
	switch store.QueueOrder(q.Order) {
	case "", store.ByUrgency:
		q.Order = ""
	case store.Oldest, store.Newest:
	default:
		return q, i18n.M("moderation.err.order")
	}
	if q.BBox != "" {
		b, msg := parseBBox(q.BBox)
		if !msg.IsZero() {
			return q, msg
		}
		q.box = &b
	}
	if p := v.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 1000 {
			return q, i18n.M("moderation.err.page")
		}
		q.Page = n
	}
	return q, i18n.Msg{}
}

func validTab(tab string) bool {
	if tab == tabMine || slices.Contains(store.QueueFlags, tab) {
		return true
	}
	s := hazard.Status(tab)
	return s.Valid() && s != hazard.Unconfirmed
}

// values is the address without its defaults; page 0 leaves the page out.
func (q queueParams) values(page int) url.Values {
	v := url.Values{"tab": {q.Tab}}
	for k, val := range map[string]string{"type": q.Type, "severity": q.Severity, "bbox": q.BBox, "order": q.Order} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return v
}

func (q queueParams) url(page int) string { return "/moderation?" + q.values(page).Encode() }

func (q queueParams) store(uid string) store.QueueQuery {
	sq := store.QueueQuery{Type: q.Type, Severity: q.Severity, Box: q.box, Order: store.QueueOrder(q.Order),
		Offset: (q.Page - 1) * queuePer, Count: queuePer}
	switch {
	case q.Tab == tabMine:
		sq.Assignee = uid
	case slices.Contains(store.QueueFlags, q.Tab):
		sq.Flag = q.Tab
	default:
		sq.Status = hazard.Status(q.Tab)
	}
	return sq
}

// queryValues is the request's query string, parsed.
func queryValues(c *fiber.Ctx) url.Values {
	v, _ := url.ParseQuery(string(c.Request().URI().QueryString()))
	return v
}

// backTo is the queue address a form came from (its "back" field), checked: a forged value can
// only ever lead to the queue.
func backTo(c *fiber.Ctx, back string) queueParams {
	v, _ := url.ParseQuery(back)
	q, msg := parseQueue(v)
	if !msg.IsZero() {
		q, _ = parseQueue(url.Values{})
	}
	return q
}

// moderation is the review queue (moderators and admins).
func (h *handler) moderation(c *fiber.Ctx) error {
	q, msg := parseQueue(queryValues(c))
	if !msg.IsZero() {
		return refuseMsg(fiber.StatusBadRequest, msg)
	}
	v, err := h.queueView(c, q)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.ModerationPage(h.queuePage(c), v))
}

// queueTabs is the tab bar alone: the page asks for it again every half minute (live counts).
func (h *handler) queueTabs(c *fiber.Ctx) error {
	q, msg := parseQueue(queryValues(c))
	if !msg.IsZero() {
		return refuseMsg(fiber.StatusBadRequest, msg)
	}
	scope, err := h.queueScope(c)
	if err != nil {
		return err
	}
	tabs, err := h.tabs(c, q, scope)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.QueueTabs(tabs, q.url(0)))
}

func (h *handler) queuePage(c *fiber.Ctx) views.Page {
	p := h.page(c, i18n.T(c.UserContext(), "moderation.title"))
	p.Styles = []string{"vendor/leaflet/leaflet.css"}
	p.Scripts = []string{"vendor/leaflet/leaflet.js", "js/grid.js", "js/search.js", "js/queue.js"}
	return p
}

// queueScope is whose reports the asker's queue holds: every report for moderators and admins
// (Body ""); for a body's staff only the reports sent to their body, and nothing at all when
// that body is gone (Gone), never everything.
type queueScope struct {
	Body, Name string
	Gone       bool
}

func (h *handler) queueScope(c *fiber.Ctx) (queueScope, error) {
	u := currentUser(c)
	if u.Role != store.RoleStaff {
		return queueScope{}, nil
	}
	b, err := h.store.Body(c.UserContext(), u.Body)
	if errors.Is(err, store.ErrNotFound) {
		return queueScope{Body: u.Body, Gone: true}, nil
	}
	if err != nil {
		return queueScope{}, err
	}
	return queueScope{Body: b.ID, Name: b.Name}, nil
}

func (h *handler) queueView(c *fiber.Ctx, q queueParams) (views.ModerationView, error) {
	ctx := c.UserContext()
	u := currentUser(c)
	scope, err := h.queueScope(c)
	if err != nil {
		return views.ModerationView{}, err
	}
	v := views.ModerationView{
		Tab: q.Tab, Type: q.Type, Severity: q.Severity, Order: q.Order, BBox: q.BBox, Types: typeOptions(c), Severities: severityOptions(c),
		Orders: []views.Option{
			{Value: "", Label: i18n.T(ctx, "moderation.order.urgency")},
			{Value: string(store.Oldest), Label: i18n.T(ctx, "moderation.order.oldest")},
			{Value: string(store.Newest), Label: i18n.T(ctx, "moderation.order.newest")},
		},
		Map: views.MapView{TileURL: h.cfg.MapTileURL, Attribution: h.cfg.MapAttribution, Lat: h.cfg.MapLat, Lng: h.cfg.MapLng,
			Zoom: h.cfg.MapZoom, Labels: mapLabelsJSON(ctx)},
		Search:    views.PlaceSearchView{Embedded: true, Near: fmt.Sprintf("%.4f,%.4f", h.cfg.MapLat, h.cfg.MapLng), TownsOnly: h.townsOnly()},
		Shortcuts: !u.NoShortcuts,
		Page:      q.Page,
		Self:      q.url(q.Page),
		Scope:     scope.Name,
		ScopeGone: scope.Gone,
	}
	if q.box != nil {
		v.Map.Lat, v.Map.Lng = (q.box.MinLat+q.box.MaxLat)/2, (q.box.MinLng+q.box.MaxLng)/2
		v.ClearArea = q.withBox("").url(0)
	}
	for _, a := range lifecycle.BulkActions {
		v.BulkActions = append(v.BulkActions, views.Option{Value: string(a), Label: actionLabel(ctx, a)})
	}
	tabs, err := h.tabs(c, q, scope)
	if err != nil {
		return v, err
	}
	v.Tabs = tabs
	var rs []*store.Report
	var total int64
	if !scope.Gone {
		sq := q.store(u.ID)
		sq.Body = scope.Body
		if rs, total, err = h.store.Queue(ctx, sq); err != nil {
			return v, err
		}
	}
	v.Total = total
	if q.Page > 1 {
		v.PrevURL = q.url(q.Page - 1)
	}
	if int64(q.Page*queuePer) < total {
		v.NextURL = q.url(q.Page + 1)
	}
	if v.Rows, err = h.rowContext(c, q); err != nil {
		return v, err
	}
	v.Items, err = h.queueItems(c, rs)
	if q.Tab != tabMine && !slices.Contains(store.QueueFlags, q.Tab) && scope == (queueScope{}) {
		v.ExportStatus = q.Tab
	}
	return v, err
}

func (q queueParams) withBox(b string) queueParams {
	q.BBox, q.box, q.Page = b, nil, 1
	return q
}

// tabs are the queue's tabs with their counts: the active statuses, the public's flags, the
// asker's own, then the closed statuses; counted within the asker's scope.
func (h *handler) tabs(c *fiber.Ctx, q queueParams, scope queueScope) ([]views.QueueTab, error) {
	ctx := c.UserContext()
	counts := store.QueueCounts{}
	if !scope.Gone {
		var err error
		if counts, err = h.store.QueueTabCounts(ctx, currentUser(c).ID, scope.Body); err != nil {
			return nil, err
		}
	}
	var out []views.QueueTab
	add := func(key, label string, n int64) {
		t := q
		t.Tab, t.Page = key, 1
		out = append(out, views.QueueTab{Key: key, Label: label, Count: n, Href: t.url(0), Current: key == q.Tab})
	}
	for _, s := range hazard.ActiveStatuses {
		add(string(s), s.Label(ctx), counts.Status[s])
	}
	add(store.FlagReportedFixed, i18n.T(ctx, "moderation.tab.reported_fixed"), counts.Flag[store.FlagReportedFixed])
	add(store.FlagReopened, i18n.T(ctx, "moderation.tab.reopened"), counts.Flag[store.FlagReopened])
	add(store.FlagAbuse, i18n.T(ctx, "moderation.tab.abuse"), counts.Flag[store.FlagAbuse])
	add(tabMine, i18n.T(ctx, "moderation.tab.mine"), counts.Mine)
	for _, s := range hazard.Statuses {
		if !s.Active() && s != hazard.Unconfirmed {
			add(string(s), s.Label(ctx), counts.Status[s])
		}
	}
	return out, nil
}

// rowContext is what every row's forms need: response templates, staff to assign to, the types to
// re-categorise to, and the queue address to come back to.
func (h *handler) rowContext(c *fiber.Ctx, q queueParams) (views.QueueRowContext, error) {
	ctx := c.UserContext()
	rc := views.QueueRowContext{Back: q.values(q.Page).Encode(), Types: typeOptions(c)}
	ts, err := h.store.Templates(ctx)
	if err != nil {
		return rc, err
	}
	for _, t := range ts {
		rc.Templates = append(rc.Templates, views.TemplateOption{ID: t.ID, Action: t.Action, Title: t.Title, Text: t.Text})
	}
	// Who reports can be assigned to: a body's staff see only their colleagues, never the users.
	var staff []*store.User
	if me := currentUser(c); me.Role == store.RoleStaff {
		staff, err = h.store.BodyStaff(ctx, me.Body)
	} else {
		staff, err = h.store.Staff(ctx)
	}
	if err != nil {
		return rc, err
	}
	for _, u := range staff {
		rc.Staff = append(rc.Staff, views.Option{Value: u.ID, Label: u.Name})
	}
	rc.Priorities = []views.Option{{Value: "", Label: i18n.T(ctx, "moderation.priority.none")}}
	for _, p := range lifecycle.Priorities {
		rc.Priorities = append(rc.Priorities, views.Option{Value: p, Label: priorityLabel(ctx, p)})
	}
	rc.Me = currentUser(c).ID
	return rc, nil
}

func priorityLabel(ctx context.Context, p string) string {
	switch p {
	case "p1":
		return i18n.T(ctx, "moderation.priority.p1")
	case "p2":
		return i18n.T(ctx, "moderation.priority.p2")
	case "p3":
		return i18n.T(ctx, "moderation.priority.p3")
	}
	return ""
}

// actionLabel is a moderator's verb as the queue names it.
func actionLabel(ctx context.Context, a hazard.Action) string {
	switch a {
	case hazard.Approve:
		return i18n.T(ctx, "moderation.action.approve")
	case hazard.Start:
		return i18n.T(ctx, "moderation.action.start")
	case hazard.Resolve:
		return i18n.T(ctx, "moderation.action.resolve")
	case hazard.Reject:
		return i18n.T(ctx, "moderation.action.reject")
	case hazard.MarkDuplicate:
		return i18n.T(ctx, "moderation.action.duplicate")
	case hazard.Reopen:
		return i18n.T(ctx, "moderation.action.reopen")
	}
	return string(a)
}

// allowedActions lists the moderator actions the workflow table allows from s.
func allowedActions(ctx context.Context, s hazard.Status) []views.Option {
	var out []views.Option
	for _, a := range lifecycle.ModeratorActions {
		if _, ok := hazard.Next(s, a); ok {
			out = append(out, views.Option{Value: string(a), Label: actionLabel(ctx, a)})
		}
	}
	return out
}

// queueItems builds the rows: for all of them at once, the similar reports nearby (one pipeline
// of GEO searches), the candidate originals' documents, and the reporters' histories.
func (h *handler) queueItems(c *fiber.Ctx, rs []*store.Report) ([]views.ModerationItem, error) {
	ctx := c.UserContext()
	similar, err := h.store.SimilarNearby(ctx, rs, similarRadius, 20)
	if err != nil {
		return nil, err
	}
	var candIDs, uids []string
	for _, r := range rs {
		uids = append(uids, r.ReporterID)
		for i, s := range similar[r.ID] {
			if i < maxCandidates && s.Metres <= candidateRadius {
				candIDs = append(candIDs, s.ID)
			}
		}
	}
	if me := currentUser(c); me.Role == store.RoleStaff { // never another body's report, even as a candidate
		if candIDs, err = h.store.SentOf(ctx, me.Body, candIDs); err != nil {
			return nil, err
		}
	}
	cands, err := h.store.ReportsByID(ctx, candIDs)
	if err != nil {
		return nil, err
	}
	byID := map[string]*store.Report{}
	for _, r := range cands {
		byID[r.ID] = r
	}
	hist, err := h.store.ReporterHistories(ctx, uids)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	staff, err := h.store.Staff(ctx)
	if me := currentUser(c); me.Role == store.RoleStaff {
		staff, err = h.store.BodyStaff(ctx, me.Body)
	}
	if err == nil {
		for _, u := range staff {
			names[u.ID] = u.Name
		}
	}
	items := make([]views.ModerationItem, len(rs))
	for i, r := range rs {
		it := views.ModerationItem{ReportCard: h.card(c, r), Version: r.Version, Lat: r.Lat, Lng: r.Lng, Type: r.Type,
			Actions: allowedActions(ctx, r.Status), Assignee: r.Assignee, AssigneeName: names[r.Assignee],
			Priority: r.Priority, PriorityLabel: priorityLabel(ctx, r.Priority), Abuse: len(r.Abuse)}
		for _, p := range r.Photos {
			it.Photos = append(it.Photos, views.PhotoView{Full: "/photos/" + p + ".jpg", Thumb: "/photos/" + p + "_t.jpg"})
		}
		if r.Attention != "" {
			it.Attention = attentionLabel(ctx, r.Attention)
		}
		if rh := hist[r.ReporterID]; rh.Reports > 0 {
			it.ReporterReports, it.ReporterRejected = rh.Reports, rh.Rejected
		}
		if s := similar[r.ID]; len(s) > 0 {
			it.Nearest = metres(ctx, s[0].Metres)
		}
		for j, s := range similar[r.ID] {
			o, ok := byID[s.ID]
			if j >= maxCandidates || s.Metres > candidateRadius || !ok {
				continue
			}
			card := h.card(c, o)
			card.Distance = metres(ctx, s.Metres)
			it.Candidates = append(it.Candidates, card)
		}
		items[i] = it
	}
	return items, nil
}

func attentionLabel(ctx context.Context, a hazard.Attention) string {
	switch a {
	case hazard.ReportedFixed:
		return i18n.T(ctx, "moderation.tab.reported_fixed")
	case hazard.ReopenedByPublic:
		return i18n.T(ctx, "moderation.tab.reopened")
	}
	return string(a)
}

func metres(ctx context.Context, m float64) string {
	return i18n.T(ctx, "moderation.row.metres", map[string]any{"Metres": fmt.Sprintf("%.0f", m)})
}

// queueItem is one row again, after an action on it.
func (h *handler) queueItem(c *fiber.Ctx, r *store.Report) (views.ModerationItem, error) {
	items, err := h.queueItems(c, []*store.Report{r})
	if err != nil {
		return views.ModerationItem{}, err
	}
	return items[0], nil
}

// moderate applies one workflow action (CONTRACT.md: action, note, duplicate_of; and template, a
// response template whose text stands for an empty note) at the version the moderator saw. A
// concurrent change wins over a stale form: 409 "changed by someone else".
func (h *handler) moderate(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	f := newForm(c, "action", "note", "duplicate_of", "version", "template", "back")
	version, _ := strconv.ParseInt(f.Values["version"], 10, 64)
	action := hazard.Action(f.Values["action"])
	note := h.noteOrTemplate(c, f.Values["note"], f.Values["template"], action)
	r, err := h.life.Transition(c.UserContext(), lifecycle.ActorOf(currentUser(c)), id, version, action, note, strings.TrimSpace(f.Values["duplicate_of"]))
	var msg i18n.Msg
	if err == nil {
		msg = i18n.M("moderation.flash.marked", "Status", r.Status.InlineMsg())
	}
	return h.staffDone(c, id, f.Values["back"], r, err, "report."+string(action), note, msg)
}

// noteOrTemplate is the note a moderator typed or, when empty, the text of the response template
// chosen for that action (the browser fills the note in; this is the same without JavaScript).
func (h *handler) noteOrTemplate(c *fiber.Ctx, note, templateID string, a hazard.Action) string {
	note = strings.TrimSpace(note)
	if note != "" || templateID == "" {
		return note
	}
	t, err := h.store.TemplateByID(c.UserContext(), templateID)
	if err != nil || t.Action != string(a) {
		return note
	}
	return t.Text
}

// staffDone answers a staff action on one report: for htmx the row itself (with the error inside
// it when the action was refused, so the moderator sees where), otherwise a redirect back to the
// queue with a flash message. Every change is audited.
func (h *handler) staffDone(c *fiber.Ctx, id, back string, r *store.Report, err error, audit, note string, flash i18n.Msg) error {
	var le *lifecycle.Error
	// A refusal shows in the row, except for a report the asker may not see at all (gone, or
	// not sent to a staff member's body).
	if errors.As(err, &le) && le.Kind != lifecycle.NotFound && le.Kind != lifecycle.Forbidden && isPartial(c) {
		if cur, err := h.store.Report(c.UserContext(), id); err == nil {
			return h.renderRow(c, back, cur, i18n.Say(c.UserContext(), le.Msg), lifecycleStatus(le.Kind))
		}
	}
	if err != nil {
		return err
	}
	h.audit(c, audit, id, note)
	if isPartial(c) {
		return h.renderRow(c, back, r, "", fiber.StatusOK)
	}
	h.setFlash(c, "success", flash)
	return redirect(c, backTo(c, back).url(0)+"#mod-"+id)
}

func (h *handler) renderRow(c *fiber.Ctx, back string, r *store.Report, problem string, status int) error {
	q := backTo(c, back)
	rc, err := h.rowContext(c, q)
	if err != nil {
		return err
	}
	it, err := h.queueItem(c, r)
	if err != nil {
		return err
	}
	it.Error = problem
	if c.FormValue("panel") == "1" { // the action came from the row's panel: keep it open
		it.Panel = h.panel(c, r)
	}
	return render(c, status, views.ModerationRow(h.page(c, ""), rc, it))
}

// bulk applies approve, reject or resolve (with one note) to the selected reports, each at the
// version its row showed; the answer says which changed and which someone else changed meanwhile.
func (h *handler) bulk(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f := newForm(c, "action", "note", "template", "back")
	q := backTo(c, f.Values["back"])
	var items []lifecycle.BulkItem
	args := c.Request().PostArgs()
	if mf, err := c.MultipartForm(); err == nil {
		for _, id := range mf.Value["ids"] {
			v, _ := strconv.ParseInt(firstOf(mf.Value["version."+id]), 10, 64)
			items = append(items, lifecycle.BulkItem{ID: id, Version: v})
		}
	} else {
		for _, raw := range args.PeekMulti("ids") {
			id := string(raw)
			v, _ := strconv.ParseInt(string(args.Peek("version."+id)), 10, 64)
			items = append(items, lifecycle.BulkItem{ID: id, Version: v})
		}
	}
	if len(items) == 0 {
		return refuse(fiber.StatusUnprocessableEntity, "moderation.err.bulk_none")
	}
	if len(items) > 200 {
		return refuse(fiber.StatusUnprocessableEntity, "moderation.err.bulk_many")
	}
	action := hazard.Action(f.Values["action"])
	note := h.noteOrTemplate(c, f.Values["note"], f.Values["template"], action)
	results, err := h.life.BulkTransition(ctx, lifecycle.ActorOf(currentUser(c)), items, action, note)
	if err != nil && len(results) == 0 {
		return err
	}
	sum := views.BulkSummary{}
	for _, res := range results {
		switch {
		case res.Err == nil:
			sum.Changed = append(sum.Changed, res.ID)
			h.audit(c, "report."+string(action), res.ID, note)
		case errors.Is(res.Err, lifecycle.ErrChanged):
			sum.Stale = append(sum.Stale, res.ID)
		default:
			var le *lifecycle.Error
			msg := res.Err.Error()
			if errors.As(res.Err, &le) {
				msg = i18n.Say(ctx, le.Msg)
			}
			sum.Refused = append(sum.Refused, views.BulkRefusal{ID: res.ID, Msg: msg})
		}
	}
	if err != nil {
		h.log.Error("bulk action stopped", "done", len(results), "of", len(items), "err", err)
		sum.Stopped = true
	}
	v, err := h.queueView(c, q)
	if err != nil {
		return err
	}
	v.Bulk = &sum
	return render(c, fiber.StatusOK, views.ModerationPage(h.queuePage(c), v))
}

func firstOf(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// audit records an action of the current user; a failure is logged, the action stands.
func (h *handler) audit(c *fiber.Ctx, action, target, note string) {
	actor := "anonymous"
	if u := currentUser(c); u != nil {
		actor = u.ID
	}
	if err := h.store.Audit(c.UserContext(), store.AuditEntry{Actor: actor, Action: action, Target: target, IP: c.IP(), Note: note}); err != nil {
		h.log.Error("audit entry lost", "action", action, "target", target, "err", err)
	}
}
