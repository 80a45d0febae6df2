package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"hazardwatch/hazard"
)

func newReport(uid, typ string, lat, lng float64) *Report {
	now := time.Now().UTC()
	return &Report{
		ID: ReportID(uid, ""), Type: typ, Severity: "medium", Description: "A " + typ + " near the school",
		Lat: lat, Lng: lng, Address: "near Haifa, IL", Status: hazard.Pending, ReporterID: uid,
		Photos: []string{}, CreatedAt: now, UpdatedAt: now,
		History: []Change{{At: now, By: uid, To: hazard.Pending}},
	}
}

// transition moves a report to status to through the write path, as a moderator's action does
// (whether the workflow allows it is lifecycle's rule, tested there). version 0: the current one.
func transition(ctx context.Context, s *Store, id string, version int64, to hazard.Status, by, note string) (*Report, error) {
	prev, err := s.Report(ctx, id)
	if err != nil {
		return nil, err
	}
	if version != 0 && version != prev.Version {
		return nil, ErrConflict
	}
	r := *prev
	now := time.Now().UTC()
	r.History = append(slices.Clone(prev.History), Change{At: now, By: by, From: prev.Status, To: to, Note: note})
	r.Status, r.UpdatedAt = to, now
	err = s.UpdateReport(ctx, prev, &r, Event{Kind: "report.status_changed", Actor: by, Note: note, Data: map[string]string{"to": string(to)}})
	return &r, err
}

func TestCreateReportIsIdempotent(t *testing.T) {
	s, srv := newStore(t)
	ctx := context.Background()
	r := newReport("u1", "pothole", 32.8, 35.0)
	r.ID = ReportID("u1", "form-key-1")
	if r.ID != ReportID("u1", "form-key-1") || r.ID == ReportID("u2", "form-key-1") || !ValidReportID(r.ID) {
		t.Fatal("ReportID must be stable per user and key")
	}
	got, created, err := s.CreateReport(ctx, r)
	if err != nil || !created || got.Version != 1 {
		t.Fatalf("create: %+v %v %v", got, created, err)
	}
	// The same submit again (a retry after a lost answer) finds the first report.
	again := newReport("u1", "pothole", 32.8, 35.0)
	again.ID = r.ID
	again.Description = "retried"
	got, created, err = s.CreateReport(ctx, again)
	if err != nil || created || got.Description != r.Description {
		t.Fatalf("retry: %+v %v %v", got, created, err)
	}
	c := srv.Client(t)
	if n, _ := c.ZCard(ctx, reportsByTimeKey).Result(); n != 1 {
		t.Fatalf("%d reports indexed", n)
	}
	loaded, err := s.Report(ctx, r.ID)
	if err != nil || loaded.Lat != 32.8 || loaded.Status != hazard.Pending || len(loaded.History) != 1 {
		t.Fatalf("load: %+v %v", loaded, err)
	}
	if _, err := s.Report(ctx, "nosuchreport0000"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

// Twenty users confirm at once: twenty confirmations. One user twice: one.
func TestConcurrentConfirmations(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	r := newReport("owner", "debris", 32.8, 35.0)
	r.ExpiresAt = time.Now().Add(time.Hour)
	if _, _, err := s.CreateReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func(i int) { defer wg.Done(); _, _, _ = s.Confirm(ctx, r.ID, fmt.Sprint("user", i), 48*time.Hour) }(i)
		go func(i int) { defer wg.Done(); _, _, _ = s.Confirm(ctx, r.ID, fmt.Sprint("user", i), 48*time.Hour) }(i)
	}
	wg.Wait()
	got, _ := s.Report(ctx, r.ID)
	if got.Confirmations != 20 {
		t.Fatalf("confirmations: %d, want 20", got.Confirmations)
	}
	first, n, err := s.Confirm(ctx, r.ID, "user3", time.Hour)
	if err != nil || first || n != 20 {
		t.Fatalf("a repeated confirmation: first=%v n=%d %v", first, n, err)
	}
	// Confirming pushed the expiry of this transient hazard forward.
	due, _ := s.DueForExpiry(ctx, time.Now().Add(2*time.Hour), 10)
	if len(due) != 0 {
		t.Fatalf("confirmed report still due: %v", due)
	}
}

// Two moderators change one report at once: one wins, the other gets ErrConflict, nothing lost.
func TestConcurrentStatusChanges(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	r := newReport("owner", "pothole", 32.8, 35.0)
	if _, _, err := s.CreateReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]error, 10)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			to := hazard.Open
			if i%2 == 1 {
				to = hazard.Rejected
			}
			_, results[i] = transition(ctx, s, r.ID, 1, to, fmt.Sprint("mod", i), "note")
		}(i)
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, ErrConflict):
		default:
			t.Fatalf("unexpected: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent changes won, want 1", wins)
	}
	got, _ := s.Report(ctx, r.ID)
	if got.Version != 2 || len(got.History) != 2 || got.History[1].From != hazard.Pending {
		t.Fatalf("after the race: version %d history %+v", got.Version, got.History)
	}
}

func TestIndexesFollowStatus(t *testing.T) {
	s, srv := newStore(t)
	ctx := context.Background()
	r := newReport("owner", "flooding", 32.8, 35.0)
	if _, _, err := s.CreateReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := transition(ctx, s, r.ID, 0, hazard.Open, "mod", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := transition(ctx, s, r.ID, 0, hazard.Resolved, "mod", "fixed"); err != nil {
		t.Fatal(err)
	}
	c := srv.Client(t)
	for key, want := range map[string]int64{
		statusIndexKey("pending"): 0, statusIndexKey("open"): 0, statusIndexKey("resolved"): 1,
		geoKey("active"): 0, geoKey("closed"): 1, listKey(hazard.Resolved, "flooding"): 1, listKey(hazard.Resolved, ""): 1,
		listKey(hazard.Pending, "flooding"): 0, listKey(hazard.Open, ""): 0,
		userReportsKey("owner"): 1,
	} {
		if n, _ := c.ZCard(ctx, key).Result(); n != want {
			t.Errorf("%s has %d entries, want %d", key, n, want)
		}
	}
}

func TestListsAndNearby(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	base := time.Now().UTC().Add(-time.Hour)
	var ids []string
	for i := 0; i < 30; i++ {
		typ := "pothole"
		if i%3 == 0 {
			typ = "crack"
		}
		r := newReport(fmt.Sprint("user", i%2), typ, 32.8+float64(i)*0.0001, 35.0) // ~11 m apart
		r.CreatedAt = base.Add(time.Duration(i) * time.Minute)
		r.Description = fmt.Sprintf("hazard number %d", i)
		if _, _, err := s.CreateReport(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	all := []hazard.Status{hazard.Pending}
	list := func(q ListQuery) ListPage {
		t.Helper()
		if q.Statuses == nil {
			q.Statuses = all
		}
		if q.Limit == 0 {
			q.Limit = 50
		}
		res, err := s.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	page := list(ListQuery{Limit: 10})
	if len(page.Reports) != 10 || !page.More || page.Reports[0].ID != ids[29] {
		t.Fatalf("first page: %d more=%v", len(page.Reports), page.More)
	}
	page = list(ListQuery{Skip: 20, Limit: 10})
	if len(page.Reports) != 10 || page.More || page.Reports[9].ID != ids[0] {
		t.Fatalf("last page: %d more=%v", len(page.Reports), page.More)
	}
	cracks := list(ListQuery{Types: []string{"crack"}}).Reports
	mine := list(ListQuery{Reporter: "user1"}).Reports
	text := list(ListQuery{Text: "NUMBER 22"}).Reports // whole words: 22, not 2 or 220
	open := list(ListQuery{Statuses: []hazard.Status{hazard.Open}}).Reports
	if len(cracks) != 10 || len(mine) != 15 || len(text) != 1 || len(open) != 0 {
		t.Fatalf("filters: cracks %d mine %d text %d open %d", len(cracks), len(mine), len(text), len(open))
	}
	near, err := s.Nearby(ctx, 32.8, 35.0, 50, "pothole")
	if err != nil {
		t.Fatal(err)
	}
	// Potholes at i=1,2,4 are within 50 m (i*11 m); i=0 and 3 are cracks.
	if len(near) != 3 || near[0].ID != ids[1] || near[0].Metres > near[1].Metres {
		t.Fatalf("nearby: %d", len(near))
	}
}

func TestExpiryQueue(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	r := newReport("owner", "ice", 32.8, 35.0)
	r.ExpiresAt = time.Now().Add(-time.Minute)
	if _, _, err := s.CreateReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	due, err := s.DueForExpiry(ctx, time.Now(), 10)
	if err != nil || len(due) != 1 || due[0] != r.ID {
		t.Fatalf("due: %v %v", due, err)
	}
	if _, err := transition(ctx, s, r.ID, 0, hazard.Expired, "system", ""); err != nil {
		t.Fatal(err)
	}
	if due, _ = s.DueForExpiry(ctx, time.Now(), 10); len(due) != 0 {
		t.Fatal("an expired report is still queued")
	}
	ok1, _ := s.TryLock(ctx, "expiry", time.Minute)
	ok2, _ := s.TryLock(ctx, "expiry", time.Minute)
	if !ok1 || ok2 {
		t.Fatal("job lock")
	}
}

// After a random sequence of creates and status changes, the statistics counted from the event
// stream equal a recount from the documents, even when every event is delivered twice.
func TestStatsMatchRecount(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(42, 7))
	var ids []string
	types := []string{"pothole", "crack", "ice"}
	actions := []hazard.Action{hazard.Approve, hazard.Reject, hazard.Start, hazard.Resolve, hazard.Reopen}
	for i := 0; i < 300; i++ {
		if len(ids) == 0 || rng.IntN(3) == 0 {
			r := newReport(fmt.Sprint("user", rng.IntN(20)), types[rng.IntN(3)], 32+rng.Float64(), 35+rng.Float64())
			if _, _, err := s.CreateReport(ctx, r, Event{Kind: "report.created", Actor: r.ReporterID}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
			continue
		}
		id := ids[rng.IntN(len(ids))]
		cur, err := s.Report(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if next, ok := hazard.Next(cur.Status, actions[rng.IntN(len(actions))]); ok {
			if _, err := transition(ctx, s, id, 0, next, "mod", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Every event, twice: a redelivery must count nothing again.
	evs := allEvents(t, s)
	for _, e := range append(evs, evs...) {
		if err := s.ApplyStats(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Statistics(ctx, time.Now(), 30)
	if err != nil {
		t.Fatal(err)
	}
	// Recount from the documents.
	created, byType, reporters := int64(0), map[string]int64{}, map[string]bool{}
	changes := map[string]int64{}
	var open, resolved int64
	for _, id := range ids {
		r, err := s.Report(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		created++
		byType[r.Type]++
		reporters[r.ReporterID] = true
		for _, h := range r.History[1:] {
			changes[string(h.To)]++
		}
		switch {
		case r.Status.Active():
			open++
		case r.Status == hazard.Resolved:
			resolved++
		}
	}
	today := st.Days[len(st.Days)-1]
	if today.Created != created || st.Open != open || st.Resolved != resolved || st.Resolutions != resolved {
		t.Fatalf("created %d/%d open %d/%d resolved %d/%d resolutions %d", today.Created, created, st.Open, open, st.Resolved, resolved, st.Resolutions)
	}
	for typ, n := range byType {
		if today.ByType[typ] != n {
			t.Errorf("%s: %d, recount %d", typ, today.ByType[typ], n)
		}
	}
	for status, n := range changes {
		if today.ByStatus[status] != n {
			t.Errorf("changes to %s: %d, recount %d", status, today.ByStatus[status], n)
		}
	}
	if today.Reporters != int64(len(reporters)) || st.Reporters30d != int64(len(reporters)) { // HyperLogLog is exact at this size
		t.Errorf("reporters %d, recount %d", today.Reporters, len(reporters))
	}
	var areaTotal int64
	for _, a := range st.BusiestAreas {
		areaTotal += a.Count
	}
	if len(st.BusiestAreas) == 0 || areaTotal > created {
		t.Errorf("areas %v", st.BusiestAreas)
	}
}

// Issue 14: a report's history only grew. It keeps its first entry and the newest ones; the
// rest moves to the audit stream, in order, nothing lost.
func TestHistoryIsCappedAndArchived(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	r := newReport("u", "pothole", 32.8, 35.0)
	if _, _, err := s.CreateReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	const changes = MaxHistory + 11
	for i := 0; i < changes; i++ {
		to := hazard.Open
		if i%2 == 1 {
			to = hazard.Resolved
		}
		if _, err := transition(ctx, s, r.ID, 0, to, "mod", fmt.Sprint("change ", i)); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.Report(ctx, r.ID)
	if len(got.History) != MaxHistory || got.History[0].To != hazard.Pending || got.History[MaxHistory-1].Note != fmt.Sprint("change ", changes-1) {
		t.Fatalf("history: %d entries, first %v, last %q", len(got.History), got.History[0].To, got.History[len(got.History)-1].Note)
	}
	entries, _, err := s.AuditLog(ctx, AuditFilter{Action: "history.archived", Target: r.ID}, "", 100)
	if err != nil || len(entries) != changes+1-MaxHistory {
		t.Fatalf("%d archived entries, want %d (%v)", len(entries), changes+1-MaxHistory, err)
	}
	for i, e := range entries { // newest first
		var ch Change
		if err := json.Unmarshal([]byte(e.Note), &ch); err != nil || ch.Note != fmt.Sprint("change ", changes-MaxHistory-i) {
			t.Fatalf("archived entry %d: %q", i, e.Note)
		}
	}
}

// Repair rebuilds indexes a crash left out and drops entries whose document is gone.
func TestRepair(t *testing.T) {
	s, srv := newStore(t)
	ctx := context.Background()
	c := srv.Client(t)
	var ids []string
	for i := 0; i < 5; i++ {
		r := newReport("u", "pothole", 32.8+float64(i)*0.01, 35.0)
		if _, _, err := s.CreateReport(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	u := &User{Email: "adm@example.org", Name: "Adm", Role: RoleAdmin}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	// Damage: two reports lose index entries (a crash between document and indexes), one
	// document disappears, the user drops out of the lists.
	c.ZRem(ctx, reportsByTimeKey, ids[0], ids[1])
	c.ZRem(ctx, statusIndexKey("pending"), ids[1])
	c.ZRem(ctx, geoKey("active"), "pending:pothole:medium:"+ids[0])
	c.Del(ctx, reportKey(ids[4]))
	c.ZRem(ctx, usersKey, u.ID)
	c.SRem(ctx, adminsKey, u.ID)

	rep, err := s.Repair(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Documents != 4 || rep.Reindexed != 2 || rep.Stale != 1 || rep.UsersIndexed != 1 || rep.AdminsIndexed != 1 {
		t.Fatalf("repair: %+v", rep)
	}
	if n, _ := c.ZCard(ctx, reportsByTimeKey).Result(); n != 4 {
		t.Fatalf("time index has %d", n)
	}
	if near, _ := s.Nearby(ctx, 32.8, 35.0, 50, "pothole"); len(near) != 1 {
		t.Fatal("GEO entry not restored")
	}
	if rep, _ := s.Repair(ctx); rep.Reindexed != 0 || rep.Stale != 0 || rep.UsersIndexed != 0 {
		t.Fatalf("second repair: %+v", rep)
	}
}

// allEvents reads the whole event stream.
func allEvents(t *testing.T, s *Store) []Event {
	t.Helper()
	msgs, err := s.rdb.XRange(t.Context(), eventsKey, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		e, err := decodeEvent(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}
