package geocode

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hazardwatch/config"
	"hazardwatch/i18n"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

const testUA = "HazardWatch/1.0 (+http://localhost:8080; ops@example.org)"

// fakeNominatim speaks Nominatim's search and reverse API on loopback, checks the User-Agent,
// counts calls and remembers when each arrived.
type fakeNominatim struct {
	srv      *httptest.Server
	calls    atomic.Int64
	mu       sync.Mutex
	arrivals []time.Time
	queries  []url.Values // of /search requests
	badUA    atomic.Int64
	status   atomic.Int64 // answer with this status when non-zero
	delay    atomic.Int64 // nanoseconds to wait before answering
}

func newFakeNominatim(t *testing.T) *fakeNominatim {
	f := &fakeNominatim{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		f.mu.Lock()
		f.arrivals = append(f.arrivals, time.Now())
		f.mu.Unlock()
		if r.Header.Get("User-Agent") != testUA {
			f.badUA.Add(1)
		}
		if d := f.delay.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		if s := f.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/search":
			f.mu.Lock()
			f.queries = append(f.queries, r.URL.Query())
			f.mu.Unlock()
			q := r.URL.Query().Get("q")
			_ = json.NewEncoder(w).Encode([]map[string]string{
				{"display_name": "Upstream result for " + q, "lat": "32.8", "lon": "35.0"},
			})
		case "/reverse":
			name := "12 Test Street, Testville"
			if r.URL.Query().Get("accept-language") == "he" {
				name = "רחוב הניסיון 12, ניסיונית"
			}
			_ = json.NewEncoder(w).Encode(map[string]string{
				"display_name": name, "lat": r.URL.Query().Get("lat"), "lon": r.URL.Query().Get("lon"),
			})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// instance is one app instance's geocoder: its own Redis clients, singleflight and HTTP client.
func instance(t *testing.T, srv *redistest.Server, f *fakeNominatim, timeout time.Duration) (*Cached, *Nominatim) {
	rdb, err := store.Dial(config.Redis{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	st := store.New(rdb)
	base, _ := url.Parse(f.srv.URL)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	off, err := LoadOffline()
	if err != nil {
		t.Fatal(err)
	}
	n := &Nominatim{
		Base: base, UserAgent: testUA, Client: &http.Client{Timeout: timeout},
		Throttle: func(ctx context.Context) error { return st.Throttle(ctx, "nominatim", time.Second) },
		Fallback: off, Log: log, Backoff: 50 * time.Millisecond,
	}
	return &Cached{P: n, Cache: store.NewCache(rdb), Log: log}, n
}

func TestNominatimSearchAndReverse(t *testing.T) {
	srv := redistest.Start(t)
	f := newFakeNominatim(t)
	c, _ := instance(t, srv, f, 2*time.Second)
	ctx := context.Background()
	got, err := c.Search(ctx, "  Haifa   Port ", 5)
	if err != nil || len(got) != 1 || got[0].Label != "Upstream result for haifa port" || got[0].Lat != 32.8 || got[0].Approximate {
		t.Fatalf("search: %+v %v", got, err)
	}
	p, err := c.Reverse(ctx, 32.81234, 34.98765)
	if err != nil || p.Label != "12 Test Street, Testville" {
		t.Fatalf("reverse: %+v %v", p, err)
	}
	// Again, differently spelled / a few metres off: served from Redis.
	before := f.calls.Load()
	if _, err := c.Search(ctx, "haifa PORT", 5); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reverse(ctx, 32.81231, 34.98768); err != nil {
		t.Fatal(err)
	}
	if f.calls.Load() != before {
		t.Fatalf("cached lookups reached upstream (%d calls)", f.calls.Load()-before)
	}
	if s := c.Stats(); s.Hits != 2 || s.Misses != 2 {
		t.Fatalf("stats %+v", s)
	}
	if f.badUA.Load() != 0 {
		t.Fatal("a request lacked the configured User-Agent")
	}
	// Cached entries expire: hits after 30 days, misses after an hour.
	cl := srv.Client(t)
	keys, _ := cl.Keys(ctx, "cache:geo:*").Result()
	for _, k := range keys {
		if ttl, _ := cl.TTL(ctx, k).Result(); ttl <= 0 || ttl > 30*24*time.Hour {
			t.Errorf("%s TTL %v", k, ttl)
		}
	}
}

// A burst of 50 identical lookups split over two app instances reaches upstream once.
func TestBurstReachesUpstreamOnce(t *testing.T) {
	srv := redistest.Start(t)
	f := newFakeNominatim(t)
	f.delay.Store(int64(200 * time.Millisecond)) // a slow upstream widens the race
	a, _ := instance(t, srv, f, 5*time.Second)
	b, _ := instance(t, srv, f, 5*time.Second)
	var wg sync.WaitGroup
	labels := make([]string, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			g := a
			if i%2 == 1 {
				g = b
			}
			got, err := g.Search(context.Background(), "Tel Aviv", 5)
			if err != nil || len(got) == 0 {
				t.Errorf("lookup %d: %v %v", i, got, err)
				return
			}
			labels[i] = got[0].Label
		}(i)
	}
	wg.Wait()
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("upstream saw %d calls for one burst, want 1", n)
	}
	for i, l := range labels {
		if l != labels[0] {
			t.Fatalf("lookup %d answered %q, lookup 0 %q", i, l, labels[0])
		}
	}
}

// Different lookups from two instances are spaced at least a second apart at the upstream.
func TestOneRequestPerSecondAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	f := newFakeNominatim(t)
	a, _ := instance(t, srv, f, 5*time.Second)
	b, _ := instance(t, srv, f, 5*time.Second)
	var wg sync.WaitGroup
	for i, q := range []string{"alpha", "bravo", "charlie", "delta"} {
		wg.Add(1)
		go func(i int, q string) {
			defer wg.Done()
			g := a
			if i%2 == 1 {
				g = b
			}
			if _, err := g.Search(context.Background(), q, 5); err != nil {
				t.Error(err)
			}
		}(i, q)
	}
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.arrivals) != 4 {
		t.Fatalf("%d upstream calls, want 4", len(f.arrivals))
	}
	for i := 1; i < len(f.arrivals); i++ {
		// The limiter's own clock is Redis's key expiry; allow a little scheduling slack.
		if gap := f.arrivals[i].Sub(f.arrivals[i-1]); gap < 950*time.Millisecond {
			t.Errorf("calls %d and %d only %v apart", i-1, i, gap)
		}
	}
}

// The map's centre reaches Nominatim as a viewbox (preferred, not bounded) and is part of the
// cache key, rounded to about 10 km so one town's views share answers.
func TestNearReachesNominatimAndTheCache(t *testing.T) {
	srv := redistest.Start(t)
	f := newFakeNominatim(t)
	c, _ := instance(t, srv, f, 2*time.Second)
	ctx := context.Background()
	last := func() url.Values {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.queries[len(f.queries)-1]
	}
	if _, err := c.Search(ctx, "Camden", 5, Point{51.5074, -0.1278}); err != nil {
		t.Fatal(err)
	}
	if q := last(); q.Get("viewbox") != "-0.6000,52.0000,0.4000,51.0000" || q.Has("bounded") {
		t.Fatalf("search near London sent %v", q)
	}
	before := f.calls.Load()
	if _, err := c.Search(ctx, "camden", 5, Point{51.5312, -0.0871}); err != nil { // same area
		t.Fatal(err)
	}
	if f.calls.Load() != before {
		t.Fatal("a search near the same point was not served from the cache")
	}
	if _, err := c.Search(ctx, "camden", 5, Point{39.9526, -75.1652}); err != nil {
		t.Fatal(err)
	}
	if f.calls.Load() != before+1 || last().Get("viewbox") != "-75.7000,40.5000,-74.7000,39.5000" {
		t.Fatalf("a search near Philadelphia must ask again with its own box: %d calls, %v", f.calls.Load()-before, last())
	}
	if _, err := c.Search(ctx, "camden", 5); err != nil {
		t.Fatal(err)
	}
	if f.calls.Load() != before+2 || last().Has("viewbox") {
		t.Fatalf("a search without near: %d calls, %v", f.calls.Load()-before, last())
	}
}

func TestFallbackWhenUpstreamFails(t *testing.T) {
	srv := redistest.Start(t)
	f := newFakeNominatim(t)
	f.status.Store(http.StatusBadGateway)
	c, n := instance(t, srv, f, 5*time.Second)
	n.Throttle = func(context.Context) error { return nil } // keep the retries quick
	got, err := c.Search(context.Background(), "Haifa", 3)
	if err != nil || len(got) == 0 || got[0].Label != "Haifa, Israel" || !got[0].Approximate {
		t.Fatalf("5xx fallback: %+v %v", got, err)
	}
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("5xx: %d attempts, want 3 (retries with backoff)", n)
	}
	// Fallback answers are cached only briefly.
	cl := srv.Client(t)
	keys, _ := cl.Keys(context.Background(), "cache:geo:fwd:*").Result()
	if ttl, _ := cl.TTL(context.Background(), keys[0]).Result(); len(keys) != 1 || ttl > approximateTTL {
		t.Fatalf("approximate answer cached for %v", ttl)
	}

	// A hanging upstream times out and falls back too.
	f.status.Store(0)
	f.delay.Store(int64(2 * time.Second))
	slow, n2 := instance(t, srv, f, 200*time.Millisecond)
	n2.Throttle = func(context.Context) error { return nil }
	p, err := slow.Reverse(context.Background(), 32.819, 34.999)
	if err != nil || !p.Approximate || !strings.HasPrefix(p.Label, "near Haifa") {
		t.Fatalf("timeout fallback: %+v %v", p, err)
	}
}

func TestRetriesAfter429(t *testing.T) {
	srv := redistest.Start(t)
	f := newFakeNominatim(t)
	c, n := instance(t, srv, f, 5*time.Second)
	n.Throttle = func(context.Context) error { return nil }
	f.status.Store(http.StatusTooManyRequests)
	go func() { time.Sleep(70 * time.Millisecond); f.status.Store(0) }()
	got, err := c.Search(context.Background(), "Nazareth", 3)
	if err != nil || len(got) != 1 || got[0].Approximate {
		t.Fatalf("after 429: %+v %v", got, err)
	}
}

func BenchmarkCachedSearch(b *testing.B) {
	srv := redistest.Start(b)
	rdb, _ := store.Dial(config.Redis{URL: srv.URL()})
	defer rdb.Close()
	off, _ := LoadOffline()
	c := &Cached{P: off, Cache: store.NewCache(rdb), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	if _, err := c.Search(ctx, "haifa", Limit); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Search(ctx, "haifa", Limit); err != nil {
				b.Error(err)
			}
		}
	})
}

// Nominatim is asked in the reader's language; the answer says which language it is in, and
// answers in one language are not served to readers of another.
func TestNominatimAskedInTheReadersLanguage(t *testing.T) {
	srv := redistest.Start(t)
	f := newFakeNominatim(t)
	c, _ := instance(t, srv, f, 2*time.Second)
	heCtx := i18n.With(context.Background(), i18n.For("he"))
	p, err := c.Reverse(heCtx, 32.81234, 34.98765)
	if err != nil || p.Label != "רחוב הניסיון 12, ניסיונית" || p.Lang != "he" {
		t.Fatalf("Hebrew reverse: %+v %v", p, err)
	}
	p, err = c.Reverse(context.Background(), 32.81234, 34.98765)
	if err != nil || p.Label != "12 Test Street, Testville" || p.Lang != "en" {
		t.Fatalf("English reverse after a Hebrew one: %+v %v", p, err)
	}
	places, err := c.Search(heCtx, "haifa", 5)
	if err != nil || len(places) != 1 || places[0].Lang != "he" {
		t.Fatalf("Hebrew search: %+v %v", places, err)
	}
	f.mu.Lock()
	asked := f.queries[len(f.queries)-1].Get("accept-language")
	f.mu.Unlock()
	if asked != "he" {
		t.Fatalf("search asked Nominatim in %q", asked)
	}
}
