package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/photo/phototest"
	"hazardwatch/store"
)

// putReport stores a pending report straight through the store (test setup).
func (e *env) putReport(t *testing.T, reporter, typ, sev string, lat, lng float64, created time.Time) *store.Report {
	t.Helper()
	r := &store.Report{ID: store.NewReportID(), Type: typ, Severity: sev, Description: "A " + typ + " by the school", Lat: lat, Lng: lng,
		Status: hazard.Pending, ReporterID: reporter, Photos: []string{}, CreatedAt: created, UpdatedAt: created,
		History: []store.Change{{At: created, By: reporter, To: hazard.Pending}}}
	if _, _, err := e.store.CreateReport(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func rowIDs(t *testing.T, body string) []string {
	var ids []string
	doc(t, body).Find(`[data-testid="queue-item"]`).Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("data-id")
		ids = append(ids, id)
	})
	return ids
}

// Issue 13 point 11: filters apply before the page is taken, so a filtered page is full when
// enough reports match (the old queue took 50 and then filtered: 17 rows here).
func TestQueueFilteredPageIsFull(t *testing.T) {
	e := newEnv(t)
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	now := time.Now().UTC()
	want := map[string]bool{}
	for i := range 156 {
		typ, sev := "crack", "low"
		if i%3 == 0 {
			typ, sev = "pothole", "high"
		}
		r := e.putReport(t, "u", typ, sev, 32.8+float64(i)*0.0005, 35.0, now.Add(-time.Duration(i)*time.Minute))
		if typ == "pothole" {
			want[r.ID] = true
		}
	}
	resp, body := mod.get("/moderation?type=pothole&severity=high")
	first := rowIDs(t, body)
	if resp.StatusCode != 200 || len(first) != 50 {
		t.Fatalf("first filtered page: %d rows (status %d), want 50 of the 52 matching", len(first), resp.StatusCode)
	}
	if !strings.Contains(doc(t, body).Find(`[data-testid="queue-total"]`).Text(), "52 reports") {
		t.Fatalf("total: %q", doc(t, body).Find(`[data-testid="queue-total"]`).Text())
	}
	next, _ := doc(t, body).Find(`[data-testid="queue-next"]`).Attr("href")
	_, body = mod.get(next)
	second := rowIDs(t, body)
	seen := map[string]bool{}
	for _, id := range append(first, second...) {
		if !want[id] || seen[id] {
			t.Fatalf("row %s does not match the filter or is shown twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 52 {
		t.Fatalf("the two pages hold %d of the 52 matching reports", len(seen))
	}
	// The tabs count every pending report, live (the fragment the page reloads).
	_, tabs := mod.get("/moderation/tabs?tab=pending")
	if got := doc(t, tabs).Find(`[data-testid="tab-pending"] [data-testid="tab-count"]`).Text(); got != "156" {
		t.Fatalf("pending tab count %q", got)
	}
}

// The default order is urgency: a new high-severity report comes before old low ones; "oldest"
// and "newest" are still there.
func TestQueueUrgencyFirst(t *testing.T) {
	e := newEnv(t)
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	now := time.Now().UTC()
	var old []string
	for i := range 60 {
		old = append(old, e.putReport(t, "u", "crack", "low", 32.8+float64(i)*0.001, 35.0, now.Add(-time.Duration(60-i)*24*time.Hour)).ID)
	}
	high := e.putReport(t, "u", "manhole", "high", 32.9, 35.1, now).ID
	_, body := mod.get("/moderation")
	if ids := rowIDs(t, body); len(ids) != 50 || ids[0] != high || ids[1] != old[0] {
		t.Fatalf("urgency order starts %v", ids[:3])
	}
	_, body = mod.get("/moderation?order=oldest")
	if ids := rowIDs(t, body); ids[0] != old[0] || ids[1] != old[1] {
		t.Fatalf("oldest first starts %v", ids[:2])
	}
	_, body = mod.get("/moderation?order=newest")
	if ids := rowIDs(t, body); ids[0] != high || ids[1] != old[59] {
		t.Fatalf("newest first starts %v", ids[:2])
	}
	if resp, _ := mod.get("/moderation?order=random"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown order: %d", resp.StatusCode)
	}
}

// Rows let a moderator decide without opening the report: the nearest similar open report, the
// candidate originals within 100 m (same or related type), the reporter's rejected count. One
// click on a candidate closes the row as its duplicate: confirmations and followers move, the
// reporter hears, the action is audited.
func TestQueueRowsAndOneClickDuplicate(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	mod, modUser := e.signedIn(t, "Mod", store.RoleModerator)
	reporter, ru := e.signedIn(t, "Rex", store.RoleCitizen)
	fan, fu := e.signedIn(t, "Fan", store.RoleCitizen)
	now := time.Now().UTC()
	orig := e.putReport(t, "first0000000000a", "pothole", "medium", 32.8, 35.0, now.Add(-time.Hour))
	related := e.putReport(t, "other000000000aa", "crack", "low", 32.8003, 35.0, now.Add(-2*time.Hour)) // about 33 m
	e.putReport(t, "other000000000ab", "flooding", "low", 32.8001, 35.0, now)                           // unrelated type
	e.putReport(t, "other000000000ac", "pothole", "low", 32.805, 35.0, now)                             // about 560 m: too far
	rejected := e.putReport(t, ru.ID, "sign", "low", 33.5, 35.5, now)
	if _, err := e.life.Transition(t.Context(), testMod, rejected.ID, 0, hazard.Reject, "not a hazard", ""); err != nil {
		t.Fatal(err)
	}
	v := reportFields("pothole", 32.8001, 35.0)
	v.Set("confirm_distinct", "1")
	dup := reportIDFrom(t, func() *http.Response { r, _ := reporter.postReport(v); return r }())
	if resp, _ := fan.post("/reports/"+dup+"/follow", url.Values{"follow": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatal("follow")
	}
	if resp, _ := fan.post("/reports/"+dup+"/confirm", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatal("confirm")
	}

	_, body := mod.get("/moderation")
	row := doc(t, body).Find("#mod-" + dup)
	facts := row.Find(`[data-testid="row-facts"]`).Text()
	if !strings.Contains(facts, "nearest similar open report 11 m away") || !strings.Contains(facts, "reporter: 1 of 2 reports rejected") ||
		!strings.Contains(facts, "1 confirmation") {
		t.Fatalf("row facts: %q", facts)
	}
	var cands []string
	row.Find(`[data-testid="duplicate-of"]`).Each(func(_ int, s *goquery.Selection) { c, _ := s.Attr("data-candidate"); cands = append(cands, c) })
	if len(cands) != 2 || cands[0] != orig.ID || cands[1] != related.ID {
		t.Fatalf("candidates %v, want the pothole then the crack (the flooding is unrelated, the far pothole out of reach)", cands)
	}
	// The candidate's own form, as the button sends it (over htmx: the row comes back in place).
	form := row.Find(`[data-testid="candidate"]`).First().Find("form")
	vals := url.Values{}
	form.Find("input").Each(func(_ int, s *goquery.Selection) { n, _ := s.Attr("name"); val, _ := s.Attr("value"); vals.Set(n, val) })
	action, _ := form.Attr("action")
	resp, frag := mod.post(action, vals, "HX-Request", "true")
	if resp.StatusCode != 200 || !strings.Contains(frag, `data-testid="queue-status">Duplicate<`) {
		t.Fatalf("one-click duplicate: %d %s", resp.StatusCode, frag)
	}
	o, _ := e.store.Report(t.Context(), orig.ID)
	if o.Confirmations != 2 || len(o.Duplicates) != 1 {
		t.Fatalf("original: %d confirmations, duplicates %v", o.Confirmations, o.Duplicates)
	}
	if ok, _ := e.store.Follows(t.Context(), orig.ID, fu.ID); !ok {
		t.Fatal("the duplicate's follower does not follow the original")
	}
	e.drain(t)
	if m := e.mails(t, ru.Email); len(m) == 0 || !strings.Contains(m[len(m)-1].Subject, "already reported") {
		t.Fatalf("the reporter was not told: %+v", m)
	}
	entries, _, _ := e.store.AuditLog(t.Context(), store.AuditFilter{Target: dup}, "", 5)
	if len(entries) != 1 || entries[0].Action != "report.duplicate" || entries[0].Actor != modUser.ID {
		t.Fatalf("audit: %+v", entries)
	}
}

// Bulk actions: each selected report at the version its row showed; the answer says which
// changed, which someone else changed meanwhile, and which could not take the action.
func TestBulkModeration(t *testing.T) {
	e := newEnv(t)
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	now := time.Now().UTC()
	var ids []string
	for i := range 4 {
		ids = append(ids, e.putReport(t, "u", "crack", "low", 32.8+float64(i)*0.01, 35.0, now).ID)
	}
	// Meanwhile someone else starts work on ids[1] and rejects ids[2].
	if _, err := e.life.Transition(t.Context(), testMod, ids[1], 0, hazard.Start, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.life.Transition(t.Context(), testMod, ids[2], 0, hazard.Reject, "spam", ""); err != nil {
		t.Fatal(err)
	}
	vals := url.Values{"action": {"approve"}, "note": {"Checked on the ground"}, "back": {"tab=pending"}}
	for _, id := range ids {
		vals.Add("ids", id)
		vals.Set("version."+id, "1") // what the rows showed
	}
	vals.Set("version."+ids[2], "2") // this moderator had seen the rejection: approving is not possible
	resp, body := mod.post("/moderation/bulk", vals)
	d := doc(t, body)
	if resp.StatusCode != 200 || !strings.Contains(d.Find(`[data-testid="bulk-changed"]`).Text(), "2 reports changed") ||
		!strings.Contains(d.Find(`[data-testid="bulk-result"]`).Text(), ids[1]) ||
		!strings.Contains(d.Find(`[data-testid="bulk-stale"]`).Text(), "changed by someone else") ||
		!strings.Contains(d.Find(`[data-testid="bulk-refused"]`).Text(), "1 report") {
		t.Fatalf("bulk answer: %d %q", resp.StatusCode, d.Find(`[data-testid="bulk-result"]`).Text())
	}
	for i, want := range []hazard.Status{hazard.Open, hazard.InProgress, hazard.Rejected, hazard.Open} {
		r, _ := e.store.Report(t.Context(), ids[i])
		if r.Status != want {
			t.Errorf("report %d is %s, want %s", i, r.Status, want)
		}
	}
	entries, _, _ := e.store.AuditLog(t.Context(), store.AuditFilter{Action: "report.approve"}, "", 10)
	if len(entries) != 2 {
		t.Fatalf("%d approvals audited, want 2", len(entries))
	}
	// Rejecting needs the one note, for all of them; only three actions are offered in bulk.
	if resp, _ := mod.post("/moderation/bulk", url.Values{"action": {"reject"}, "ids": {ids[3]}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bulk reject without a note: %d", resp.StatusCode)
	}
	if resp, _ := mod.post("/moderation/bulk", url.Values{"action": {"duplicate"}, "ids": {ids[3]}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bulk duplicate: %d", resp.StatusCode)
	}
	if resp, _ := mod.post("/moderation/bulk", url.Values{"action": {"approve"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bulk with nothing selected: %d", resp.StatusCode)
	}
}

// Corrections of what a citizen wrote: each needs a reason; the public sees the new text only,
// moderators the original in the history; the indexes follow the type and the place; the reporter
// is told; every correction is audited.
func TestStaffCorrections(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	reporter, ru := e.signedIn(t, "Rex", store.RoleCitizen)
	stranger := e.client(t)
	id := reportIDFrom(t, func() *http.Response { r, _ := reporter.postReport(reportFields("pothole", 32.8, 35.0)); return r }())
	e.setDescription(t, id, "Hole outside number 12, call me on 0501234567")
	post := func(path string, vals url.Values) (*http.Response, string) {
		r, _ := e.store.Report(t.Context(), id)
		vals.Set("version", strconv.FormatInt(r.Version, 10))
		return mod.post("/moderation/reports/"+id+path, vals)
	}
	if resp, body := post("/description", url.Values{"description": {"Hole outside number 12"}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Give a reason") {
		t.Fatalf("a correction without a reason: %d", resp.StatusCode)
	}
	if resp, _ := post("/description", url.Values{"description": {"Hole outside number 12"}, "reason": {"We removed a phone number."}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d", resp.StatusCode)
	}
	if resp, _ := post("/type", url.Values{"type": {"manhole"}, "reason": {"It is a missing cover."}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("recategorise: %d", resp.StatusCode)
	}
	if resp, _ := post("/place", url.Values{"lat": {"32.81"}, "lng": {"35.01"}, "reason": {"The pin was a street off."}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("relocate: %d", resp.StatusCode)
	}
	if resp, _ := post("/place", url.Values{"lat": {"north"}, "lng": {"35.01"}, "reason": {"x"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("relocate to a word: %d", resp.StatusCode)
	}
	// The public page: the new text, no trace of the original or of the staff's entries.
	_, page := stranger.get("/reports/" + id)
	if strings.Contains(page, "0501234567") || !strings.Contains(page, "Hole outside number 12") || strings.Contains(page, "We removed a phone number") {
		t.Fatal("the public page shows the original or the staff's notes")
	}
	// Moderators see the original in the row's panel.
	_, panel := mod.get("/moderation/reports/"+id+"/panel", "HX-Request", "true")
	was := doc(t, panel).Find(`[data-testid="history-was"]`).Text()
	if !strings.Contains(was, "0501234567") || !strings.Contains(was, "pothole") || !strings.Contains(was, "32.800000,35.000000") {
		t.Fatalf("the panel's history lacks the originals: %q", was)
	}
	// Indexes follow: the queue's type filter and the map at the new place.
	_, body := mod.get("/moderation?type=manhole")
	if ids := rowIDs(t, body); len(ids) != 1 || ids[0] != id {
		t.Fatalf("type filter after re-categorising: %v", ids)
	}
	_, geo := stranger.get("/api/reports?bbox=35.005,32.805,35.015,32.815&status=pending,open")
	if !strings.Contains(geo, id) {
		t.Fatal("the map does not show the report at its new place")
	}
	e.drain(t)
	var corrected int
	for _, m := range e.mails(t, ru.Email) {
		if strings.Contains(m.Subject, "A moderator corrected your hazard report") {
			corrected++
			if !strings.Contains(m.Body, "Their reason:") {
				t.Errorf("correction mail without the reason: %s", m.Body)
			}
		}
	}
	if corrected != 3 {
		t.Fatalf("%d correction mails, want 3", corrected)
	}
	for _, a := range []string{"report.edit", "report.recategorise", "report.relocate"} {
		if entries, _, _ := e.store.AuditLog(t.Context(), store.AuditFilter{Action: a, Target: id}, "", 5); len(entries) != 1 {
			t.Errorf("%s: %d audit entries", a, len(entries))
		}
	}
	// Citizens cannot correct.
	if resp, _ := reporter.post("/moderation/reports/"+id+"/description", url.Values{"description": {"x"}, "reason": {"y"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("citizen correcting: %d", resp.StatusCode)
	}
}

// Hiding a photo takes it off the public page and API; moderators still see it.
func TestHidePhoto(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	reporter, _ := e.signedIn(t, "Rex", store.RoleCitizen)
	resp, _ := reporter.postReport(reportFields("pothole", 32.8, 35.0), upload{"a.png", phototest.PNG(t, 20, 20)})
	id := reportIDFrom(t, resp)
	r, _ := e.store.Report(t.Context(), id)
	if len(r.Photos) != 1 {
		t.Fatalf("photos %v", r.Photos)
	}
	ph := r.Photos[0]
	resp, frag := mod.post("/moderation/reports/"+id+"/photos/hide", url.Values{"photo": {ph}, "reason": {"A face is visible."}, "version": {"1"}, "panel": {"1"}}, "HX-Request", "true")
	if resp.StatusCode != 200 || doc(t, frag).Find(`[data-testid="hidden-photo"]`).Length() != 1 {
		t.Fatalf("hide: %d", resp.StatusCode)
	}
	_, api := e.client(t).get("/api/reports/" + id)
	if strings.Contains(api, ph) {
		t.Fatal("the API still lists the hidden photo")
	}
	if resp, _ := mod.post("/moderation/reports/"+id+"/photos/hide", url.Values{"photo": {ph}, "reason": {"again"}, "version": {"2"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("hiding a photo twice: %d", resp.StatusCode)
	}
}

// Assignment ("mine") and the staff's priority, both in the history and the audit log.
func TestAssignmentAndPriority(t *testing.T) {
	e := newEnv(t)
	mod, mu := e.signedIn(t, "Mia", store.RoleModerator)
	_, cu := e.signedIn(t, "Cid", store.RoleCitizen)
	now := time.Now().UTC()
	a := e.putReport(t, "u", "crack", "low", 32.8, 35.0, now.Add(-time.Hour))
	b := e.putReport(t, "u", "crack", "high", 32.9, 35.0, now)
	if resp, _ := mod.post("/moderation/reports/"+a.ID+"/assign", url.Values{"assignee": {"me"}, "version": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("assign to me: %d", resp.StatusCode)
	}
	if resp, _ := mod.post("/moderation/reports/"+b.ID+"/assign", url.Values{"assignee": {cu.ID}, "version": {"1"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("assign to a citizen: %d", resp.StatusCode)
	}
	_, body := mod.get("/moderation?tab=mine")
	if ids := rowIDs(t, body); len(ids) != 1 || ids[0] != a.ID {
		t.Fatalf("mine: %v", ids)
	}
	if got := doc(t, body).Find(`[data-testid="tab-mine"] [data-testid="tab-count"]`).Text(); got != "1" {
		t.Fatalf("mine count %q", got)
	}
	// P1 puts the low-severity report above the high one.
	if resp, _ := mod.post("/moderation/reports/"+a.ID+"/priority", url.Values{"priority": {"p1"}, "version": {"2"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("priority: %d", resp.StatusCode)
	}
	if resp, _ := mod.post("/moderation/reports/"+a.ID+"/priority", url.Values{"priority": {"p9"}, "version": {"3"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("unknown priority: %d", resp.StatusCode)
	}
	_, body = mod.get("/moderation")
	if ids := rowIDs(t, body); len(ids) != 2 || ids[0] != a.ID {
		t.Fatalf("order with P1: %v", ids)
	}
	_, panel := mod.get("/moderation/reports/"+a.ID+"/panel", "HX-Request", "true")
	hist := doc(t, panel).Find(`[data-testid="staff-history"]`).Text()
	if !strings.Contains(hist, "Assigned to Mia") || !strings.Contains(hist, "Priority set to P1 (urgent)") {
		t.Fatalf("history: %q", hist)
	}
	for _, act := range []string{"report.assign", "report.priority"} {
		if entries, _, _ := e.store.AuditLog(t.Context(), store.AuditFilter{Action: act, Actor: mu.ID}, "", 5); len(entries) != 1 {
			t.Errorf("%s: %d audit entries", act, len(entries))
		}
	}
	// Resolved work leaves "mine".
	if _, err := e.life.Transition(t.Context(), testMod, a.ID, 0, hazard.Resolve, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, body = mod.get("/moderation?tab=mine"); len(rowIDs(t, body)) != 0 {
		t.Fatal("a resolved report stays in mine")
	}
}

// "Report abuse" works for anyone who may see the report and feeds the abuse tab until a
// moderator dismisses it (or acts on the report).
func TestAbuseFlags(t *testing.T) {
	e := newEnv(t)
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	reporter, _ := e.signedIn(t, "Rex", store.RoleCitizen)
	anon := e.client(t)
	id := reportIDFrom(t, func() *http.Response { r, _ := reporter.postReport(reportFields("pothole", 32.8, 35.0)); return r }())
	_, page := anon.get("/reports/" + id)
	if doc(t, page).Find(`[data-testid="abuse"] form`).Length() != 1 {
		t.Fatal("no report abuse form on the public page")
	}
	if resp, _ := anon.post("/reports/"+id+"/abuse", url.Values{"reason": {"Insults a neighbour by name"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("abuse flag: %d", resp.StatusCode)
	}
	// Each public update has its own link; an update that does not exist cannot be flagged.
	_, other := e.signedIn(t, "Ola", store.RoleCitizen)
	withUpdate, err := e.life.AddUpdate(t.Context(), lifecycle.ActorOf(other), id, lifecycle.UpdateDraft{Text: "Rude words about the neighbours"})
	if err != nil {
		t.Fatal(err)
	}
	uid := withUpdate.Updates[0].ID
	_, page = anon.get("/reports/" + id)
	if doc(t, page).Find(`#update-`+uid+` [data-testid="abuse"] input[name="update"][value="`+uid+`"]`).Length() != 1 {
		t.Fatal("no report abuse form on the update")
	}
	if resp, frag := reporter.post("/reports/"+id+"/abuse", url.Values{"update": {uid}}, "HX-Request", "true"); resp.StatusCode != 200 || !strings.Contains(frag, "abuse-thanks") {
		t.Fatalf("abuse flag on an update: %d", resp.StatusCode)
	}
	if resp, _ := reporter.post("/reports/"+id+"/abuse", url.Values{"update": {"nosuchupdate"}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("abuse flag on an update that does not exist: %d", resp.StatusCode)
	}
	if resp, _ := anon.post("/reports/nosuchreport0000/abuse", url.Values{}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown report: %d", resp.StatusCode)
	}
	_, body := mod.get("/moderation?tab=abuse")
	if ids := rowIDs(t, body); len(ids) != 1 || ids[0] != id {
		t.Fatalf("abuse tab: %v", ids)
	}
	if !strings.Contains(doc(t, body).Find(`[data-testid="row-abuse"]`).Text(), "2 abuse reports") {
		t.Fatalf("row badge: %q", doc(t, body).Find(`[data-testid="row-abuse"]`).Text())
	}
	_, panel := mod.get("/moderation/reports/"+id+"/panel", "HX-Request", "true")
	if !strings.Contains(doc(t, panel).Find(`[data-testid="panel-abuse"]`).Text(), "Insults a neighbour by name") {
		t.Fatal("the panel does not list the flags")
	}
	r, _ := e.store.Report(t.Context(), id)
	if resp, _ := mod.post("/moderation/reports/"+id+"/abuse/dismiss", url.Values{"note": {"Not abusive"}, "version": {strconv.FormatInt(r.Version, 10)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("dismiss: %d", resp.StatusCode)
	}
	if _, body = mod.get("/moderation?tab=abuse"); len(rowIDs(t, body)) != 0 {
		t.Fatal("dismissed flags stay in the abuse tab")
	}
	// A report the asker may not see cannot be flagged (and its existence is not revealed).
	if _, err := e.life.Transition(t.Context(), testMod, id, 0, hazard.Reject, "duplicate photo", ""); err != nil {
		t.Fatal(err)
	}
	if resp, _ := anon.post("/reports/"+id+"/abuse", url.Values{}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("flagging a rejected report: %d", resp.StatusCode)
	}
}

// Response templates: admins write them per action; a moderator who picks one without typing a
// note sends its text (the reporter reads it on the timeline).
func TestResponseTemplates(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.signedIn(t, "Ada", store.RoleAdmin)
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	if resp, _ := admin.post("/admin/templates", url.Values{"action": {"approve"}, "title": {""}, "text": {"x"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("template without a name: %d", resp.StatusCode)
	}
	if resp, _ := admin.post("/admin/templates", url.Values{"action": {"explode"}, "title": {"x"}, "text": {"x"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("template for no action: %d", resp.StatusCode)
	}
	if resp, _ := admin.post("/admin/templates", url.Values{"action": {"reject"}, "title": {"Private land"}, "text": {"This is on private land; the owner must fix it."}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	ts, _ := e.store.Templates(t.Context())
	if len(ts) != 1 {
		t.Fatalf("templates %v", ts)
	}
	if resp, _ := mod.get("/admin/templates"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("moderators manage templates: %d", resp.StatusCode)
	}
	r := e.putReport(t, "u", "crack", "low", 32.8, 35.0, time.Now().UTC())
	_, body := mod.get("/moderation")
	if opt := doc(t, body).Find(`#tpl-` + r.ID + ` option[value="` + ts[0].ID + `"]`); opt.Length() != 1 {
		t.Fatal("the row does not offer the template")
	}
	resp, _ := mod.post("/moderation/reports/"+r.ID, url.Values{"action": {"reject"}, "template": {ts[0].ID}, "version": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reject with a template: %d", resp.StatusCode)
	}
	got, _ := e.store.Report(t.Context(), r.ID)
	if last := got.History[len(got.History)-1]; last.Note != ts[0].Text {
		t.Fatalf("note %q", last.Note)
	}
	if resp, _ := admin.post("/admin/templates/"+ts[0].ID+"/delete", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if ts, _ := e.store.Templates(t.Context()); len(ts) != 0 {
		t.Fatal("not deleted")
	}
}

// The keyboard shortcuts are on by default and switched off in /account (staff only).
func TestShortcutsSetting(t *testing.T) {
	e := newEnv(t)
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	citizen, _ := e.signedIn(t, "Cit", store.RoleCitizen)
	shortcuts := func() string {
		_, body := mod.get("/moderation")
		v, _ := doc(t, body).Find("#queue").Attr("data-shortcuts")
		return v
	}
	if s := shortcuts(); s != "on" {
		t.Fatalf("default %q", s)
	}
	_, acc := mod.get("/account")
	if doc(t, acc).Find(`[data-testid="shortcuts-off"]`).Length() != 1 {
		t.Fatal("no switch on the account page")
	}
	if resp, _ := mod.post("/account/shortcuts", url.Values{"shortcuts": {"0"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("switch off: %d", resp.StatusCode)
	}
	if s := shortcuts(); s != "off" {
		t.Fatalf("after switching off %q", s)
	}
	if _, acc := citizen.get("/account"); doc(t, acc).Find(`[data-testid="shortcuts-setting"]`).Length() != 0 {
		t.Fatal("citizens see the queue's setting")
	}
}

// The queue and the admin pages speak Hebrew: no string of the moderation catalog stays English.
func TestQueueInHebrew(t *testing.T) {
	e := newEnv(t)
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	e.putReport(t, "u", "crack", "low", 32.8, 35.0, time.Now().UTC())
	_, body := mod.get("/moderation?lang=he")
	d := doc(t, body)
	if d.Find("h1").Text() != "תור בדיקה" || !strings.Contains(d.Find(`[data-testid="queue-total"]`).Text(), "דיווח אחד") {
		t.Fatalf("title %q, total %q", d.Find("h1").Text(), d.Find(`[data-testid="queue-total"]`).Text())
	}
	for _, english := range []string{"Review queue", "Most urgent first", "Assign to me", "Correct it, and the full history", "Keyboard shortcuts"} {
		if strings.Contains(body, english) {
			t.Errorf("English on the Hebrew queue: %q", english)
		}
	}
}

// formOf is what a browser would send for a form on the page: its named inputs, checkboxes only
// when checked, plus the inputs outside it that name it (form="...").
func formOf(d *goquery.Document, f *goquery.Selection) url.Values {
	v := url.Values{}
	add := func(_ int, in *goquery.Selection) {
		name, _ := in.Attr("name")
		typ, _ := in.Attr("type")
		if _, checked := in.Attr("checked"); name == "" || (typ == "checkbox" && !checked) {
			return
		}
		val, _ := in.Attr("value")
		v.Add(name, val)
	}
	f.Find("input").Each(add)
	if id, ok := f.Attr("id"); ok {
		d.Find(`input[form="` + id + `"]`).Each(add)
	}
	return v
}

// Issue 17's "done when": 200 pending reports, 30 of them duplicates of open reports close by,
// cleared with the page's own forms only (the candidate buttons and the bulk form, never a typed
// id): every duplicate lands on its original, the rest are approved, each report moved one version
// and every action is in the audit log.
func TestClearQueueOf200(t *testing.T) {
	e := newEnv(t)
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	now := time.Now().UTC()
	origOf := map[string]string{}
	var plain []string
	for i := range 30 {
		lat := 32.0 + float64(i)*0.01
		o := e.putReport(t, "u", "pothole", "medium", lat, 35.0, now.Add(-48*time.Hour))
		if _, err := e.life.Transition(t.Context(), testMod, o.ID, 0, hazard.Approve, "", ""); err != nil {
			t.Fatal(err)
		}
		origOf[e.putReport(t, "u", "pothole", "high", lat+0.0001, 35.0, now.Add(-time.Duration(i)*time.Minute)).ID] = o.ID // about 11 m
	}
	for i := range 170 {
		plain = append(plain, e.putReport(t, "u", "crack", []string{"low", "medium", "high"}[i%3], 33.0+float64(i)*0.01, 35.5, now.Add(-time.Duration(i)*time.Hour)).ID)
	}
	for round := 0; ; round++ {
		if round > 10 {
			t.Fatal("the queue does not empty")
		}
		_, body := mod.get("/moderation")
		d := doc(t, body)
		if d.Find(`[data-testid="queue-item"]`).Length() == 0 {
			break
		}
		d.Find(`[data-testid="queue-item"]`).Each(func(_ int, row *goquery.Selection) {
			if btn := row.Find(`[data-testid="duplicate-of"]`).First(); btn.Length() == 1 {
				f := btn.Closest("form")
				action, _ := f.Attr("action")
				if resp, _ := mod.post(action, formOf(d, f)); resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("one-click duplicate: %d", resp.StatusCode)
				}
				return
			}
			row.Find(`[data-testid="row-select"]`).SetAttr("checked", "checked")
		})
		bulk := formOf(d, d.Find("#bulk-form"))
		if len(bulk["ids"]) == 0 {
			continue
		}
		bulk.Set("action", "approve")
		resp, answer := mod.post("/moderation/bulk", bulk)
		if resp.StatusCode != http.StatusOK || doc(t, answer).Find(`[data-testid="bulk-stale"], [data-testid="bulk-refused"]`).Length() != 0 {
			t.Fatalf("bulk approve: %d %q", resp.StatusCode, doc(t, answer).Find(`[data-testid="bulk-result"]`).Text())
		}
	}
	for dup, orig := range origOf {
		r, _ := e.store.Report(t.Context(), dup)
		if r.Status != hazard.Duplicate || r.DuplicateOf != orig || r.Version != 2 {
			t.Fatalf("duplicate %s: %s of %q, version %d", dup, r.Status, r.DuplicateOf, r.Version)
		}
	}
	for _, id := range plain {
		if r, _ := e.store.Report(t.Context(), id); r.Status != hazard.Open || r.Version != 2 {
			t.Fatalf("report %s: %s, version %d", id, r.Status, r.Version)
		}
	}
	approved, _, _ := e.store.AuditLog(t.Context(), store.AuditFilter{Action: "report.approve"}, "", 500)
	dups, _, _ := e.store.AuditLog(t.Context(), store.AuditFilter{Action: "report.duplicate"}, "", 500)
	if len(approved) != 170 || len(dups) != 30 {
		t.Fatalf("audited: %d approvals, %d duplicates", len(approved), len(dups))
	}
}
