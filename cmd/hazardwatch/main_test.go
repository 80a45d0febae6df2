package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hazardwatch/config"
	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/password"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

func TestBadConfigStopsWithOneLineNamingTheVariable(t *testing.T) {
	t.Setenv("REDIS_URL", "http://nope")
	err := run(t.Context(), nil, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || exitCode(err) != 2 {
		t.Fatalf("want a config error with exit code 2, got %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "REDIS_URL") || strings.Contains(msg, "\n") {
		t.Errorf("message should be one line naming REDIS_URL: %q", msg)
	}
}

func TestUnknownCommand(t *testing.T) {
	err := run(t.Context(), []string{"frobnicate"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("unknown command: %v", err)
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"help"}, &out, &bytes.Buffer{}); err != nil || !strings.Contains(out.String(), "serve") {
		t.Fatalf("help: %v %q", err, out.String())
	}
}

func TestUserCommands(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", srv.URL())
	var out bytes.Buffer
	err := run(t.Context(), []string{"user", "create", "--email", "Mod@Example.org", "--password", "a long password", "--name", "Mo D", "--role", "moderator"}, &out, &bytes.Buffer{})
	if err != nil || !strings.Contains(out.String(), "created moderator user Mo D <mod@example.org>") {
		t.Fatalf("create: %v %q", err, out.String())
	}
	rdb, _ := store.Dial(config.Redis{URL: srv.URL()})
	defer rdb.Close()
	st := store.New(rdb)
	u, err := st.UserByEmail(t.Context(), "mod@example.org")
	if err != nil || u.Role != store.RoleModerator {
		t.Fatalf("stored: %+v %v", u, err)
	}
	if ok, _ := password.Check("a long password", u.PasswordHash); !ok {
		t.Fatal("the password does not check")
	}

	out.Reset()
	if err := run(t.Context(), []string{"user", "role", "--email", "mod@example.org", "--role", "admin"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if u, _ = st.UserByEmail(t.Context(), "mod@example.org"); u.Role != store.RoleAdmin {
		t.Fatalf("role now %s", u.Role)
	}

	for _, args := range [][]string{
		{"user", "create", "--email", "mod@example.org", "--password", "a long password", "--name", "Again"},
		{"user", "create", "--email", "x@example.org", "--password", "short", "--name", "X"},
		{"user", "create", "--email", "w@example.org", "--password", "qwertyuiop", "--name", "W"},
		{"user", "create", "--email", "nope", "--password", "a long password", "--name", "X"},
		{"user", "create", "--email", "y@example.org", "--password", "a long password", "--name", ""},
		{"user", "create", "--email", "z@example.org", "--password", "a long password", "--name", "Z", "--role", "root"},
		{"user", "role", "--email", "ghost@example.org", "--role", "admin"},
		{"user", "role", "--email", "mod@example.org", "--role", ""},
		{"user", "frob"},
		{"user"},
	} {
		if err := run(t.Context(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestSeed(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", srv.URL())
	var out bytes.Buffer
	if err := run(t.Context(), []string{"seed", "--reports", "1200", "--area", "32.8,35.0,5"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "seeded 1200/1200 reports") {
		t.Fatalf("progress: %q", out.String())
	}
	c := srv.Client(t)
	if n, _ := c.ZCard(t.Context(), "hw:reports:time").Result(); n != 1200 {
		t.Fatalf("%d reports indexed", n)
	}
	rdb, _ := store.Dial(config.Redis{URL: srv.URL()})
	defer rdb.Close()
	pts, _, err := store.New(rdb).InBox(t.Context(), store.BBox{MinLng: 34.9, MinLat: 32.7, MaxLng: 35.1, MaxLat: 32.9}, hazard.Statuses, 0)
	if err != nil || len(pts) != 1200 {
		t.Fatalf("all seeded reports should lie within 5 km: %d %v", len(pts), err)
	}
	for _, bad := range [][]string{{"seed", "--area", "1,2"}, {"seed", "--reports", "-1"}, {"seed", "--area", "95,0,1"}} {
		if err := run(t.Context(), bad, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestRedisRepairCommand(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", srv.URL())
	if err := run(t.Context(), []string{"seed", "--reports", "10"}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	srv.Client(t).Del(t.Context(), "hw:reports:time")
	var out bytes.Buffer
	if err := run(t.Context(), []string{"redis", "repair"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "10 reports read, 10 reindexed") {
		t.Fatalf("repair said %q", out.String())
	}
	if err := run(t.Context(), []string{"redis", "fix"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatal("unknown redis subcommand accepted")
	}
}

// `hazardwatch worker` runs the event consumers and the mail sender with no web server: a
// moderator's change made elsewhere reaches the reporter's mailbox, ADDR stays closed, and the
// command returns cleanly when stopped.
func TestWorkerCommand(t *testing.T) {
	srv := redistest.Start(t)
	mailDir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("REDIS_URL", srv.URL())
	t.Setenv("MAIL_DIR", mailDir)
	t.Setenv("ADDR", addr)
	t.Setenv("DATA_DIR", t.TempDir())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	logs := &lockedBuffer{}
	go func() { done <- run(ctx, []string{"worker"}, &bytes.Buffer{}, logs) }()

	rdb, _ := store.Dial(config.Redis{URL: srv.URL()})
	defer rdb.Close()
	st := store.New(rdb)
	u := &store.User{Email: "rep@example.org", Name: "Rep", Role: store.RoleCitizen, EmailVerified: true}
	if err := st.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	life := lifecycle.New(st, nil, lifecycle.Config{Moderation: "post", ReportExpiry: time.Hour, TooCloseRadius: 15}, slog.New(slog.DiscardHandler))
	r, _, err := life.Create(t.Context(), lifecycle.Draft{ID: store.NewReportID(), ReporterID: u.ID, Type: "pothole", Severity: "high",
		Description: "Deep hole", Lat: 32.8, Lng: 35.0, HasPlace: true})
	if err != nil {
		t.Fatal(err)
	}
	// The worker's consumer groups start at the stream's end when they are made: wait for them.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, _, err := st.StreamLag(t.Context(), store.EventsStream, "notify"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal("the worker never joined the events stream")
		}
	}
	mod := lifecycle.Actor{ID: "mod0000000000000", Role: store.RoleModerator}
	if _, err := life.Transition(t.Context(), mod, r.ID, 0, hazard.Start, "Crew on the way", ""); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(mailDir, "*.eml"))
		if len(files) == 1 {
			b, _ := os.ReadFile(files[0])
			if !strings.Contains(string(b), "rep@example.org") {
				t.Fatalf("mail to the wrong person:\n%s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status mail from the worker command (%d files); its log:\n%s", len(files), logs.String())
		}
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the worker command serves HTTP")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("worker stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the worker command did not stop")
	}
}
