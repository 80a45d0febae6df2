package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"hazardwatch/config"
	"hazardwatch/hazard"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

func newService(t *testing.T, moderation string) (*Service, *store.Store) {
	t.Helper()
	cfg := config.Redis{}
	if os.Getenv("HW_TEST_REDIS") == "cluster" {
		c := redistest.StartCluster(t, 3)
		cfg.Addrs, cfg.Cluster = c.Addrs(), true
		cfg.Username, cfg.Password = "app", c.ACL.Passwords["app"] // as the app runs
	} else {
		cfg.URL = redistest.Start(t).URL()
	}
	rdb, err := store.Dial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	st := store.New(rdb)
	if err := st.EnsureGroup(context.Background(), store.EventsStream, "test"); err != nil {
		t.Fatal(err)
	}
	return New(st, nil, Config{Moderation: moderation, ReportExpiry: 48 * time.Hour, TooCloseRadius: 15}, slog.New(slog.DiscardHandler)), st
}

// events reads the kinds of the events written since the last call.
func events(t *testing.T, st *store.Store) []string {
	t.Helper()
	msgs, err := st.ReadGroup(context.Background(), store.EventsStream, "test", "t", 100, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		e, err := m.Event()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Kind)
	}
	return out
}

var (
	mod     = Actor{ID: "mod0000000000001", Role: store.RoleModerator}
	citizen = Actor{ID: "cit0000000000001", Role: store.RoleCitizen}
)

func draft(reporter string, lat, lng float64) Draft {
	return Draft{ID: store.NewReportID(), ReporterID: reporter, Type: "pothole", Severity: "high", Description: "Deep",
		Lat: lat, Lng: lng, HasPlace: true}
}

func create(t *testing.T, s *Service, d Draft) *store.Report {
	t.Helper()
	r, created, err := s.Create(context.Background(), d)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	return r
}

func kind(err error) Kind { return KindOf(err) }

func TestVisibility(t *testing.T) {
	for _, mode := range []string{"post", "pre"} {
		s, _ := newService(t, mode)
		owner := &store.User{ID: "owner00000000001", Role: store.RoleCitizen}
		other := &store.User{ID: "other00000000001", Role: store.RoleCitizen}
		moderator := &store.User{ID: "mod0000000000001", Role: store.RoleModerator}
		for _, st := range hazard.Statuses {
			want := st.Public() && !(mode == "pre" && st == hazard.Pending)
			if got := s.Visible(nil, st, owner.ID); got != want {
				t.Errorf("%s, %s, anonymous: %v", mode, st, got)
			}
			if got := s.Visible(other, st, owner.ID); got != want {
				t.Errorf("%s, %s, someone else: %v", mode, st, got)
			}
			if !s.Visible(owner, st, owner.ID) || !s.Visible(moderator, st, owner.ID) {
				t.Errorf("%s, %s: the owner and moderators see every report", mode, st)
			}
			if slices.Contains(s.VisibleStatuses(nil, hazard.Statuses), st) != want {
				t.Errorf("%s, %s: VisibleStatuses disagrees with Visible", mode, st)
			}
		}
	}
}

func TestCreateChecksAndEvents(t *testing.T) {
	s, st := newService(t, "post")
	ctx := context.Background()
	bad := Draft{ID: store.NewReportID(), Type: "volcano", Severity: "huge", Description: "a\x00b", Lat: 89, Lng: 0, HasPlace: true}
	_, _, err := s.Create(ctx, bad)
	var le *Error
	if !errors.As(err, &le) || le.Kind != Invalid || le.Fields["type"].IsZero() || le.Fields["severity"].IsZero() || le.Fields["description"].IsZero() || le.Fields["lat"].IsZero() {
		t.Fatalf("bad draft: %+v", err)
	}
	d := draft(citizen.ID, 32.8, 35.0)
	r := create(t, s, d)
	if got := events(t, st); !slices.Equal(got, []string{Created, Published}) {
		t.Fatalf("events under post-moderation: %v", got)
	}
	// The same submit again finds the report.
	if again, created, err := s.Create(ctx, d); err != nil || created || again.ID != r.ID {
		t.Fatalf("repeat: %v %v", created, err)
	}
	// Another report of the type within 15 m asks first, unless the reporter says it is another.
	near := draft(citizen.ID, 32.80005, 35.0)
	if _, _, err := s.Create(ctx, near); kind(err) != Conflict || len(err.(*Error).Close) != 1 {
		t.Fatalf("too close: %v", err)
	}
	near.AllowClose = true
	create(t, s, near)

	pre, pst := newService(t, "pre")
	create(t, pre, draft(citizen.ID, 32.8, 35.0))
	if got := events(t, pst); !slices.Equal(got, []string{Created}) {
		t.Fatalf("events under pre-moderation: %v", got)
	}
}

func TestTransitions(t *testing.T) {
	s, st := newService(t, "pre")
	ctx := context.Background()
	r := create(t, s, draft(citizen.ID, 32.8, 35.0))
	events(t, st)
	if _, err := s.Transition(ctx, citizen, r.ID, 0, hazard.Approve, "", ""); kind(err) != Forbidden {
		t.Fatalf("a citizen approving: %v", err)
	}
	if _, err := s.Transition(ctx, mod, r.ID, 0, hazard.Reject, "", ""); kind(err) != Invalid {
		t.Fatalf("reject without a reason: %v", err)
	}
	if _, err := s.Transition(ctx, mod, r.ID, 0, hazard.Reopen, "", ""); kind(err) != Conflict {
		t.Fatalf("reopen a pending report: %v", err)
	}
	if _, err := s.Transition(ctx, mod, r.ID, 0, hazard.Expire, "", ""); kind(err) != Invalid {
		t.Fatalf("a moderator expiring by hand: %v", err)
	}
	got, err := s.Transition(ctx, mod, r.ID, 1, hazard.Approve, "ok", "")
	if err != nil || got.Status != hazard.Open || got.Version != 2 {
		t.Fatalf("approve: %+v %v", got, err)
	}
	if ev := events(t, st); !slices.Equal(ev, []string{StatusChanged, Published}) {
		t.Fatalf("approving under pre-moderation: %v", ev)
	}
	if _, err := s.Transition(ctx, mod, r.ID, 1, hazard.Resolve, "", ""); !errors.Is(err, ErrChanged) {
		t.Fatalf("a stale version: %v", err)
	}
	if _, err := s.Withdraw(ctx, citizen, r.ID, 0); kind(err) != Conflict {
		t.Fatalf("withdraw after moderation: %v", err)
	}
	if _, err := s.Edit(ctx, citizen, r.ID, 0, "new"); kind(err) != Conflict {
		t.Fatalf("edit after moderation: %v", err)
	}
}

// Two moderators change one report at once: one wins, the others get ErrChanged.
func TestConcurrentTransitions(t *testing.T) {
	s, _ := newService(t, "post")
	r := create(t, s, draft(citizen.ID, 32.8, 35.0))
	var wg sync.WaitGroup
	results := make([]error, 10)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a := hazard.Approve
			if i%2 == 1 {
				a = hazard.Reject
			}
			_, results[i] = s.Transition(context.Background(), Actor{ID: fmt.Sprint("mod", i), Role: store.RoleModerator}, r.ID, 1, a, "note", "")
		}(i)
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, ErrChanged):
		default:
			t.Fatalf("unexpected: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d winners", wins)
	}
}

func TestOwnerEditAndWithdraw(t *testing.T) {
	s, _ := newService(t, "post")
	ctx := context.Background()
	r := create(t, s, draft(citizen.ID, 32.8, 35.0))
	if _, err := s.Edit(ctx, Actor{ID: "someone", Role: store.RoleCitizen}, r.ID, 0, "mine now"); kind(err) != Forbidden {
		t.Fatalf("someone else editing: %v", err)
	}
	if _, err := s.Edit(ctx, citizen, r.ID, 0, "bad\x07text"); kind(err) != Invalid {
		t.Fatalf("control characters: %v", err)
	}
	got, err := s.Edit(ctx, citizen, r.ID, 1, "  Deeper  ")
	if err != nil || got.Description != "Deeper" {
		t.Fatalf("edit: %+v %v", got, err)
	}
	got, err = s.Withdraw(ctx, citizen, r.ID, got.Version)
	if err != nil || got.Status != hazard.Withdrawn {
		t.Fatalf("withdraw: %+v %v", got, err)
	}
}

// Marking a duplicate links both reports and moves the confirmations (and the duplicate's
// reporter) to the original.
func TestDuplicates(t *testing.T) {
	s, st := newService(t, "post")
	ctx := context.Background()
	orig := create(t, s, draft("origreporter0001", 32.8, 35.0))
	d := draft("dupreporter00001", 32.80001, 35.0)
	d.AllowClose = true
	dup := create(t, s, d)
	if _, _, err := st.Confirm(ctx, dup.ID, "witness000000001", time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{dup.ID, "nosuchreport0000"} {
		if _, err := s.Transition(ctx, mod, dup.ID, 0, hazard.MarkDuplicate, "", bad); kind(err) != Invalid {
			t.Fatalf("duplicate of %s: %v", bad, err)
		}
	}
	got, err := s.Transition(ctx, mod, dup.ID, 0, hazard.MarkDuplicate, "same hole", orig.ID)
	if err != nil || got.Status != hazard.Duplicate || got.DuplicateOf != orig.ID {
		t.Fatalf("mark: %+v %v", got, err)
	}
	o, _ := st.Report(ctx, orig.ID)
	if !slices.Contains(o.Duplicates, dup.ID) || o.Confirmations != 2 {
		t.Fatalf("original: duplicates %v, %d confirmations", o.Duplicates, o.Confirmations)
	}
	// A closed original takes no duplicates.
	if _, err := s.Transition(ctx, mod, orig.ID, 0, hazard.Resolve, "", ""); err != nil {
		t.Fatal(err)
	}
	third := draft("third00000000001", 32.9, 35.1)
	r3 := create(t, s, third)
	if _, err := s.Transition(ctx, mod, r3.ID, 0, hazard.MarkDuplicate, "", orig.ID); kind(err) != Invalid {
		t.Fatalf("duplicate of a resolved report: %v", err)
	}
}

// Moving the pin and changing the type move the report in every index.
func TestRelocateAndRecategorise(t *testing.T) {
	s, st := newService(t, "post")
	ctx := context.Background()
	r := create(t, s, draft(citizen.ID, 32.8, 35.0))
	if _, err := s.Relocate(ctx, citizen, r.ID, 0, 32.9, 35.1, "x"); kind(err) != Forbidden {
		t.Fatalf("a citizen moving a pin: %v", err)
	}
	if _, err := s.Relocate(ctx, mod, r.ID, 0, 91, 0, "x"); kind(err) != Invalid {
		t.Fatalf("off the map: %v", err)
	}
	got, err := s.Relocate(ctx, mod, r.ID, 0, 32.9, 35.1, "the pin was on the wrong street")
	if err != nil || got.Lat != 32.9 {
		t.Fatalf("relocate: %+v %v", got, err)
	}
	if near, _ := st.Nearby(ctx, 32.9, 35.1, 20, "pothole"); len(near) != 1 {
		t.Fatal("not found at its new place")
	}
	if near, _ := st.Nearby(ctx, 32.8, 35.0, 20, "pothole"); len(near) != 0 {
		t.Fatal("still found at its old place")
	}
	got, err = s.Recategorise(ctx, mod, r.ID, 0, "flooding", "it is water, not a hole")
	if err != nil || got.Type != "flooding" || got.ExpiresAt.IsZero() {
		t.Fatalf("recategorise: %+v %v", got, err)
	}
	if near, _ := st.Nearby(ctx, 32.9, 35.1, 20, "flooding"); len(near) != 1 {
		t.Fatal("not found as its new type")
	}
	counts, err := st.GridCounts(ctx, []store.Cell{store.CellOf(13, 32.9, 35.1)}, store.GridQuery{Statuses: hazard.Statuses, Types: []string{"flooding"}})
	if err != nil || counts[store.CellOf(13, 32.9, 35.1)].Total().N() != 1 {
		t.Fatalf("the map's counts did not follow: %v %v", counts, err)
	}
}
