package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/hazard"
)

// Go and Redis put every point in the same geohash cell: the score Go computes is the one GEOADD
// stores, and a cell's score range holds exactly the points Go places in it.
func TestGeohashMatchesRedis(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	key := geoKey("geohash-test")
	for i := 0; i < 500; i++ {
		lat, lng := rng.Float64()*170-85, rng.Float64()*360-180
		if i%5 == 0 { // crowd some round Haifa, on cell borders too
			lat, lng = 32.8+float64(rng.IntN(40))*0.0025, 35.0+float64(rng.IntN(40))*0.0025
		}
		name := fmt.Sprint(i)
		if err := s.rdb.GeoAdd(ctx, key, &redis.GeoLocation{Name: name, Latitude: lat, Longitude: lng}).Err(); err != nil {
			t.Fatal(err)
		}
		got, err := s.rdb.ZScore(ctx, key, name).Result()
		if err != nil {
			t.Fatal(err)
		}
		if uint64(got) != geoScore(lat, lng) {
			t.Fatalf("%f,%f: Redis scores %d, Go %d", lat, lng, uint64(got), geoScore(lat, lng))
		}
		dlat, dlng := geoDecode(uint64(got))
		if d := max(abs(dlat-lat), abs(dlng-lng)); d > 1e-5 {
			t.Fatalf("decoded %f,%f from %f,%f", dlat, dlng, lat, lng)
		}
		// InBox decodes WITHHASH itself: it must give what WITHCOORD would have (to the last
		// digit or so: Redis prints its long double with 17 significant digits).
		pos, err := s.rdb.GeoPos(ctx, key, name).Result()
		if err != nil || len(pos) != 1 || pos[0] == nil {
			t.Fatal(err)
		}
		if max(abs(dlat-pos[0].Latitude), abs(dlng-pos[0].Longitude)) > 1e-12 {
			t.Fatalf("decoded %v,%v; Redis says %v,%v", dlat, dlng, pos[0].Latitude, pos[0].Longitude)
		}
		for _, p := range []uint8{GridMinLevel, 9, GridMaxLevel} {
			c := CellOf(p, lat, lng)
			lo, hi := c.scoreRange()
			if uint64(got) < lo || uint64(got) >= hi {
				t.Fatalf("level %d: score %d outside its cell's range [%d,%d)", p, uint64(got), lo, hi)
			}
			if b := c.Bounds(); !b.Contains(lat, lng) && lat < geoLatMax {
				t.Fatalf("level %d: %f,%f outside its cell %+v", p, lat, lng, b)
			}
		}
	}
}

func abs(f float64) float64 { return max(f, -f) }

// recount computes what the aggregates should hold at level p from the documents.
func recount(rs []*Report, p uint8, day string) map[Cell]map[hazard.Status]CellCount {
	out := map[Cell]map[hazard.Status]CellCount{}
	for _, r := range rs {
		m := MarkerOf(r)
		if !m.mapped() || (day != "" && gridDay(m.Created) != day) {
			continue
		}
		c := CellOf(p, r.Lat, r.Lng)
		if out[c] == nil {
			out[c] = map[hazard.Status]CellCount{}
		}
		cc := out[c][r.Status]
		cc.Add(markerCount(r.ID, m))
		out[c][r.Status] = cc
	}
	return out
}

// checkGrid compares the aggregates at several levels (all time and per day) with a recount.
func checkGrid(t *testing.T, s *Store, ids []string, label string) {
	t.Helper()
	ctx := context.Background()
	rs, err := s.reports(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, day := range []string{"", gridDay(time.Now())} {
		for _, p := range []uint8{GridMinLevel, 7, 13, GridMaxLevel} {
			want := recount(rs, p, day)
			cells := make([]Cell, 0, len(want))
			for c := range want {
				cells = append(cells, c)
			}
			q := GridQuery{Statuses: hazard.Statuses}
			if day != "" {
				q.Days = []string{day}
			}
			got, err := s.GridCounts(ctx, cells, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s, level %d day %q: %d cells counted, recount has %d", label, p, day, len(got), len(want))
			}
			for c, byStatus := range want {
				for st, w := range byStatus {
					if g := got[c][st]; g != w {
						t.Fatalf("%s, level %d day %q, cell %+v %s: counted %+v, recount %+v", label, p, day, c, st, g, w)
					}
				}
				if len(got[c]) != len(byStatus) {
					t.Fatalf("%s, level %d: cell %+v has statuses %v, recount %v", label, p, c, got[c], byStatus)
				}
			}
			// The default map's read: the summed active class, one count per cell.
			q.Statuses = hazard.ActiveStatuses
			totals, err := s.GridTotals(ctx, cells, q)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range cells {
				var w CellCount
				for _, st := range hazard.ActiveStatuses {
					w.Add(want[c][st])
				}
				if totals[i].CellCount != w {
					t.Fatalf("%s, level %d day %q, cell %+v: active total %+v, recount %+v", label, p, day, c, totals[i].CellCount, w)
				}
			}
		}
	}
}

// checkPoints compares the finest cells' lists of reports with the documents.
func checkPoints(t *testing.T, s *Store, ids []string, label string) {
	t.Helper()
	rs, err := s.reports(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]GeoPoint{}
	cells := map[Cell]bool{}
	for _, r := range rs {
		if m := MarkerOf(r); m.mapped() {
			want[r.ID] = GeoPoint{ID: r.ID, Type: r.Type, Severity: r.Severity, Status: r.Status, Lat: r.Lat, Lng: r.Lng}
			cells[CellOf(GridMaxLevel, r.Lat, r.Lng)] = true
		}
	}
	list := make([]Cell, 0, len(cells))
	for c := range cells {
		list = append(list, c)
	}
	got, _, err := s.CellPoints(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d reports in the finest cells, %d on the map", label, len(got), len(want))
	}
	for _, p := range got {
		if want[p.ID] != p {
			t.Fatalf("%s: cell entry %+v, document says %+v", label, p, want[p.ID])
		}
	}
}

// change stores a changed copy of report id through the write path.
func change(t *testing.T, s *Store, id string, edit func(r *Report)) {
	t.Helper()
	ctx := context.Background()
	prev, err := s.Report(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	r := *prev
	r.History = slices.Clone(prev.History)
	edit(&r)
	if err := s.UpdateReport(ctx, prev, &r, Event{Kind: "report.updated"}); err != nil {
		t.Fatal(err)
	}
}

// The map's aggregates equal a recount from the documents after a random sequence of creates,
// status changes (duplicates and expiries among them), relocations and re-categorisations, some
// made concurrently; replaying every change's counts again changes nothing; Repair rebuilds the
// same numbers from scratch.
func TestGridMatchesRecount(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	var ids []string
	types := []string{"pothole", "debris", "ice", "tree"}
	statuses := []hazard.Status{hazard.Open, hazard.InProgress, hazard.Resolved, hazard.Rejected, hazard.Duplicate, hazard.Expired, hazard.Withdrawn, hazard.Pending}
	place := func() (float64, float64) { return 32.75 + rng.Float64()*0.1, 34.95 + rng.Float64()*0.1 }
	for i := 0; i < 400; i++ {
		switch op := rng.IntN(10); {
		case len(ids) < 5 || op < 4:
			lat, lng := place()
			r := newReport(fmt.Sprint("u", rng.IntN(9)), types[rng.IntN(len(types))], lat, lng)
			r.Severity = hazard.Severities[rng.IntN(3)].Code
			if rng.IntN(5) == 0 {
				r.CreatedAt = r.CreatedAt.Add(-time.Duration(rng.IntN(20*24)) * time.Hour) // older days too
			}
			if _, _, err := s.CreateReport(ctx, r); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		case op < 7:
			to := statuses[rng.IntN(len(statuses))]
			change(t, s, ids[rng.IntN(len(ids))], func(r *Report) { r.Status = to })
		case op < 8:
			lat, lng := place()
			change(t, s, ids[rng.IntN(len(ids))], func(r *Report) { r.Lat, r.Lng = lat, lng })
		case op < 9:
			typ := types[rng.IntN(len(types))]
			change(t, s, ids[rng.IntN(len(ids))], func(r *Report) { r.Type = typ })
		default: // two writers at once on one report: one wins, the counts follow the winner
			id := ids[rng.IntN(len(ids))]
			prev, _ := s.Report(ctx, id)
			done := make(chan error, 2)
			for _, to := range []hazard.Status{hazard.Resolved, hazard.Rejected} {
				go func() {
					r := *prev
					r.Status = to
					done <- s.UpdateReport(ctx, prev, &r)
				}()
			}
			if a, b := <-done, <-done; (a == nil) == (b == nil) {
				t.Fatalf("concurrent writers: %v / %v", a, b)
			}
		}
	}
	checkGrid(t, s, ids, "after the sequence")
	checkPoints(t, s, ids, "after the sequence")

	// Every event's count change again (a sweeper repeating a writer's work): nothing moves.
	for _, e := range allEvents(t, s) {
		b, a := e.Markers()
		if err := s.applyGrid(ctx, e.Report+":"+fmt.Sprint(e.Version), gridOps(e.Report, b, a, time.Now()), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	checkGrid(t, s, ids, "after replaying every event")

	// Damage the counts; repair recounts them.
	keys, err := s.gridKeys(ctx)
	if err != nil || len(keys) == 0 {
		t.Fatalf("grid keys: %d %v", len(keys), err)
	}
	if err := s.rdb.HSet(ctx, keys[0], "0", "5,5,5,0,0,0,0,0").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	checkGrid(t, s, ids, "after repair")
	checkPoints(t, s, ids, "after repair")
}

// Counts kept before the summed active class existed are read status by status until `redis
// repair` rebuilds the grid; from then on (and in a database that starts empty) the summed class
// is read.
func TestActiveClassWaitsForRebuild(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	var ids []string
	for i, st := range []hazard.Status{hazard.Pending, hazard.Open, hazard.InProgress, hazard.Resolved} {
		r := newReport("u1", "pothole", 32.8+float64(i)*0.001, 35.0)
		r.Status = st
		if _, _, err := s.CreateReport(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if n, err := s.rdb.Exists(ctx, gridActiveReadyKey).Result(); err != nil || n != 1 {
		t.Fatalf("a new database's first report did not mark the active class complete: %d %v", n, err)
	}
	// What an older version left: no summed class, no mark.
	keys, err := s.gridKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range append(keys, gridActiveReadyKey) {
		if strings.HasSuffix(k, ":"+string(AnyActive)) || k == gridActiveReadyKey {
			if err := s.rdb.Del(ctx, k).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	cell := []Cell{CellOf(GridMinLevel, 32.8, 35.0)}
	total := func(label string) {
		t.Helper()
		got, err := New(s.rdb).GridTotals(ctx, cell, GridQuery{Statuses: hazard.ActiveStatuses})
		if err != nil || got[0].N() != 3 {
			t.Fatalf("%s: %d active reports counted (%v), want 3", label, got[0].N(), err)
		}
	}
	total("before the rebuild")
	if _, err := s.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.rdb.Exists(ctx, gridActiveReadyKey).Result(); err != nil || n != 1 {
		t.Fatalf("repair did not mark the active class complete: %d %v", n, err)
	}
	total("after the rebuild")
	checkGrid(t, s, ids, "after the rebuild")
}

// A writer that dies after committing a change leaves its events in the report's outbox; the
// sweeper finishes the write: indexes, counts and events, each once.
func TestOutboxSweeperFinishesACrashedWrite(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	r := newReport("u1", "pothole", 32.8, 35.0)
	now := time.Now().UTC()
	// The create commits (document and events) and the writer dies before anything else.
	if err := s.write(ctx, r, 0, Marker{}, []Event{{Kind: "report.created", Actor: "u1"}}, now); err != nil {
		t.Fatal(err)
	}
	if near, _ := s.Nearby(ctx, 32.8, 35.0, 50, "pothole"); len(near) != 0 || len(allEvents(t, s)) != 0 {
		t.Fatal("indexed or relayed before the sweeper ran")
	}
	// A sweep within the grace period leaves the write to its (maybe slow) writer.
	if n, err := s.SweepOutbox(ctx, now, 100); err != nil || n != 0 {
		t.Fatalf("early sweep: %d %v", n, err)
	}
	if n, err := s.SweepOutbox(ctx, now.Add(outboxGrace+time.Second), 100); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if near, _ := s.Nearby(ctx, 32.8, 35.0, 50, "pothole"); len(near) != 1 {
		t.Fatal("the sweeper did not index the report")
	}
	checkGrid(t, s, []string{r.ID}, "after the sweep")
	evs := allEvents(t, s)
	if len(evs) != 1 || evs[0].EID != r.ID+":1:report.created" {
		t.Fatalf("events: %+v", evs)
	}
	if n, _ := s.rdb.ZCard(ctx, outboxDirtyKey).Result(); n != 0 {
		t.Fatal("the outbox mark stayed")
	}
	// A second sweep finds nothing to do; a mark made after the cutoff is left alone.
	if n, err := s.SweepOutbox(ctx, now.Add(time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("second sweep: %d %v", n, err)
	}
	// An update whose writer died, then a normal one: the counts follow both, once each.
	prev, _ := s.Report(ctx, r.ID)
	moved := *prev
	moved.Status, moved.Lat = hazard.Open, 32.81
	if err := s.write(ctx, &moved, prev.Version, MarkerOf(prev), []Event{{Kind: "report.status_changed"}}, now); err != nil {
		t.Fatal(err)
	}
	change(t, s, r.ID, func(x *Report) { x.Status = hazard.Resolved })
	if _, err := s.SweepOutbox(ctx, time.Now().Add(outboxGrace+time.Second), 100); err != nil {
		t.Fatal(err)
	}
	checkGrid(t, s, []string{r.ID}, "after a crashed update and a normal one")
	checkPoints(t, s, []string{r.ID}, "after a crashed update and a normal one")
	if n, _ := s.rdb.ZCard(ctx, geoKey("active")).Result(); n != 0 {
		t.Fatal("the stale status's GEO entry stayed")
	}
	if got := len(allEvents(t, s)); got != 3 {
		t.Fatalf("%d events, want 3", got)
	}
}

// A box aligned to the grid meets exactly the cells it covers: every one wholly inside, so the
// map's answer needs no point-by-point edge.
func TestAlignedBoxHasNoEdge(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for i := 0; i < 2000; i++ {
		p := uint8(GridMinLevel + 2*rng.IntN((GridMaxLevel-GridMinLevel)/2+1))
		lat, lng := rng.Float64()*160-80, rng.Float64()*350-175
		w, h := rng.Float64()*3, rng.Float64()*2
		b := Align(p, BBox{MinLng: lng, MinLat: lat, MaxLng: min(lng+w, 180), MaxLat: min(lat+h, 85)})
		cells, inside := CellsIn(p, b)
		for j, c := range cells {
			if !inside[j] {
				t.Fatalf("level %d, box %+v: cell %+v is on an edge", p, b, c)
			}
		}
		if len(cells) == 0 || !b.Contains(b.MinLat, b.MinLng) || b.Contains(b.MaxLat, b.MinLng) {
			t.Fatalf("level %d, box %+v: %d cells", p, b, len(cells))
		}
	}
}
