package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func userIDs(ms []AlertMatch) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.UserID)
	}
	slices.Sort(out)
	return out
}

// A report finds exactly the alerts whose area and types cover it, whatever the alerts' sizes,
// and deleted alerts are gone from the index.
func TestMatchAlerts(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	u1, u2, u3, u4 := newID(), newID(), newID(), newID()
	// Around (51.5, -0.12): a 500 m circle, a 10 km box for potholes only, a 50 m circle
	// elsewhere, a 40 km box with a digest.
	alerts := []*Alert{
		{UserID: u1, Name: "home", Lat: 51.5, Lng: -0.12, Radius: 500},
		{UserID: u2, Name: "city", Box: BBox{MinLat: 51.45, MinLng: -0.2, MaxLat: 51.54, MaxLng: -0.05}, Types: []string{"pothole"}},
		{UserID: u3, Name: "far", Lat: 51.6, Lng: -0.3, Radius: 50},
		{UserID: u4, Name: "region", Box: BBox{MinLat: 51.3, MinLng: -0.4, MaxLat: 51.66, MaxLng: 0.18}, Digest: true},
		{UserID: u1, Name: "home again", Lat: 51.501, Lng: -0.121, Radius: 1000},
	}
	for _, a := range alerts {
		if field, id := AlertProblem(a, func(string) bool { return true }); id != "" {
			t.Fatalf("%s: %s %s", a.Name, field, id)
		}
		if err := s.CreateAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.MatchAlerts(ctx, 51.501, -0.1201, "pothole")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{u1, u2, u4}
	slices.Sort(want)
	if !slices.Equal(userIDs(got), want) {
		t.Fatalf("pothole near home: users %v, want %v", userIDs(got), want)
	}
	for _, m := range got {
		switch m.UserID {
		case u1:
			if len(m.Alerts) != 2 || !m.Immediate() {
				t.Errorf("u1 has two matching alerts, mailed at once: %+v", m.Alerts)
			}
		case u4:
			if m.Immediate() {
				t.Error("u4's only alert is a digest")
			}
		}
	}
	// Another type: the pothole-only box stays quiet. 600 m away: only the 1 km circle and boxes.
	got, _ = s.MatchAlerts(ctx, 51.501, -0.1201, "flooding")
	if slices.Contains(userIDs(got), u2) {
		t.Error("a pothole-only alert matched flooding")
	}
	got, _ = s.MatchAlerts(ctx, 51.5054, -0.12, "flooding") // 600 m north of the 500 m circle's centre
	if m := got[slices.IndexFunc(got, func(m AlertMatch) bool { return m.UserID == u1 })]; len(m.Alerts) != 1 || m.Alerts[0].Name != "home again" {
		t.Errorf("600 m out only the 1 km circle covers it: %+v", m.Alerts)
	}
	got, _ = s.MatchAlerts(ctx, 48.85, 2.35, "pothole")
	if len(got) != 0 {
		t.Errorf("Paris matched London alerts: %v", userIDs(got))
	}
	// Deleting removes it from matching; deleting twice says so.
	if err := s.DeleteAlert(ctx, u2, alerts[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAlert(ctx, u2, alerts[1].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	got, _ = s.MatchAlerts(ctx, 51.501, -0.1201, "pothole")
	if slices.Contains(userIDs(got), u2) {
		t.Error("a deleted alert still matches")
	}
}

// An alert sits in at most four cells, at a level chosen from its size.
func TestAlertCells(t *testing.T) {
	for _, a := range []*Alert{
		{Lat: 51.5, Lng: -0.12, Radius: 25},
		{Lat: 0, Lng: 0, Radius: 25_000},
		{Lat: 70, Lng: 20, Radius: 25_000},
		{Box: BBox{MinLat: 32.7, MinLng: 34.9, MaxLat: 33.1, MaxLng: 35.4}},
	} {
		if _, id := AlertProblem(a, func(string) bool { return true }); id != "" {
			t.Fatalf("%+v: %s", a, id)
		}
		if n := len(alertCells(a)); n < 1 || n > 4 {
			t.Errorf("%+v is in %d cells", a.Box, n)
		}
	}
}

// Bad areas are refused: zero-area, a line, enormous, an out-of-range radius, unknown types.
func TestAlertProblems(t *testing.T) {
	known := func(t string) bool { return t == "pothole" }
	for name, c := range map[string]struct {
		a    Alert
		want string
	}{
		"zero area":   {Alert{Box: BBox{MinLat: 51.5, MinLng: -0.1, MaxLat: 51.5, MaxLng: -0.1}}, "alerts.error.area"},
		"a line":      {Alert{Box: BBox{MinLat: 51.5, MinLng: -0.1, MaxLat: 51.5001, MaxLng: 0}}, "alerts.error.too_small"},
		"a country":   {Alert{Box: BBox{MinLat: 49, MinLng: -6, MaxLat: 59, MaxLng: 2}}, "alerts.error.too_big"},
		"tiny radius": {Alert{Lat: 51.5, Lng: -0.1, Radius: 5}, "alerts.error.radius"},
		"huge radius": {Alert{Lat: 51.5, Lng: -0.1, Radius: 80_000}, "alerts.error.radius"},
		"bad type":    {Alert{Lat: 51.5, Lng: -0.1, Radius: 500, Types: []string{"dragon"}}, "alerts.error.type"},
		"off the map": {Alert{Box: BBox{MinLat: 86, MinLng: 0, MaxLat: 87, MaxLng: 1}}, "alerts.error.area"},
	} {
		if _, got := AlertProblem(&c.a, known); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
}

// At most MaxAlerts per user, also when they are saved at once.
func TestAlertLimit(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	uid := newID()
	errs := make(chan error, MaxAlerts+5)
	for i := 0; i < MaxAlerts+5; i++ {
		go func(i int) {
			a := &Alert{UserID: uid, Name: fmt.Sprint(i), Lat: 51.5, Lng: -0.1 + float64(i)/100, Radius: 300}
			AlertProblem(a, func(string) bool { return true })
			errs <- s.CreateAlert(ctx, a)
		}(i)
	}
	refused := 0
	for i := 0; i < MaxAlerts+5; i++ {
		if err := <-errs; errors.Is(err, ErrTooManyAlerts) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	as, err := s.Alerts(ctx, uid)
	if err != nil || len(as) != MaxAlerts || refused != 5 {
		t.Fatalf("%d alerts kept, %d refused (%v)", len(as), refused, err)
	}
}

// A digest is claimed by one instance at a time, and the next one is scheduled when reports
// arrived while it was being sent.
func TestDigestClaims(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	uid := newID()
	t0 := time.Now()
	if err := s.AddToDigest(ctx, uid, "r1aaaaaaaaaaaaaa", t0); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueDigests(ctx, t0.Add(time.Hour), time.Minute, 10); len(due) != 0 {
		t.Fatal("a digest went out before its day was over")
	}
	later := t0.Add(DigestEvery + time.Second)
	a, _ := s.DueDigests(ctx, later, time.Minute, 10)
	b, _ := s.DueDigests(ctx, later, time.Minute, 10)
	if len(a) != 1 || len(b) != 0 {
		t.Fatalf("two instances claimed %v and %v", a, b)
	}
	items, _ := s.DigestItems(ctx, uid)
	if err := s.AddToDigest(ctx, uid, "r2aaaaaaaaaaaaaa", later); err != nil { // arrives while sending
		t.Fatal(err)
	}
	if err := s.FinishDigest(ctx, uid, items, later); err != nil {
		t.Fatal(err)
	}
	left, _ := s.DigestItems(ctx, uid)
	if !slices.Equal(left, []string{"r2aaaaaaaaaaaaaa"}) {
		t.Fatalf("left in the digest: %v", left)
	}
	if due, _ := s.DueDigests(ctx, later.Add(DigestEvery+time.Second), time.Minute, 10); len(due) != 1 {
		t.Fatal("the next digest was not scheduled")
	}
	if DigestKey(uid, items) != DigestKey(uid, slices.Clone(items)) || DigestKey(uid, items) == DigestKey(uid, left) {
		t.Fatal("digest keys must name their reports")
	}
}

// BenchmarkMatchAlerts matches random report points in a city against 100,000 alerts of mixed
// sizes (docs/performance.md, "Alerts").
func BenchmarkMatchAlerts(b *testing.B) {
	s, _ := newStore(&testing.T{})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 100_000
	// London-sized: 51.3 to 51.7, -0.5 to 0.3; radii from 100 m to 5 km, a tenth boxes.
	point := func() (float64, float64) { return 51.3 + rng.Float64()*0.4, -0.5 + rng.Float64()*0.8 }
	usedMemory := func() float64 {
		info, err := s.rdb.Info(ctx, "memory").Result()
		if err != nil {
			return 0
		}
		var v float64
		for _, line := range strings.Split(info, "\r\n") {
			if x, ok := strings.CutPrefix(line, "used_memory:"); ok {
				v, _ = strconv.ParseFloat(x, 64)
			}
		}
		return v
	}
	before := usedMemory()
	var batch []*Alert
	flush := func() {
		for _, a := range batch {
			if err := s.CreateAlert(ctx, a); err != nil {
				b.Fatal(err)
			}
		}
		batch = batch[:0]
	}
	for i := 0; i < n; i++ {
		lat, lng := point()
		a := &Alert{UserID: newID(), Name: "a", Lat: lat, Lng: lng, Radius: 100 + rng.Float64()*rng.Float64()*4900}
		if i%10 == 0 {
			a = &Alert{UserID: a.UserID, Name: "v", Box: BBox{MinLat: lat, MinLng: lng, MaxLat: lat + 0.02, MaxLng: lng + 0.04}}
		}
		if _, id := AlertProblem(a, func(string) bool { return true }); id != "" {
			b.Fatal(id)
		}
		batch = append(batch, a)
		if len(batch) == 1000 {
			flush()
		}
	}
	flush()
	perAlert := (usedMemory() - before) / n
	b.ResetTimer()
	matched := 0
	for i := 0; i < b.N; i++ {
		lat, lng := point()
		ms, err := s.MatchAlerts(ctx, lat, lng, "pothole")
		if err != nil {
			b.Fatal(err)
		}
		matched += len(ms)
	}
	b.ReportMetric(float64(matched)/float64(b.N), "users/report")
	b.ReportMetric(perAlert, "bytes/alert")
}
