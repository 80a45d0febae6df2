package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/mail/mailtest"
	"hazardwatch/password"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds the real hazardwatch command once per test run, for tests that must kill an
// instance the way a crash would (SIGKILL), which an in-process app cannot show.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hazardwatch-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "hazardwatch")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/hazardwatch")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// startProcess runs the binary with env on a free port and waits until it is ready.
func startProcess(t *testing.T, env map[string]string) (*exec.Cmd, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(binary(t), "serve")
	cmd.Env = append(os.Environ(), "ADDR="+addr, "BASE_URL=http://"+addr, "DATA_DIR="+t.TempDir(), "MAIL_DIR="+t.TempDir())
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	if !eventually(t, 30*time.Second, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}) {
		t.Fatalf("the instance did not become ready:\n%s", logs.String())
	}
	return cmd, base
}

// signIn signs a user in through the real form and returns the client and a CSRF token.
func signIn(t *testing.T, base, email, pw string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	token := func() string {
		u, _ := url.Parse(base)
		for _, ck := range jar.Cookies(u) {
			if ck.Name == "hw_csrf" {
				return ck.Value
			}
		}
		return ""
	}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.PostForm(base+"/login", url.Values{"_csrf": {token()}, "email": {email}, "password": {pw}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %v %v", err, resp)
	}
	resp.Body.Close()
	return c, token()
}

func account(t *testing.T, st *store.Store, name string, role store.Role) *store.User {
	t.Helper()
	hash, err := password.Hash("a long password")
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{Name: name, Email: strings.ToLower(name) + "@example.org", PasswordHash: hash, Role: role}
	if err := st.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// An instance is killed (SIGKILL) while it sends the status mail a moderator's action caused;
// another instance sends it, exactly once.
func TestStatusMailSurvivesAnInstanceCrash(t *testing.T) {
	srv := redistest.Start(t)
	smtp := mailtest.Start(t)
	smtp.Stall()
	env := map[string]string{"REDIS_URL": srv.URL(), "SMTP_URL": smtp.URL(), "WORKER_CLAIM_AFTER": "2s", "RATE_LIMITS": "off"}
	// The doomed instance does the moderator's action and starts sending the mail.
	proc, base := startProcess(t, env)
	b, _ := newAppEnv(t, env)
	st := b.Store
	rep, mod := account(t, st, "Rey", store.RoleCitizen), account(t, st, "Mo", store.RoleModerator)
	now := time.Now().UTC()
	r := &store.Report{ID: store.NewReportID(), Type: "pothole", Severity: "high", Lat: 32.8, Lng: 35.0, Status: hazard.Pending,
		ReporterID: rep.ID, Photos: []string{}, CreatedAt: now, UpdatedAt: now}
	if _, _, err := st.CreateReport(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	b.Shutdown() // only the doomed instance works until it dies
	c, token := signIn(t, base, mod.Email, "a long password")
	resp, err := c.PostForm(base+"/moderation/reports/"+r.ID, url.Values{"_csrf": {token}, "action": {"approve"}, "version": {"1"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %v %v", err, resp)
	}
	resp.Body.Close()
	select {
	case <-smtp.Sending():
	case <-time.After(30 * time.Second):
		t.Fatal("the doomed instance never started sending")
	}
	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
	smtp.Release()

	// The survivor takes the mail over once its claim time has passed.
	survivor, _, logs := appWith(t, env)
	if !eventually(t, 30*time.Second, func() bool { return len(smtp.To(rep.Email)) > 0 }) {
		t.Fatalf("the status mail was lost with the instance:\n%s", logs.String())
	}
	if !eventually(t, 30*time.Second, func() bool {
		_, pending, err := survivor.Store.StreamLag(t.Context(), store.MailStream, store.MailGroup)
		return err == nil && pending == 0
	}) {
		t.Fatal("the mail queue did not drain")
	}
	if got := smtp.To(rep.Email); len(got) != 1 || !strings.Contains(got[0].Subject, "Open") {
		t.Fatalf("%d status mails after the crash: %+v", len(got), got)
	}
}

// Two instances, both running workers: every recipient of a status change gets one mail.
func TestOneMailPerRecipientWithTwoInstances(t *testing.T) {
	srv := redistest.Start(t)
	smtp := mailtest.Start(t)
	env := map[string]string{"REDIS_URL": srv.URL(), "SMTP_URL": smtp.URL(), "WORKER_CLAIM_AFTER": "2s"}
	a, _ := newAppEnv(t, env)
	b, _ := newAppEnv(t, env)
	st := a.Store
	rep := account(t, st, "Rey", store.RoleCitizen)
	var followers []*store.User
	for i := 0; i < 4; i++ {
		followers = append(followers, account(t, st, fmt.Sprint("Fol", i), store.RoleCitizen))
	}
	ctx := t.Context()
	created, _, err := a.Life.Create(ctx, lifecycle.Draft{ID: store.NewReportID(), ReporterID: rep.ID, Type: "tree", Severity: "high", Lat: 32.8, Lng: 35, HasPlace: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		if err := st.Follow(ctx, created.ID, f.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	mod := lifecycle.Actor{ID: "mod0000000000001", Role: store.RoleModerator}
	for _, act := range []hazard.Action{hazard.Approve, hazard.Start, hazard.Resolve} {
		life := a.Life
		if act == hazard.Start {
			life = b.Life
		}
		if _, err := life.Transition(ctx, mod, created.ID, 0, act, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	everyone := append([]*store.User{rep}, followers...)
	if !eventually(t, 30*time.Second, func() bool {
		for _, u := range everyone {
			if len(smtp.To(u.Email)) < 3 {
				return false
			}
		}
		_, pending, err := st.StreamLag(ctx, store.MailStream, store.MailGroup)
		lag, _, _ := st.StreamLag(ctx, store.MailStream, store.MailGroup)
		return err == nil && pending == 0 && lag == 0
	}) {
		t.Fatal("not every mail arrived")
	}
	for _, u := range everyone {
		if got := smtp.To(u.Email); len(got) != 3 {
			t.Errorf("%s got %d mails for 3 changes", u.Name, len(got))
		}
	}
}

// newAppEnv starts an in-process app with env on a free port.
func newAppEnv(t *testing.T, env map[string]string) (*App, string) {
	t.Helper()
	a, base, _ := appWith(t, env)
	return a, base
}
