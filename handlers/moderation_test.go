package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

func TestModerationWorkflow(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	citizen, _ := e.signedIn(t, "Cara", store.RoleCitizen)
	mod, modUser := e.signedIn(t, "Moe", store.RoleModerator)
	id := reportIDFrom(t, func() *http.Response { r, _ := citizen.postReport(reportFields("pothole", 32.8, 35.0)); return r }())

	_, queue := mod.get("/moderation")
	if !strings.Contains(queue, "mod-"+id) {
		t.Fatal("the new report is not in the review queue")
	}
	act := func(c *client, action, note, dup string, version int64, headers ...string) (*http.Response, string) {
		return c.post("/moderation/reports/"+id, url.Values{"action": {action}, "note": {note}, "duplicate_of": {dup}, "version": {strconv.FormatInt(version, 10)}}, headers...)
	}
	// Reject needs a reason; illegal steps get a clear answer.
	if resp, body := act(mod, "reject", "", "", 1); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Give a reason") {
		t.Fatalf("reject without reason: %d", resp.StatusCode)
	}
	if resp, body := act(mod, "reopen", "", "", 1); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "not possible from unverified") {
		t.Fatalf("illegal step: %d", resp.StatusCode)
	}
	if resp, _ := act(mod, "destroy", "", "", 1); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("unknown action: %d", resp.StatusCode)
	}
	// Approve with a note, over htmx: the row comes back in place.
	resp, body := act(mod, "approve", "Thanks, we have sent a crew.", "", 1, "HX-Request", "true")
	if resp.StatusCode != 200 || strings.Contains(body, "<html") || !strings.Contains(body, `data-testid="queue-status">Open<`) {
		t.Fatalf("approve: %d %s", resp.StatusCode, body)
	}
	// The citizen sees the new status and the note on the timeline.
	_, page := citizen.get("/reports/" + id)
	if doc(t, page).Find(`[data-testid="status"]`).Text() != "Open" || !strings.Contains(doc(t, page).Find(`[data-testid="timeline"]`).Text(), "Thanks, we have sent a crew.") {
		t.Fatal("the reporter does not see the approval and its note")
	}
	// A stale form (version 1) loses: "changed by someone else".
	if resp, body := act(mod, "resolve", "", "", 1); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "changed by someone else") {
		t.Fatalf("stale version: %d", resp.StatusCode)
	}
	if resp, _ := act(mod, "resolve", "Filled", "", 2); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resolve: %d", resp.StatusCode)
	}
	// Every action is in the audit log.
	entries, _, err := e.store.AuditLog(t.Context(), store.AuditFilter{Target: id}, "", 10)
	if err != nil || len(entries) != 2 || entries[0].Action != "report.resolve" || entries[1].Action != "report.approve" ||
		entries[1].Actor != modUser.ID || entries[1].Note != "Thanks, we have sent a crew." || entries[1].IP == "" {
		t.Fatalf("audit: %+v %v", entries, err)
	}
	// Citizens cannot moderate.
	if resp, _ := act(citizen, "reopen", "", "", 3); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("citizen moderating: %d", resp.StatusCode)
	}
}

// Two moderators act on one report at once: one wins, the other is told to reload.
func TestModerationRace(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	citizen, _ := e.signedIn(t, "Dee", store.RoleCitizen)
	id := reportIDFrom(t, func() *http.Response { r, _ := citizen.postReport(reportFields("crack", 32.8, 35.0)); return r }())
	mods := []*client{}
	for _, n := range []string{"Mia", "Max", "Mel", "Mo"} {
		c, _ := e.signedIn(t, n, store.RoleModerator)
		mods = append(mods, c)
	}
	var wg sync.WaitGroup
	codes := make([]int, len(mods))
	for i, c := range mods {
		wg.Add(1)
		go func(i int, c *client) {
			defer wg.Done()
			action := []string{"approve", "reject", "start", "resolve"}[i]
			resp, _ := c.post("/moderation/reports/"+id, url.Values{"action": {action}, "note": {"by " + action}, "version": {"1"}})
			codes[i] = resp.StatusCode
		}(i, c)
	}
	wg.Wait()
	won := 0
	for _, code := range codes {
		switch code {
		case http.StatusSeeOther:
			won++
		case http.StatusConflict:
		default:
			t.Fatalf("codes %v", codes)
		}
	}
	r, _ := e.store.Report(t.Context(), id)
	if won != 1 || r.Version != 2 || len(r.History) != 2 {
		t.Fatalf("won %d, version %d, history %d", won, r.Version, len(r.History))
	}
}

func TestMarkDuplicate(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	a, _ := e.signedIn(t, "Ann", store.RoleCitizen)
	b, bUser := e.signedIn(t, "Ben", store.RoleCitizen)
	conf, _ := e.signedIn(t, "Col", store.RoleCitizen)
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	orig := reportIDFrom(t, func() *http.Response { r, _ := a.postReport(reportFields("tree", 32.8, 35.0)); return r }())
	v := reportFields("tree", 32.8, 35.0)
	v.Set("confirm_distinct", "1")
	dup := reportIDFrom(t, func() *http.Response { r, _ := b.postReport(v); return r }())
	conf.post("/reports/"+dup+"/confirm", url.Values{})

	for _, bad := range []string{"", dup, "nosuchreport0000"} {
		if resp, _ := mod.post("/moderation/reports/"+dup, url.Values{"action": {"duplicate"}, "duplicate_of": {bad}, "version": {"1"}}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("duplicate_of %q: %d", bad, resp.StatusCode)
		}
	}
	if resp, _ := mod.post("/moderation/reports/"+dup, url.Values{"action": {"duplicate"}, "duplicate_of": {orig}, "version": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("mark duplicate: %d", resp.StatusCode)
	}
	d, _ := e.store.Report(t.Context(), dup)
	o, _ := e.store.Report(t.Context(), orig)
	if d.Status != hazard.Duplicate || d.DuplicateOf != orig || len(o.Duplicates) != 1 || o.Duplicates[0] != dup {
		t.Fatalf("links: dup %s -> %q, orig lists %v", d.Status, d.DuplicateOf, o.Duplicates)
	}
	// The duplicate's confirmation and its reporter now count for the original.
	if o.Confirmations != 2 {
		t.Fatalf("original has %d confirmations, want 2", o.Confirmations)
	}
	if ok, _ := e.store.Confirmed(t.Context(), orig, bUser.ID); !ok {
		t.Fatal("the duplicate's reporter does not count for the original")
	}
	_, page := b.get("/reports/" + dup)
	if !strings.Contains(page, "/reports/"+orig) {
		t.Fatal("the duplicate's page does not link to the original")
	}
}

func TestAuditPage(t *testing.T) {
	e := newEnv(t)
	admin, adminUser := e.signedIn(t, "Ada", store.RoleAdmin)
	_, body := admin.get("/admin/audit")
	rows := doc(t, body).Find(`[data-testid="audit-row"]`)
	if rows.Length() == 0 || !strings.Contains(rows.Text(), "user.signin") || !strings.Contains(rows.Text(), adminUser.ID) {
		t.Fatalf("audit page: %q", rows.Text())
	}
	_, body = admin.get("/admin/audit?action=report.")
	if doc(t, body).Find(`[data-testid="audit-row"]`).Length() != 0 {
		t.Fatal("the action filter does not filter")
	}
	if resp, _ := admin.get("/admin/audit?actor=" + strings.Repeat("x", 41)); resp.StatusCode != http.StatusBadRequest {
		t.Fatal("long filter accepted")
	}
}

// A status change queues one mail for the reporter and one per follower, none for the person
// who made it or anyone who switched mails off.
func TestStatusMailsQueued(t *testing.T) {
	e := newEnv(t, "DATA_DIR", t.TempDir())
	reporter, ru := e.signedIn(t, "Rex", store.RoleCitizen)
	follower, fu := e.signedIn(t, "Fen", store.RoleCitizen)
	quiet, qu := e.signedIn(t, "Qin", store.RoleCitizen)
	mod, mu := e.signedIn(t, "Mod", store.RoleModerator)
	id := reportIDFrom(t, func() *http.Response { r, _ := reporter.postReport(reportFields("sign", 32.8, 35.0)); return r }())
	for _, c := range []*client{follower, quiet} {
		if resp, _ := c.post("/reports/"+id+"/follow", url.Values{"follow": {"1"}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("follow: %d", resp.StatusCode)
		}
	}
	if resp, _ := quiet.post("/account/notifications", url.Values{"notify": {"0"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("notifications off: %d", resp.StatusCode)
	}
	mod.post("/reports/"+id+"/follow", url.Values{"follow": {"1"}})
	mod.post("/moderation/reports/"+id, url.Values{"action": {"approve"}, "note": {"On the list"}, "version": {"1"}})

	e.drain(t)
	to := map[string]int{}
	var msgs []sentMail
	for _, u := range []*store.User{ru, fu, qu, mu} {
		msgs = append(msgs, e.mails(t, u.Email)...)
	}
	for _, m := range msgs {
		to[m.To]++
		if !strings.Contains(m.Body, "On the list") || !strings.Contains(m.Link, "/reports/"+id) {
			t.Errorf("mail: %+v", m)
		}
	}
	if len(msgs) != 2 || to[fu.Email] != 1 {
		t.Fatalf("queued: %v", to)
	}
	_, page := follower.get("/reports/" + id)
	if doc(t, page).Find(`[data-testid="unfollow"]`).Length() != 1 {
		t.Fatal("the page does not show that the user follows it")
	}
}

func TestModerationQueueFilters(t *testing.T) {
	e := newEnv(t)
	mod, _ := e.signedIn(t, "Mod", store.RoleModerator)
	now := time.Now().UTC()
	for i, sev := range []string{"low", "high", "high"} {
		r := &store.Report{ID: store.NewReportID(), Type: "pothole", Severity: sev, Lat: 32.8 + float64(i), Lng: 35.0,
			Status: hazard.Pending, ReporterID: "u", Photos: []string{}, CreatedAt: now, UpdatedAt: now}
		if _, _, err := e.store.CreateReport(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	count := func(q string) int {
		resp, body := mod.get("/moderation" + q)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", q, resp.StatusCode)
		}
		return doc(t, body).Find(`[data-testid="queue-item"]`).Length()
	}
	if n := count(""); n != 3 {
		t.Fatalf("all: %d", n)
	}
	if n := count("?severity=high"); n != 2 {
		t.Fatalf("high: %d", n)
	}
	if n := count("?bbox=34.9,32.7,35.1,33.0"); n != 1 {
		t.Fatalf("area: %d", n)
	}
	for _, bad := range []string{"?severity=extreme", "?bbox=1,2", "?status=lost", "?type=volcano"} {
		if resp, _ := mod.get("/moderation" + bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, resp.StatusCode)
		}
	}
}
