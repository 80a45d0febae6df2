package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/config"
	"hazardwatch/hazard"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

// guestService is newService with the raw client too, for looking at token keys' TTLs.
func guestService(t *testing.T, moderation string) (*Service, *store.Store, redis.UniversalClient) {
	t.Helper()
	cfg := config.Redis{}
	if os.Getenv("HW_TEST_REDIS") == "cluster" {
		c := redistest.StartCluster(t, 3)
		cfg.Addrs, cfg.Cluster = c.Addrs(), true
		cfg.Username, cfg.Password = "app", c.ACL.Passwords["app"]
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
	return New(st, nil, Config{Moderation: moderation, ReportExpiry: 48 * time.Hour, TooCloseRadius: 15}, slog.New(slog.DiscardHandler)), st, rdb
}

func guestDraft(email string, lat, lng float64, photos ...string) Draft {
	d := draft("", lat, lng)
	d.GuestEmail, d.Photos = email, photos
	return d
}

// A guest's report is stored unconfirmed: seen by nobody, on no map, in no duplicate check,
// with no event that publishes it.
func TestGuestReportIsHiddenUntilConfirmed(t *testing.T) {
	s, st, _ := guestService(t, "post")
	ctx := context.Background()
	if _, _, err := s.Create(ctx, guestDraft("not an address", 32.8, 35.0)); kind(err) != Invalid || err.(*Error).Fields["email"].IsZero() {
		t.Fatalf("a bad address: %v", err)
	}
	d := guestDraft("Guest@Example.org", 32.8, 35.0)
	d.ReporterID = "someone0000000001" // ignored: a guest's report is nobody's until confirmed
	r := create(t, s, d)
	if r.Status != hazard.Unconfirmed || r.ReporterID != "" || r.GuestEmail != "Guest@Example.org" {
		t.Fatalf("stored as %s by %q for %q", r.Status, r.ReporterID, r.GuestEmail)
	}
	if got := events(t, st); !slices.Equal(got, []string{Created}) {
		t.Fatalf("events: %v", got)
	}
	moderator := &store.User{ID: "mod0000000000001", Role: store.RoleModerator}
	for _, viewer := range []*store.User{nil, {ID: "cit0000000000001", Role: store.RoleCitizen}} {
		if _, err := s.Load(ctx, viewer, r.ID); kind(err) != NotFound {
			t.Fatalf("%v sees the unconfirmed report: %v", viewer, err)
		}
	}
	if !s.CanSee(ctx, moderator, r) {
		t.Fatal("moderators see every report")
	}
	box := store.BBox{MinLng: 34.9, MinLat: 32.7, MaxLng: 35.1, MaxLat: 32.9}
	if pts, _, err := st.InBox(ctx, box, hazard.Statuses, 0); err != nil || len(pts) != 0 {
		t.Fatalf("on the map: %v %v", pts, err)
	}
	if near, err := st.Nearby(ctx, 32.8, 35.0, 50, "pothole"); err != nil || len(near) != 0 {
		t.Fatalf("offered as a duplicate: %v %v", near, err)
	}
	// Nor does it stop someone else's report of the same hazard as "too close".
	create(t, s, draft(citizen.ID, 32.8, 35.0))
}

// The mailed link confirms once: the report becomes pending (published under post-moderation)
// and belongs to the account with the address, if there is one; a second use finds nothing.
func TestGuestConfirmation(t *testing.T) {
	for _, mode := range []string{"post", "pre"} {
		s, st, _ := guestService(t, mode)
		ctx := context.Background()
		owner := &store.User{Email: "owner@example.org", Name: "Owner", PasswordHash: "x"}
		if err := st.CreateUser(ctx, owner); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ email, want string }{{"OWNER@example.org", owner.ID}, {"nobody@example.org", ""}} {
			d := guestDraft(tc.email, 32.8, 35.0)
			d.Type = "flooding" // transient: its time starts when it is confirmed
			d.AllowClose = true
			r := create(t, s, d)
			events(t, st)
			token, err := s.GuestToken(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ConfirmGuest(ctx, token+"x"); kind(err) != NotFound {
				t.Fatalf("a wrong token: %v", err)
			}
			got, err := s.ConfirmGuest(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != hazard.Pending || got.ReporterID != tc.want || got.GuestEmail != "" || got.ExpiresAt.Before(time.Now().Add(47*time.Hour)) {
				t.Fatalf("%s: confirmed as %s by %q (email %q, expires %v)", tc.email, got.Status, got.ReporterID, got.GuestEmail, got.ExpiresAt)
			}
			want := []string{StatusChanged, Published}
			if mode == "pre" {
				want = want[:1]
			}
			if ev := events(t, st); !slices.Equal(ev, want) {
				t.Fatalf("%s events: %v", mode, ev)
			}
			if _, err := s.Load(ctx, &store.User{ID: tc.want + "x"}, r.ID); (err == nil) != (mode == "post") {
				t.Fatalf("%s: visible to the public after confirming: %v", mode, err)
			}
			if _, err := s.ConfirmGuest(ctx, token); kind(err) != NotFound {
				t.Fatalf("the link worked twice: %v", err)
			}
			if ev := events(t, st); len(ev) != 0 {
				t.Fatalf("a second use changed something: %v", ev)
			}
		}
	}
}

// Two clicks at once: one change, both answered with the confirmed report.
func TestGuestConfirmationTwiceAtOnce(t *testing.T) {
	s, st, _ := guestService(t, "post")
	ctx := context.Background()
	r := create(t, s, guestDraft("twice@example.org", 32.8, 35.0))
	token, err := s.GuestToken(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	events(t, st)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = s.ConfirmGuest(ctx, token) }()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if kind(err) != NotFound {
			t.Fatal(err)
		}
	}
	if ok == 0 {
		t.Fatal("neither click confirmed")
	}
	if ev := events(t, st); !slices.Equal(ev, []string{StatusChanged, Published}) {
		t.Fatalf("events: %v", ev)
	}
}

// The link works for seven days, then stops: the token key carries the TTL, and an expired one
// confirms nothing.
func TestGuestTokenExpires(t *testing.T) {
	s, _, rdb := guestService(t, "post")
	ctx := context.Background()
	r := create(t, s, guestDraft("late@example.org", 32.8, 35.0))
	token, err := s.GuestToken(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(token))
	key := "hw:guest:{" + hex.EncodeToString(sum[:]) + "}"
	ttl, err := rdb.PTTL(ctx, key).Result()
	if err != nil || ttl > GuestWindow || ttl < GuestWindow-time.Minute {
		t.Fatalf("the link lives %v (%v), want 7 days", ttl, err)
	}
	if _, err := s.GuestReport(ctx, token); err != nil {
		t.Fatalf("a fresh link: %v", err)
	}
	// Seven days later, as far as Redis is concerned.
	if err := rdb.PExpire(ctx, key, time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); rdb.Exists(ctx, key).Val() == 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the key did not expire")
		}
	}
	if _, err := s.ConfirmGuest(ctx, token); kind(err) != NotFound {
		t.Fatalf("an expired link: %v", err)
	}
	if got, err := storeOf(s).Report(ctx, r.ID); err != nil || got.Status != hazard.Unconfirmed {
		t.Fatalf("after an expired link: %v %v", got, err)
	}
}

func storeOf(s *Service) *store.Store { return s.st }

// Unconfirmed reports older than seven days go, and leave their photos' index (so the photo
// sweeper removes the files no other report names); younger ones, confirmed ones and shared
// photos stay. Two instances running the job at once delete each report once.
func TestCleanupUnconfirmed(t *testing.T) {
	s, sto, rdb := guestService(t, "post")
	ctx := context.Background()
	const (
		mine   = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		shared = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		kept   = "cccccccccccccccccccccccccccccccc"
	)
	old := create(t, s, guestDraft("old@example.org", 32.80, 35.00, mine, shared))
	for time.Now().UnixMilli() <= old.UpdatedAt.UnixMilli()+1 {
		time.Sleep(time.Millisecond) // the index keeps milliseconds: the young report comes later
	}
	confirmed := create(t, s, guestDraft("confirmed@example.org", 32.81, 35.00, kept))
	other := create(t, s, Draft{ID: store.NewReportID(), ReporterID: citizen.ID, Type: "crack", Severity: "low", Lat: 32.82, Lng: 35.0, HasPlace: true, Photos: []string{shared}})
	token, err := s.GuestToken(ctx, confirmed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConfirmGuest(ctx, token); err != nil {
		t.Fatal(err)
	}
	young := create(t, s, guestDraft("young@example.org", 32.83, 35.00, kept))
	// A week after the young report, less a millisecond: the old one is over the week.
	later := young.UpdatedAt.Add(GuestWindow - time.Millisecond)

	// Nothing is old enough yet.
	if n, err := s.CleanupUnconfirmed(ctx, time.Now(), time.Minute); err != nil || n != 0 {
		t.Fatalf("today: %d %v", n, err)
	}
	if err := rdb.Del(ctx, "hw:lock:{guest-cleanup}").Err(); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if counts[i], err = s.CleanupUnconfirmed(ctx, later, time.Minute); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if counts[0]+counts[1] != 1 {
		t.Fatalf("deleted %v reports, want 1", counts)
	}
	if _, err := sto.Report(ctx, old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the old unconfirmed report: %v", err)
	}
	for _, r := range []*store.Report{confirmed, other} {
		if _, err := sto.Report(ctx, r.ID); err != nil {
			t.Fatalf("%s went: %v", r.ID, err)
		}
	}
	if got, err := sto.Report(ctx, young.ID); err != nil || got.Status != hazard.Unconfirmed {
		t.Fatalf("the young report: %v", err)
	}
	// Nothing of the deleted report is left in the indexes.
	all, err := sto.List(ctx, store.ListQuery{Statuses: hazard.Statuses, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all.Reports {
		if r.ID == old.ID {
			t.Fatal("still listed")
		}
	}
	if n := rdb.ZCard(ctx, "hw:reports:status:unconfirmed").Val(); n != 1 {
		t.Fatalf("%d unconfirmed left in the index, want the young one", n)
	}
	// The photo sweeper removes the files no report names: the deleted report's own photo
	// goes, the one another report shares stays.
	if n := rdb.Exists(ctx, "hw:photo:"+mine).Val(); n != 0 {
		t.Fatal("the deleted report is still in its photo's index")
	}
	for hash, want := range map[string][]string{mine: nil, shared: {other.ID}, kept: {confirmed.ID, young.ID}} {
		rs, err := sto.PhotoReports(ctx, hash)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("photo %s is named by %v, want %v", hash, ids, want)
		}
	}
}
