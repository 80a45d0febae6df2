package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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

// The statistics agree with themselves and with the documents: after seeded reports (whole
// histories at once) and a random sequence of creates and moderators' actions whose events are
// each applied twice, every day's numbers, the reports per status now, the median times to
// resolution and to a first action, and the actions per moderator equal a recount from the
// documents; the headline figures are the table's sums; and a repair rebuilds the same.
func TestStatsAgreeWithThemselves(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(42, 7))
	now := time.Now().UTC()
	types := []string{"pothole", "crack", "ice"}
	var ids []string
	// Seeded: made 3 to 25 days ago; some approved a day later and resolved a day after that.
	var seeded []*Report
	for i := 0; i < 60; i++ {
		created := now.Add(-time.Duration(3+rng.IntN(22)) * 24 * time.Hour)
		r := newReport(fmt.Sprint("seeduser", rng.IntN(10)), types[rng.IntN(3)], 32+rng.Float64(), 35+rng.Float64())
		r.ID, r.CreatedAt, r.UpdatedAt = NewReportID(), created, created
		r.History = []Change{{At: created, By: r.ReporterID, To: hazard.Pending}}
		if i%3 > 0 {
			r.History = append(r.History, Change{At: created.Add(24 * time.Hour), By: "seedmod", Action: hazard.Approve, From: hazard.Pending, To: hazard.Open, Staff: true})
			r.Status = hazard.Open
		}
		if i%3 == 2 {
			r.History = append(r.History, Change{At: created.Add(48 * time.Hour), By: "seedmod", Action: hazard.Resolve, From: hazard.Open, To: hazard.Resolved, Staff: true})
			r.Status = hazard.Resolved
		}
		seeded = append(seeded, r)
		ids = append(ids, r.ID)
	}
	if err := s.SeedReports(ctx, seeded); err != nil {
		t.Fatal(err)
	}
	actions := []hazard.Action{hazard.Approve, hazard.Reject, hazard.Start, hazard.Resolve, hazard.Reopen}
	for i := 0; i < 300; i++ {
		if rng.IntN(3) == 0 {
			r := newReport(fmt.Sprint("user", rng.IntN(20)), types[rng.IntN(3)], 32+rng.Float64(), 35+rng.Float64())
			r.ID = NewReportID()
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
		a := actions[rng.IntN(len(actions))]
		next, ok := hazard.Next(cur.Status, a)
		if !ok {
			continue
		}
		mod := []string{"mod1", "mod2", "mod3"}[rng.IntN(3)]
		r := *cur
		at := time.Now().UTC()
		r.History = append(slices.Clone(cur.History), Change{At: at, By: mod, Action: a, From: cur.Status, To: next, Staff: true})
		r.Status, r.UpdatedAt = next, at
		ev := Event{Kind: "report.status_changed", Actor: mod, At: at, Data: map[string]string{"to": string(next), "staff": "1"}}
		if err := s.UpdateReport(ctx, cur, &r, ev); err != nil {
			t.Fatal(err)
		}
	}
	// Every event, twice: a redelivery must count nothing again.
	evs := allEvents(t, s)
	for _, e := range append(evs, evs...) {
		if err := s.ApplyStats(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	check := func(label string) {
		t.Helper()
		st, err := s.Statistics(ctx, now, 30)
		if err != nil {
			t.Fatal(err)
		}
		// The recount, from the documents.
		type dayCounts struct {
			created, changes map[string]int64
			byType, byStaff  map[string]int64
		}
		days := map[string]*dayCounts{}
		at := func(tm time.Time) *dayCounts {
			d := tm.UTC().Format("2006-01-02")
			if days[d] == nil {
				days[d] = &dayCounts{created: map[string]int64{}, changes: map[string]int64{}, byType: map[string]int64{}, byStaff: map[string]int64{}}
			}
			return days[d]
		}
		nowCount := map[hazard.Status]int64{}
		reporters := map[string]bool{}
		staff := map[string]int64{}
		var resolveSecs, firstSecs []float64
		for _, id := range ids {
			r, err := s.Report(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			at(r.CreatedAt).created[""]++
			reporters[r.ReporterID] = true
			at(r.CreatedAt).byType[r.Type]++
			nowCount[r.Status]++
			first := true
			for _, h := range r.History[1:] {
				at(h.At).changes[string(h.To)]++
				at(h.At).byStaff[h.By]++
				if h.At.UTC().Format("2006-01-02") >= st.Days[0].Day {
					staff[h.By]++
				}
				if first {
					firstSecs, first = append(firstSecs, h.At.Sub(r.CreatedAt).Seconds()), false
				}
			}
			if r.Status == hazard.Resolved {
				last := r.History[len(r.History)-1]
				resolveSecs = append(resolveSecs, last.At.Sub(r.CreatedAt).Seconds())
			}
		}
		var sumCreated, sumResolved int64
		for _, d := range st.Days {
			sumCreated += d.Created
			sumResolved += d.ByStatus[string(hazard.Resolved)]
			want := days[d.Day]
			if want == nil {
				if d.Created != 0 || len(d.ByStatus) != 0 {
					t.Errorf("%s: %s counts %+v, recount nothing", label, d.Day, d)
				}
				continue
			}
			if d.Created != want.created[""] || !maps.Equal(d.ByType, want.byType) || !maps.Equal(d.ByStatus, want.changes) || !maps.Equal(d.ByStaff, want.byStaff) {
				t.Errorf("%s: %s: %+v, recount created %d types %v changes %v staff %v", label, d.Day, d, want.created[""], want.byType, want.changes, want.byStaff)
			}
		}
		if st.Created != sumCreated || st.Resolved != sumResolved || !maps.Equal(st.ByStaff, staff) {
			t.Errorf("%s: headline %d reported, %d resolved, staff %v; the table sums %d, %d; recount %v", label, st.Created, st.Resolved, st.ByStaff, sumCreated, sumResolved, staff)
		}
		if st.Reporters30d != int64(len(reporters)) { // HyperLogLog is exact at this size
			t.Errorf("%s: %d reporters, recount %d", label, st.Reporters30d, len(reporters))
		}
		if !maps.Equal(st.Now, nowCount) || st.Open != nowCount[hazard.Pending]+nowCount[hazard.Open]+nowCount[hazard.InProgress] {
			t.Errorf("%s: now %v (open %d), recount %v", label, st.Now, st.Open, nowCount)
		}
		median := func(xs []float64) time.Duration {
			slices.Sort(xs)
			return time.Duration(xs[len(xs)/2] * float64(time.Second))
		}
		near := func(a, b time.Duration) bool { return a-b < time.Second && b-a < time.Second }
		if st.Resolutions != int64(len(resolveSecs)) || !near(st.MedianResolve, median(resolveSecs)) {
			t.Errorf("%s: %d resolutions, median %v; recount %d, %v", label, st.Resolutions, st.MedianResolve, len(resolveSecs), median(resolveSecs))
		}
		if st.FirstActions != int64(len(firstSecs)) || !near(st.MedianFirstAction, median(firstSecs)) {
			t.Errorf("%s: %d first actions, median %v; recount %d, %v", label, st.FirstActions, st.MedianFirstAction, len(firstSecs), median(firstSecs))
		}
	}
	check("from events and seeding")
	if _, err := s.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	check("after a repair")
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
