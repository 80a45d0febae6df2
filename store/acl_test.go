package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/config"
	"hazardwatch/hazard"
	"hazardwatch/store/redistest"
)

// aclServer starts Redis with a users.acl made from the project's template by scripts/redis-acl.sh.
func aclServer(t *testing.T) (*redistest.Server, *redistest.ACL) {
	t.Helper()
	acl := redistest.NewACL(t)
	return redistest.Start(t, redistest.Options{Args: []string{"--aclfile", acl.File}}), acl
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
	srv, acl := aclServer(t)
	ctx := context.Background()
	// No anonymous access (the default user has a password nobody is given).
	anon := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer anon.Close()
	if err := anon.Set(ctx, "hw:x", 1, 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("anonymous write: %v", err)
	}

	app := userClient(t, srv, "app", acl.Passwords["app"])
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
	if err := s.SetRole(ctx, u.ID, RoleAdmin, ""); err != nil {
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
	mon := userClient(t, srv, "monitor", acl.Passwords["monitor"])
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

// Each user of users.acl.template may run what its job needs and is refused the rest, checked
// with ACL DRYRUN (Redis's own answer for "may this user run this"). The app's dangerous
// commands are refused by name in its rule, not only by category, and refused when it connects.
func TestACLRules(t *testing.T) {
	srv, acl := aclServer(t)
	ctx := context.Background()
	admin := userClient(t, srv, "admin", acl.Passwords["admin"])
	dry := func(user string, args ...any) error {
		msg, err := admin.Do(ctx, append([]any{"ACL", "DRYRUN", user}, args...)...).Text()
		if err != nil {
			return err
		}
		if msg != "OK" {
			return errors.New(msg)
		}
		return nil
	}
	type check struct {
		user  string
		args  []any
		allow bool
	}
	var checks []check
	allow := func(user string, args ...any) { checks = append(checks, check{user, args, true}) }
	deny := func(user string, args ...any) { checks = append(checks, check{user, args, false}) }

	// app: data, scripts, streams (the mail and event streams), pub/sub on events:* (sharded too).
	allow("app", "GET", "hw:x")
	allow("app", "SET", "cache:geo:x", "v")
	allow("app", "EVALSHA", "0123456789012345678901234567890123456789", "1", "hw:x")
	allow("app", "EVAL", "return 1", "1", "hw:x")
	allow("app", "XADD", "hw:mail:queue", "*", "f", "v")
	allow("app", "XREADGROUP", "GROUP", "g", "c", "STREAMS", "hw:mail:queue", ">")
	allow("app", "XAUTOCLAIM", "hw:mail:queue", "g", "c", "60000", "0")
	allow("app", "XACK", "hw:mail:queue", "g", "1-0")
	allow("app", "PUBLISH", "events:reports", "m")
	allow("app", "SUBSCRIBE", "events:reports")
	allow("app", "SPUBLISH", "events:reports", "m")
	allow("app", "SSUBSCRIBE", "events:reports")
	allow("app", "CLUSTER", "SLOTS")
	allow("app", "MULTI")
	deny("app", "FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', function() return 1 end)")
	deny("app", "FUNCTION", "FLUSH")
	deny("app", "FUNCTION", "DELETE", "x")
	deny("app", "SCRIPT", "FLUSH")
	deny("app", "SELECT", "1")
	deny("app", "DEBUG", "SLEEP", "0")
	deny("app", "FLUSHALL")
	deny("app", "KEYS", "*")
	deny("app", "SCAN", "0")
	deny("app", "CONFIG", "GET", "*")
	deny("app", "INFO")
	deny("app", "GET", "other:x")
	deny("app", "PUBLISH", "other", "m")
	// monitor: health figures only.
	allow("monitor", "INFO")
	allow("monitor", "SLOWLOG", "GET", "10")
	allow("monitor", "LATENCY", "LATEST")
	allow("monitor", "LATENCY", "DOCTOR")
	allow("monitor", "MEMORY", "DOCTOR")
	deny("monitor", "GET", "hw:x")
	deny("monitor", "CONFIG", "SET", "maxmemory", "0")
	deny("monitor", "SLOWLOG", "RESET")
	// replication: syncing from a primary, nothing else.
	allow("replication", "PSYNC", "?", "-1")
	allow("replication", "REPLCONF", "listening-port", "6379")
	allow("replication", "PING")
	deny("replication", "GET", "hw:x")
	deny("replication", "INFO")
	deny("replication", "CONFIG", "SET", "maxmemory", "0")
	// sentinel: what Sentinel runs on the nodes, not data and not the admin's powers.
	allow("sentinel", "INFO")
	allow("sentinel", "ROLE")
	allow("sentinel", "SLAVEOF", "NO", "ONE")
	allow("sentinel", "CONFIG", "REWRITE")
	allow("sentinel", "PUBLISH", "__sentinel__:hello", "m")
	allow("sentinel", "SUBSCRIBE", "__sentinel__:hello")
	allow("sentinel", "CLIENT", "KILL", "TYPE", "normal")
	deny("sentinel", "GET", "hw:x")
	deny("sentinel", "FLUSHALL")
	deny("sentinel", "CONFIG", "SET", "appendonly", "no")
	deny("sentinel", "KEYS", "*")
	deny("sentinel", "PUBLISH", "events:reports", "m")

	for _, c := range checks {
		err := dry(c.user, c.args...)
		if c.allow && err != nil {
			t.Errorf("%s may not %v: %v", c.user, c.args, err)
		}
		if !c.allow && err == nil {
			t.Errorf("%s may %v", c.user, c.args)
		}
	}

	// And as the app user itself: each named denial answers NOPERM. (DEBUG is left to DRYRUN:
	// a connection meets the server's enable-debug-command refusal before the ACL.)
	app := userClient(t, srv, "app", acl.Passwords["app"])
	for _, args := range [][]any{{"FUNCTION", "FLUSH"}, {"FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', function() return 1 end)"},
		{"SCRIPT", "FLUSH"}, {"SELECT", "1"}} {
		if err := app.Do(ctx, args...).Err(); !isNoPerm(err) {
			t.Errorf("%v as the app user: want NOPERM, got %v", args, err)
		}
	}
}

// Redis 7.0 replays its AOF as the default user and re-checks the ACL at every EXEC: with the
// default user off, the transactions and multi-write scripts the store relies on would vanish at
// the next start. The shipped ACL keeps them; the control shows the trap is real.
func TestAOFReplayUnderACLs(t *testing.T) {
	ctx := context.Background()
	write := func(srv *redistest.Server, c *redis.Client) {
		s := New(c)
		r := newReport("aof-user", "tree", 32.8, 35.0)
		if _, _, err := s.CreateReport(ctx, r); err != nil { // scripts with many writes
			t.Fatal(err)
		}
		if err := c.Eval(ctx, "redis.call('SET', KEYS[1], 1); redis.call('SET', KEYS[2], 2); return 1", []string{"hw:aof:a", "hw:aof:b"}).Err(); err != nil {
			t.Fatal(err)
		}
		srv.Kill()
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	acl := redistest.NewACL(t)
	srv := redistest.Start(t, redistest.Options{Role: "single", Vars: map[string]string{"ACLFILE": acl.File}, Username: "admin", Password: acl.Passwords["admin"]})
	write(srv, srv.Client(t))
	if n, err := srv.Client(t).Exists(ctx, "hw:aof:a", "hw:aof:b").Result(); err != nil || n != 2 {
		t.Fatalf("with the shipped ACL, %d of 2 scripted writes survived a restart (%v)", n, err)
	}

	// The control: the default user off.
	off := filepath.Join(t.TempDir(), "off.acl")
	if err := os.WriteFile(off, []byte("user default off\nuser admin on >pw ~* &* +@all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctl := redistest.Start(t, redistest.Options{Role: "single", Vars: map[string]string{"ACLFILE": off}, Username: "admin", Password: "pw"})
	write(ctl, ctl.Client(t))
	if n, _ := ctl.Client(t).Exists(ctx, "hw:aof:a", "hw:aof:b").Result(); n != 0 {
		t.Fatalf("with the default user off, %d scripted writes survived: this Redis no longer drops them, and the template may turn default off again", n)
	}
}
