package store

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/config"
	"hazardwatch/hazard"
	"hazardwatch/store/redistest"
)

// aclServer starts Redis with users.acl made from the project's template by scripts/redis-acl.sh.
func aclServer(t *testing.T) *redistest.Server {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..")
	acl := filepath.Join(t.TempDir(), "users.acl")
	cmd := exec.Command(filepath.Join(root, "scripts", "redis-acl.sh"), acl)
	cmd.Env = append(os.Environ(), "REDIS_APP_PASSWORD=app-secret-1", "REDIS_MONITOR_PASSWORD=mon-secret-2", "REDIS_ADMIN_PASSWORD=adm-secret-3")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redis-acl.sh: %v\n%s", err, out)
	}
	return redistest.Start(t, redistest.Options{Args: []string{"--aclfile", acl}})
}

func userClient(t *testing.T, srv *redistest.Server, user, pass string) redis.UniversalClient {
	t.Helper()
	rdb, err := Dial(config.Redis{URL: srv.URL(), Username: user, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func isNoPerm(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOPERM") }

// The app's Redis user may do what the app does and nothing else.
func TestLeastPrivilegeAppUser(t *testing.T) {
	srv := aclServer(t)
	ctx := context.Background()
	// The default user is off: no anonymous access.
	anon := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer anon.Close()
	if err := anon.Set(ctx, "hw:x", 1, 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("anonymous write: %v", err)
	}

	app := userClient(t, srv, "app", "app-secret-1")
	for name, err := range map[string]error{
		"KEYS":          app.Keys(ctx, "*").Err(),
		"FLUSHALL":      app.FlushAll(ctx).Err(),
		"CONFIG GET":    app.ConfigGet(ctx, "*").Err(),
		"INFO":          app.Info(ctx).Err(),
		"SCAN":          app.Scan(ctx, 0, "*", 10).Err(),
		"key elsewhere": app.Set(ctx, "other:thing", 1, 0).Err(),
		"channel":       app.Publish(ctx, "admin:secret", "x").Err(),
	} {
		if !isNoPerm(err) {
			t.Errorf("%s as the app user: want NOPERM, got %v", name, err)
		}
	}

	if err := app.Do(ctx, "DEBUG", "SLEEP", "0").Err(); err == nil {
		t.Error("DEBUG allowed for the app user")
	}

	// Everything the app does works under it.
	s := New(app)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	u := &User{Email: "acl@example.org", Name: "Acl"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRole(ctx, u.ID, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NewToken(ctx, TokenReset, u.ID, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Hit(ctx, "login-ip", "1.2.3.4", 10, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Throttle(ctx, "nominatim", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	st := s.SessionStorage()
	if err := st.Set("aaaaaaaa-0000-0000-0000-000000000001", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	r := newReport(u.ID, "ice", 32.8, 35.0)
	r.ExpiresAt = time.Now().Add(time.Hour)
	if _, _, err := s.CreateReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := transition(ctx, s, r.ID, 0, hazard.Open, u.ID, "ok"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Confirm(ctx, r.ID, "someone", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Nearby(ctx, 32.8, 35.0, 50, "ice"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.InBox(ctx, BBox{34, 32, 36, 33}, []hazard.Status{hazard.Open}, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Statistics(ctx, time.Now(), 30); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, AuditEntry{Actor: u.ID, Action: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureGroup(ctx, MailStream, MailGroup); err != nil {
		t.Fatal(err)
	}
	if err := s.EnqueueMail(ctx, QueuedMail{Key: "k", To: "a@example.org", Subject: "s"}); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.ReadGroup(ctx, MailStream, MailGroup, "c1", 10, 10*time.Millisecond)
	if err != nil || len(msgs) != 1 {
		t.Fatal(err)
	}
	if ok, err := s.LeaseMail(ctx, "k", time.Minute); err != nil || !ok {
		t.Fatal(err)
	}
	if err := s.MailDone(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if err := s.Bury(ctx, MailStream, MailGroup, msgs[0], 1, "test"); err != nil {
		t.Fatal(err)
	}
	dead, err := s.DeadLetters(ctx, 10)
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead letters: %v %v", dead, err)
	}
	if err := s.RetryDeadLetter(ctx, dead[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimIdle(ctx, MailStream, MailGroup, "c2", 0, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRetry(ctx, MailGroup, msgs[0].ID, Retry{Tries: 1}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SweepOutbox(ctx, time.Now().Add(time.Hour), 10); err != nil {
		t.Fatalf("outbox sweep: %d %v", n, err)
	}
	for _, e := range allEvents(t, s) {
		if err := s.ApplyStats(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.GridCounts(ctx, []Cell{CellOf(11, 32.8, 35.0)}, GridQuery{Statuses: []hazard.Status{hazard.Open}}); err != nil {
		t.Fatal(err)
	}
	cache := NewCache(app)
	if err := cache.Set(ctx, "geo:fwd", "x", []byte("{}"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if unlock, err := cache.Lock(ctx, "geo:fwd", "x", time.Second); err != nil || unlock == nil {
		t.Fatalf("cache lock: %v", err)
	} else {
		unlock()
	}
	events := s.LiveUpdates(ctx)
	time.Sleep(100 * time.Millisecond)
	if err := s.PublishLive(ctx, "report.updated {}"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("no event under the app user")
	}

	// The monitoring user reads health but no data.
	mon := userClient(t, srv, "monitor", "mon-secret-2")
	m := NewMonitor(mon, s)
	if _, err := m.Health(ctx); err != nil {
		t.Fatalf("health as monitor: %v", err)
	}
	if err := mon.Get(ctx, "hw:users").Err(); !isNoPerm(err) {
		t.Fatalf("monitor reading data: %v", err)
	}
	// A wrong password is refused.
	bad := userClient(t, srv, "app", "wrong")
	if err := bad.Ping(ctx).Err(); err == nil || errors.Is(err, redis.Nil) {
		t.Fatal("a wrong password was accepted")
	}
}
