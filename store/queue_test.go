package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"hazardwatch/hazard"
)

// queueReport is a report made at a given time, with a severity.
func queueReport(uid, typ, sev string, lat, lng float64, created time.Time) *Report {
	r := newReport(uid, typ, lat, lng)
	r.Severity, r.CreatedAt, r.UpdatedAt = sev, created, created
	r.History[0].At = created
	return r
}

// recountQueue is what a queue query must answer, computed from the documents (and, for a
// body's queue, from the body's own report index).
func recountQueue(t *testing.T, s *Store, ids []string, q QueueQuery, uid string) []string {
	t.Helper()
	rs, err := s.ReportsByID(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	var keep []*Report
	for _, r := range rs {
		if q.Body != "" {
			if sent, err := s.SentTo(t.Context(), r.ID, q.Body); err != nil {
				t.Fatal(err)
			} else if !sent {
				continue
			}
		}
		switch {
		case q.Flag == FlagAbuse && len(r.Abuse) == 0, q.Flag != "" && q.Flag != FlagAbuse && string(r.Attention) != q.Flag:
			continue
		case q.Assignee != "" && (r.Assignee != uid || !r.Status.Active()):
			continue
		case q.Flag == "" && q.Assignee == "" && r.Status != q.Status:
			continue
		case q.Type != "" && r.Type != q.Type, q.Severity != "" && r.Severity != q.Severity:
			continue
		case q.Box != nil && !q.Box.Contains(r.Lat, r.Lng):
			continue
		}
		keep = append(keep, r)
	}
	slices.SortStableFunc(keep, func(a, b *Report) int {
		switch q.Order {
		case Oldest:
			return a.CreatedAt.Compare(b.CreatedAt)
		case Newest:
			return b.CreatedAt.Compare(a.CreatedAt)
		}
		ua, ub := Urgency(a), Urgency(b)
		switch {
		case ua > ub:
			return -1
		case ua < ub:
			return 1
		}
		return 0
	})
	out := make([]string, len(keep))
	for i, r := range keep {
		out[i] = r.ID
	}
	return out
}

// readAll pages through a query and returns every id, checking each page is full but the last.
func readAll(t *testing.T, s *Store, q QueueQuery) ([]string, int64) {
	t.Helper()
	var all []string
	var total int64
	for page := 0; ; page++ {
		q.Offset, q.Count = page*7, 7
		ids, n, err := s.QueueIDs(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		total = n
		all = append(all, ids...)
		if len(ids) < 7 {
			if int64(len(all)) != n {
				t.Fatalf("page %d has %d ids but %d of %d were read: a page came back short", page, len(ids), len(all), n)
			}
			return all, total
		}
	}
}

// Every filter is answered by the queue's indexes: each page is full, the pages together are
// exactly the matching reports, in urgency order (or by time), through status changes,
// corrections, assignment, flags and a repair.
func TestQueueAnswersFiltersExactly(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(17, 3))
	types, sevs := []string{"pothole", "crack", "flooding"}, []string{"low", "medium", "high"}
	base := time.Now().UTC().Add(-30 * 24 * time.Hour)
	var ids []string
	for i := range 240 {
		r := queueReport(fmt.Sprint("u", rng.IntN(15)), types[rng.IntN(3)], sevs[rng.IntN(3)],
			32.7+rng.Float64()*0.2, 34.9+rng.Float64()*0.2, base.Add(time.Duration(rng.IntN(30*24*60))*time.Minute))
		r.ID = NewReportID()
		if i%40 == 0 {
			r.Status = hazard.Unconfirmed // a guest's report waiting for its mail: never in the queue
		}
		if _, _, err := s.CreateReport(ctx, r, Event{Kind: "report.created", Actor: r.ReporterID}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	// Changes: statuses, types, places, severity via priority, attention, abuse, assignment.
	statuses := []hazard.Status{hazard.Open, hazard.InProgress, hazard.Resolved, hazard.Rejected}
	for i, id := range ids {
		if i%40 == 0 {
			continue
		}
		change(t, s, id, func(r *Report) {
			switch i % 7 {
			case 0:
				r.Status = statuses[rng.IntN(len(statuses))]
			case 1:
				r.Type = types[rng.IntN(3)]
			case 2:
				r.Lat, r.Lng = 32.7+rng.Float64()*0.2, 34.9+rng.Float64()*0.2
			case 3:
				r.Priority = []string{"p1", "p3"}[rng.IntN(2)]
			case 4:
				r.Attention = []hazard.Attention{hazard.ReportedFixed, hazard.ReopenedByPublic}[rng.IntN(2)]
			case 5:
				r.Abuse = []AbuseFlag{{At: time.Now(), Reason: "rude"}}
			case 6:
				r.Assignee = []string{"mod1", "mod2"}[rng.IntN(2)]
			}
		})
	}
	for range 30 { // confirmations move urgency
		if _, _, err := s.Confirm(ctx, ids[1+rng.IntN(len(ids)-1)], fmt.Sprint("c", rng.IntN(40)), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	// Every third report was sent to one body: its staff's queue.
	body := &Body{ID: NewBodyID(), Name: "City", Types: types, Method: ByEmail, Email: "c@example.org", BBox: [4]float64{34.9, 32.7, 35.1, 32.9}}
	if err := s.SaveBody(ctx, body, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if i%3 != 0 {
			continue
		}
		d := Delivery{Body: body.ID, BodyName: body.Name, Via: ByEmail, Reason: "test", Queued: time.Now()}
		if _, err := s.QueueDelivery(ctx, id, d, false); err != nil {
			t.Fatal(err)
		}
		d.State, d.At = DeliverySent, time.Now()
		if err := s.UpdateDelivery(ctx, id, d); err != nil {
			t.Fatal(err)
		}
	}
	box := &BBox{MinLng: 34.95, MinLat: 32.75, MaxLng: 35.05, MaxLat: 32.85}
	queries := []QueueQuery{
		{Status: hazard.Pending, Body: body.ID},
		{Status: hazard.Pending, Body: body.ID, Type: "pothole", Order: Oldest},
		{Status: hazard.Open, Body: body.ID, Box: box},
		{Flag: FlagAbuse, Body: body.ID},
		{Assignee: "mod2", Body: body.ID},
		{Status: hazard.Pending},
		{Status: hazard.Pending, Type: "pothole"},
		{Status: hazard.Pending, Severity: "high", Order: Oldest},
		{Status: hazard.Pending, Type: "crack", Severity: "low", Order: Newest},
		{Status: hazard.Pending, Box: box},
		{Status: hazard.Pending, Box: box, Type: "flooding", Order: Oldest},
		{Status: hazard.Open},
		{Status: hazard.Rejected, Order: Newest},
		{Flag: FlagReportedFixed},
		{Flag: FlagReopened, Order: Oldest},
		{Flag: FlagAbuse, Severity: "medium"},
		{Assignee: "mod1"},
		{Assignee: "mod2", Type: "pothole"},
	}
	check := func(label string) {
		for _, q := range queries {
			uid := q.Assignee
			got, total := readAll(t, s, q)
			want := recountQueue(t, s, ids, q, uid)
			if !slices.Equal(got, want) || total != int64(len(want)) {
				t.Fatalf("%s: %+v: %d ids (total %d), recount %d\n got %v\nwant %v", label, q, len(got), total, len(want), got, want)
			}
		}
	}
	check("after changes")
	counts, err := s.QueueTabCounts(ctx, "mod1", "")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(recountQueue(t, s, ids, QueueQuery{Status: hazard.Pending}, "")); counts.Status[hazard.Pending] != int64(n) {
		t.Fatalf("pending tab counts %d, recount %d", counts.Status[hazard.Pending], n)
	}
	if n := len(recountQueue(t, s, ids, QueueQuery{Assignee: "mod1"}, "mod1")); counts.Mine != int64(n) || n == 0 {
		t.Fatalf("mine counts %d, recount %d", counts.Mine, n)
	}
	counts, err = s.QueueTabCounts(ctx, "mod1", body.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []hazard.Status{hazard.Pending, hazard.Open} {
		if n := len(recountQueue(t, s, ids, QueueQuery{Status: st, Body: body.ID}, "")); counts.Status[st] != int64(n) || n == 0 {
			t.Fatalf("the body's %s tab counts %d, recount %d", st, counts.Status[st], n)
		}
	}
	// A repair rebuilds the same queue from the documents.
	if _, err := s.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	check("after a repair")
}

// The default order puts what endangers people first: a new high-severity report above an old
// low one; within a severity, confirmations count like waiting; staff priority P1 above all,
// P3 below all.
func TestQueueUrgencyOrder(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC()
	mk := func(name, sev string, age time.Duration) string {
		r := queueReport("u-"+name, "pothole", sev, 32.8, 35.0, now.Add(-age))
		if _, _, err := s.CreateReport(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	oldLow := mk("oldlow", "low", 60*24*time.Hour)
	newHigh := mk("newhigh", "high", time.Minute)
	oldMedium := mk("oldmedium", "medium", 40*time.Hour)
	newMedium := mk("newmedium", "medium", 20*time.Hour)
	order := func() []string {
		ids, _, err := s.QueueIDs(ctx, QueueQuery{Status: hazard.Pending, Count: 10})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := order(); !slices.Equal(got, []string{newHigh, oldMedium, newMedium, oldLow}) {
		t.Fatalf("order %v", got)
	}
	// Three confirmations weigh a day (12 h x log2 4): they lift a medium report above one 20 h older.
	for _, u := range []string{"a", "b", "c"} {
		if _, _, err := s.Confirm(ctx, newMedium, u, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if got := order(); !slices.Equal(got, []string{newHigh, newMedium, oldMedium, oldLow}) {
		t.Fatalf("after confirmations %v", got)
	}
	change(t, s, oldLow, func(r *Report) { r.Priority = "p1" })
	change(t, s, newHigh, func(r *Report) { r.Priority = "p3" })
	if got := order(); !slices.Equal(got, []string{oldLow, newMedium, oldMedium, newHigh}) {
		t.Fatalf("with staff priorities %v", got)
	}
}

// The reporter's history counts their reports on the map and how many were rejected.
func TestReporterHistory(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	var ids []string
	for i := range 4 {
		r := newReport("rita", "pothole", 32.8+float64(i)*0.01, 35.0)
		r.ID = NewReportID()
		if _, _, err := s.CreateReport(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	for _, id := range ids[:2] {
		if _, err := transition(ctx, s, id, 0, hazard.Rejected, "mod", "no"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := transition(ctx, s, ids[1], 0, hazard.Open, "mod", "reopened"); err != nil {
		t.Fatal(err)
	}
	h, err := s.ReporterHistories(ctx, []string{"rita", "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if h["rita"] != (ReporterHistory{Reports: 4, Rejected: 1}) || h["nobody"] != (ReporterHistory{}) {
		t.Fatalf("histories %+v", h)
	}
}
