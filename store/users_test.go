package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/config"
	"hazardwatch/store/redistest"
)

// testRedis is the Redis a store test runs on: one server, or (HW_TEST_REDIS=cluster, which
// make test also runs) a three-master Redis Cluster, so every store test proves its keys and
// scripts are Cluster-safe.
type testRedis struct{ client redis.UniversalClient }

// Client is a raw client to inspect or damage the data with.
func (r *testRedis) Client(t *testing.T) redis.UniversalClient { return r.client }

// Keys lists the keys matching pattern on every master (tests only: KEYS never runs in the app).
func (r *testRedis) Keys(t *testing.T, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	cc, ok := r.client.(*redis.ClusterClient)
	if !ok {
		keys, err := r.client.Keys(ctx, pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	var mu sync.Mutex
	var keys []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		ks, err := c.Keys(ctx, pattern).Result()
		mu.Lock()
		keys = append(keys, ks...)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func newStore(t *testing.T) (*Store, *testRedis) {
	t.Helper()
	cfg := config.Redis{}
	if os.Getenv("HW_TEST_REDIS") == "cluster" {
		c := redistest.StartCluster(t, 3)
		cfg.Addrs, cfg.Cluster = c.Addrs(), true
		cfg.Username, cfg.Password = "admin", c.ACL.Passwords["admin"] // the tests inspect keys too
	} else {
		cfg.URL = redistest.Start(t).URL()
	}
	rdb, err := Dial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return New(rdb), &testRedis{client: rdb}
}

func TestCreateAndFindUser(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	u := &User{Email: "  Ada@Example.ORG ", Name: "Ada", PasswordHash: "h"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if !validID(u.ID) || u.Role != RoleCitizen || u.Email != "ada@example.org" {
		t.Fatalf("created: %+v", u)
	}
	for _, email := range []string{"ada@example.org", "ADA@EXAMPLE.ORG", " ada@Example.org"} {
		got, err := s.UserByEmail(ctx, email)
		if err != nil || got.ID != u.ID || got.Name != "Ada" || got.PasswordHash != "h" {
			t.Fatalf("by email %q: %+v %v", email, got, err)
		}
	}
	if _, err := s.UserByEmail(ctx, "nobody@example.org"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown email: %v", err)
	}
	if _, err := s.UserByID(ctx, "../../etc"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bad id: %v", err)
	}
	if err := s.CreateUser(ctx, &User{Email: "ADA@example.org", Name: "Other"}); !errors.Is(err, ErrEmailTaken) {
		t.Fatalf("duplicate email: %v", err)
	}
}

// Two (here: twenty) simultaneous registrations with one email make exactly one account.
func TestEmailUniqueUnderConcurrency(t *testing.T) {
	s, srv := newStore(t)
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = s.CreateUser(ctx, &User{Email: "race@example.org", Name: fmt.Sprint("racer ", i)})
		}(i)
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrEmailTaken):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d registrations succeeded, want exactly 1", won)
	}
	// The losers left nothing behind: one user hash, one index entry.
	c := srv.Client(t)
	keys := srv.Keys(t, "hw:user:*")
	if len(keys) != 1 {
		t.Fatalf("user hashes: %v", keys)
	}
	if n, _ := c.ZCard(ctx, usersKey).Result(); n != 1 {
		t.Fatalf("users index has %d entries", n)
	}
}

func TestUserUpdates(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	u := &User{Email: "b@example.org", Name: "B", PasswordHash: "old"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, u.ID, "new"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRole(ctx, u.ID, RoleModerator, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkEmailVerified(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := s.UserByID(ctx, u.ID)
	if got.PasswordHash != "new" || got.PasswordVersion != 1 || got.Role != RoleModerator || !got.EmailVerified {
		t.Fatalf("after updates: %+v", got)
	}
	if err := s.SetRole(ctx, newID(), RoleAdmin, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of a missing user: %v", err)
	}
	if _, err := ParseRole("root"); err == nil {
		t.Fatal("unknown role parsed")
	}
	if !RoleAdmin.AtLeast(RoleModerator) || RoleCitizen.AtLeast(RoleModerator) || !RoleModerator.AtLeast(RoleModerator) {
		t.Fatal("role order")
	}
}

func TestGoogleLinking(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	a := &User{Email: "a@example.org", Name: "A", PasswordHash: "pw"}
	if err := s.CreateUser(ctx, a); err != nil {
		t.Fatal(err)
	}
	sid := "11111111-2222-3333-4444-555555555555"
	storage := s.SessionStorage()
	if err := storage.Set(sid, []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.TrackSession(ctx, a.ID, SessionInfo{ID: sid}); err != nil {
		t.Fatal(err)
	}
	// Taking over an unverified account clears its password and ends its sessions.
	if err := s.LinkGoogle(ctx, a.ID, "google-1", true); err != nil {
		t.Fatal(err)
	}
	got, _ := s.UserByGoogle(ctx, "google-1")
	if got == nil || got.ID != a.ID || got.PasswordHash != "" || !got.EmailVerified {
		t.Fatalf("after take-over: %+v", got)
	}
	if b, _ := storage.Get(sid); b != nil {
		t.Fatal("session survived the take-over")
	}
	b := &User{Email: "b@example.org", Name: "B"}
	if err := s.CreateUser(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.LinkGoogle(ctx, b.ID, "google-1", false); !errors.Is(err, ErrGoogleTaken) {
		t.Fatalf("linking a taken google account: %v", err)
	}
	if err := s.CreateUser(ctx, &User{Email: "c@example.org", GoogleSub: "google-1"}); !errors.Is(err, ErrGoogleTaken) {
		t.Fatalf("creating with a taken google account: %v", err)
	}
	if _, err := s.UserByEmail(ctx, "c@example.org"); !errors.Is(err, ErrNotFound) {
		t.Fatal("failed create left its email claimed")
	}
}

func TestTokens(t *testing.T) {
	s, srv := newStore(t)
	ctx := context.Background()
	tok, err := s.NewToken(ctx, TokenReset, "uid1", 3, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) < 43 { // 256 bits
		t.Fatalf("token too short: %q", tok)
	}
	// Only a hash is stored: the token itself appears in no key or value.
	c := srv.Client(t)
	keys := srv.Keys(t, "*")
	for _, k := range keys {
		v, _ := c.Get(ctx, k).Result()
		if strings.Contains(k, tok) || strings.Contains(v, tok) {
			t.Fatalf("raw token stored in %s", k)
		}
	}
	if ttl, _ := c.TTL(ctx, keys[0]).Result(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("token TTL %v", ttl)
	}
	if uid, v, err := s.PeekToken(ctx, TokenReset, tok); err != nil || uid != "uid1" || v != 3 {
		t.Fatalf("peek: %s %d %v", uid, v, err)
	}
	if _, _, err := s.PeekToken(ctx, TokenVerify, tok); !errors.Is(err, ErrNotFound) {
		t.Fatal("a reset token worked as a verify token")
	}
	// Concurrent uses: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := s.ConsumeToken(ctx, TokenReset, tok); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("token consumed %d times", wins)
	}
}

func TestRateLimit(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		ok, _, err := s.Hit(ctx, "test", "1.2.3.4", 3, time.Minute)
		if err != nil || !ok {
			t.Fatalf("hit %d refused: %v", i, err)
		}
	}
	ok, retry, err := s.Hit(ctx, "test", "1.2.3.4", 3, time.Minute)
	if err != nil || ok || retry <= 0 || retry > time.Minute {
		t.Fatalf("4th hit: ok=%v retry=%v err=%v", ok, retry, err)
	}
	if ok, _, _ := s.Hit(ctx, "test", "5.6.7.8", 3, time.Minute); !ok {
		t.Fatal("another subject was limited")
	}
	if err := s.ClearHits(ctx, "test", "1.2.3.4"); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := s.Hit(ctx, "test", "1.2.3.4", 1, time.Minute); !ok {
		t.Fatal("cleared hits still count")
	}
	// The window ends.
	if ok, _, _ := s.Hit(ctx, "short", "x", 1, 50*time.Millisecond); !ok {
		t.Fatal("first hit")
	}
	time.Sleep(80 * time.Millisecond)
	if ok, _, _ := s.Hit(ctx, "short", "x", 1, 50*time.Millisecond); !ok {
		t.Fatal("limit did not reset after its window")
	}
}

func TestSessions(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	st := s.SessionStorage()
	if err := st.Reset(); err == nil {
		t.Fatal("session storage Reset must be refused")
	}
	ids := []string{"aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000002", "aaaaaaaa-0000-0000-0000-000000000003"}
	now := time.Now()
	for i, id := range ids {
		if err := st.Set(id, []byte("data"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.TrackSession(ctx, "u1", SessionInfo{ID: id, UserAgent: "UA", IP: "ip", LastSeen: now.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := st.Get("not-a-session-id"); b != nil {
		t.Fatal("odd ids must not be looked up")
	}
	list, err := s.Sessions(ctx, "u1")
	if err != nil || len(list) != 3 || list[0].ID != ids[2] {
		t.Fatalf("sessions: %+v %v", list, err)
	}
	// An expired session disappears from the list.
	_ = st.Delete(ids[0])
	if list, _ = s.Sessions(ctx, "u1"); len(list) != 2 {
		t.Fatalf("expired session still listed: %+v", list)
	}
	if err := s.RevokeSession(ctx, "u2", ids[1]); !errors.Is(err, ErrNotFound) {
		t.Fatal("another user revoked a session that is not theirs")
	}
	if err := s.RevokeSessions(ctx, "u1", ids[2]); err != nil {
		t.Fatal(err)
	}
	if b, _ := st.Get(ids[1]); b != nil {
		t.Fatal("revoked session still stored")
	}
	if b, _ := st.Get(ids[2]); b == nil {
		t.Fatal("the kept session was revoked")
	}
}

func configFor(srv *redistest.Server) config.Redis { return config.Redis{URL: srv.URL()} }
