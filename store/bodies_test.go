package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func testBody(name string, bbox [4]float64, types ...string) *Body {
	return &Body{ID: NewBodyID(), Name: name, Lang: "en", Types: types, Method: ByEmail, Email: "roads@example.org", BBox: bbox}
}

func bodyNames(bs []*Body) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Name)
	}
	slices.Sort(out)
	return out
}

// Bodies are found through the cells of their bounding boxes, whatever their size, and an update
// or a delete leaves no stale cell behind.
func TestBodiesNear(t *testing.T) {
	s, r := newStore(t)
	ctx := context.Background()
	city := testBody("City", [4]float64{34.95, 32.75, 35.05, 32.85}, "pothole")
	country := testBody("Roads Agency", [4]float64{34.2, 29.5, 35.9, 33.3}, "pothole", "sign")
	park := testBody("Park", [4]float64{34.99, 32.79, 34.995, 32.795}, "tree")
	for _, b := range []*Body{city, country, park} {
		if err := s.SaveBody(ctx, b, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	at := func(lat, lng float64) []string {
		t.Helper()
		bs, err := s.BodiesNear(ctx, lat, lng)
		if err != nil {
			t.Fatal(err)
		}
		return bodyNames(bs)
	}
	if got := at(32.792, 34.992); !slices.Equal(got, []string{"City", "Park", "Roads Agency"}) {
		t.Fatalf("in the park: %v", got)
	}
	if got := at(32.80, 35.04); !slices.Equal(got, []string{"City", "Roads Agency"}) {
		t.Fatalf("in the city: %v", got)
	}
	if got := at(31.0, 35.0); !slices.Equal(got, []string{"Roads Agency"}) {
		t.Fatalf("in the country: %v", got)
	}
	if got := at(40, 10); len(got) != 0 {
		t.Fatalf("far away: %v", got)
	}
	// The city moves: its old cells forget it.
	city.BBox = [4]float64{-0.2, 51.4, 0.0, 51.6}
	if err := s.SaveBody(ctx, city, nil); err != nil {
		t.Fatal(err)
	}
	if got := at(32.80, 35.04); !slices.Equal(got, []string{"Roads Agency"}) {
		t.Fatalf("after the move: %v", got)
	}
	if got := at(51.5, -0.1); !slices.Equal(got, []string{"City"}) {
		t.Fatalf("in its new place: %v", got)
	}
	if got, _ := s.Body(ctx, city.ID); got.Version != 2 || got.CreatedAt.IsZero() {
		t.Fatalf("version %d", got.Version)
	}
	if area, err := s.BodyArea(ctx, city.ID); err != nil || string(area) != `{}` {
		t.Fatalf("the area was kept: %q %v", area, err)
	}
	if err := s.DeleteBody(ctx, park.ID); err != nil {
		t.Fatal(err)
	}
	if got := at(32.792, 34.992); !slices.Equal(got, []string{"Roads Agency"}) {
		t.Fatalf("after deleting the park: %v", got)
	}
	if _, err := s.Body(ctx, park.ID); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	all, err := s.Bodies(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("list: %d %v", len(all), err)
	}
	if keys := r.Keys(t, "hw:body:*"); len(keys) != 4 {
		t.Fatalf("keys left: %v", keys)
	}
	if cells := r.Keys(t, "hw:bodies:cell:*"); len(cells) != len(country.Cells)+len(city.Cells) {
		t.Fatalf("cells left: %v (want %v and %v)", cells, country.Cells, city.Cells)
	}
	// A new body needs its area.
	if err := s.SaveBody(ctx, testBody("No area", [4]float64{0, 0, 1, 1}), nil); err == nil {
		t.Fatal("saved a body without an area")
	}
}

// One job per (report, body, reason): a redelivered event queues nothing new once sent, a body
// that has the report is not sent it again unless forced, and a stale job cannot overwrite the
// record of a newer one.
func TestQueueDeliveryIsIdempotent(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	rid, bid := NewReportID(), NewBodyID()
	if err := s.EnsureGroup(ctx, DeliveryStream, DeliveryGroup); err != nil {
		t.Fatal(err)
	}
	jobs := func() []DeliveryJob {
		t.Helper()
		msgs, err := s.ReadGroup(ctx, DeliveryStream, DeliveryGroup, "t", 100, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		var out []DeliveryJob
		for _, m := range msgs {
			out = append(out, DeliveryJobOf(m))
		}
		return out
	}
	d := Delivery{Body: bid, BodyName: "City", Via: ByEmail, Reason: rid + ":1:report.published", Queued: time.Now()}
	if err := s.MarkUnrouted(ctx, rid, time.Now()); err != nil {
		t.Fatal(err)
	}
	if made, err := s.QueueDelivery(ctx, rid, d, false); err != nil || !made {
		t.Fatalf("first: %v %v", made, err)
	}
	if unrouted, _ := s.IsUnrouted(ctx, rid); unrouted {
		t.Fatal("a queued report is still listed as unrouted")
	}
	// The same event again, before sending: the job is queued again (the sender drops the spare).
	if made, err := s.QueueDelivery(ctx, rid, d, false); err != nil || made {
		t.Fatalf("repeat: %v %v", made, err)
	}
	if got := jobs(); len(got) != 2 || got[0] != (DeliveryJob{rid, bid, d.Reason}) {
		t.Fatalf("jobs: %v", got)
	}
	d.State, d.At = DeliverySent, time.Now()
	if err := s.UpdateDelivery(ctx, rid, d); err != nil {
		t.Fatal(err)
	}
	// Once sent, neither the same event nor a later one (a relocation) sends it again.
	if made, _ := s.QueueDelivery(ctx, rid, d, false); made || len(jobs()) != 0 {
		t.Fatal("a sent delivery was queued again")
	}
	later := d
	later.Reason = rid + ":3:report.relocated"
	if made, _ := s.QueueDelivery(ctx, rid, later, false); made || len(jobs()) != 0 {
		t.Fatal("a body that has the report got it again")
	}
	// A moderator's "send again" does, and the old job's record can no longer be written.
	manual := d
	manual.Reason = fmt.Sprintf("manual:mod:%d", time.Now().UnixMilli())
	if made, err := s.QueueDelivery(ctx, rid, manual, true); err != nil || !made || len(jobs()) != 1 {
		t.Fatalf("forced: %v %v", made, err)
	}
	d.State = DeliveryFailed
	if err := s.UpdateDelivery(ctx, rid, d); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	manual.State, manual.Error = DeliveryFailed, "the endpoint answered 500"
	if err := s.UpdateDelivery(ctx, rid, manual); err != nil {
		t.Fatal(err)
	}
	if failed, _ := s.FailedDeliveries(ctx, 10); len(failed) != 1 || failed[0] != (FailedDelivery{rid, bid}) {
		t.Fatalf("failed list: %v", failed)
	}
	// A failed delivery is routed again by the next event.
	if made, _ := s.QueueDelivery(ctx, rid, later, false); !made {
		t.Fatal("a failed delivery was not retried by a later event")
	}
	if failed, _ := s.FailedDeliveries(ctx, 10); len(failed) != 0 {
		t.Fatalf("still failed: %v", failed)
	}
	ds, err := s.Deliveries(ctx, rid)
	if err != nil || len(ds) != 1 || ds[0].Reason != later.Reason || ds[0].State != DeliveryQueued {
		t.Fatalf("record: %+v %v", ds, err)
	}
	if ids, _ := s.BodyReports(ctx, bid, 0, -1); !slices.Equal(ids, []string{rid}) {
		t.Fatalf("body's reports: %v", ids)
	}
}
