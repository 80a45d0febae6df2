package lifecycle

import (
	"context"
	"errors"
	"testing"

	"hazardwatch/hazard"
	"hazardwatch/store"
)

// Corrections keep the original for moderators only, mark the change as a moderator's, and refuse
// what changes nothing or comes without a reason.
func TestCorrectionsKeepTheOriginal(t *testing.T) {
	s, _ := newService(t, "post")
	ctx := context.Background()
	r := create(t, s, draft(citizen.ID, 32.8, 35.0))
	if _, err := s.EditDescription(ctx, citizen, r.ID, 0, "new", "why"); kind(err) != Forbidden {
		t.Fatalf("a citizen correcting: %v", err)
	}
	if _, err := s.EditDescription(ctx, mod, r.ID, 0, "Deep hole", ""); kind(err) != Invalid {
		t.Fatalf("no reason: %v", err)
	}
	if _, err := s.EditDescription(ctx, mod, r.ID, 0, "Deep", "why"); kind(err) != Invalid {
		t.Fatalf("nothing changed: %v", err)
	}
	got, err := s.EditDescription(ctx, mod, r.ID, 0, "Deep hole", "clearer")
	if err != nil {
		t.Fatal(err)
	}
	last := got.History[len(got.History)-1]
	if got.Description != "Deep hole" || last.Was != "Deep" || !last.Internal || !last.Staff || last.Note != "clearer" {
		t.Fatalf("history entry %+v", last)
	}
}

// A workflow action by a moderator counts as the staff's (statistics) and settles the public's
// abuse flags; flags are one per person and report.
func TestAbuseFlagsAndStaffActions(t *testing.T) {
	s, st := newService(t, "post")
	ctx := context.Background()
	r := create(t, s, draft(citizen.ID, 32.8, 35.0))
	viewer := &store.User{ID: "view000000000001", Role: store.RoleCitizen}
	for range 2 {
		if err := s.FlagAbuse(ctx, ActorOf(viewer), viewer, r.ID, "", "rude"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FlagAbuse(ctx, Actor{}, nil, r.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.FlagAbuse(ctx, Actor{}, nil, r.ID, "../../x", ""); kind(err) != NotFound {
		t.Fatalf("a malformed update id: %v", err)
	}
	got, _ := st.Report(ctx, r.ID)
	if len(got.Abuse) != 2 {
		t.Fatalf("%d flags, want 2 (one per signed-in person, and the signed-out one)", len(got.Abuse))
	}
	events(t, st)
	got, err := s.Transition(ctx, mod, r.ID, 0, hazard.Approve, "", "")
	if err != nil || len(got.Abuse) != 0 || !got.History[len(got.History)-1].Staff {
		t.Fatalf("approve: %+v %v", got, err)
	}
	if evs := events(t, st); len(evs) != 1 || evs[0] != StatusChanged {
		t.Fatalf("events %v", evs)
	}
}

// A bulk action checks each report on its own: stale versions and impossible steps are reported
// per report and do not stop the others.
func TestBulkTransition(t *testing.T) {
	s, _ := newService(t, "post")
	ctx := context.Background()
	a := create(t, s, draft(citizen.ID, 32.8, 35.0))
	b := create(t, s, draft(citizen.ID, 32.9, 35.0))
	c := create(t, s, draft(citizen.ID, 33.0, 35.0))
	if _, err := s.Transition(ctx, mod, b.ID, 0, hazard.Start, "", ""); err != nil {
		t.Fatal(err)
	}
	res, err := s.BulkTransition(ctx, mod, []BulkItem{{a.ID, 1}, {b.ID, 1}, {c.ID, 0}, {"nosuchreport0000", 0}}, hazard.Approve, "ok")
	if err != nil || len(res) != 4 {
		t.Fatalf("%v %v", res, err)
	}
	if res[0].Err != nil || res[0].Report.Status != hazard.Open || !errors.Is(res[1].Err, ErrChanged) || res[2].Err != nil || kind(res[3].Err) != NotFound {
		t.Fatalf("results %+v", res)
	}
	if _, err := s.BulkTransition(ctx, mod, []BulkItem{{a.ID, 0}}, hazard.MarkDuplicate, ""); kind(err) != Invalid {
		t.Fatalf("bulk duplicate: %v", err)
	}
	if _, err := s.BulkTransition(ctx, citizen, []BulkItem{{a.ID, 0}}, hazard.Resolve, ""); kind(err) != Forbidden {
		t.Fatalf("a citizen: %v", err)
	}
}
