package worker

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"hazardwatch/config"
	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/mail"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

type env struct {
	st   *store.Store
	life *lifecycle.Service
	sink *sink
	deps Deps
}

func newEnv(t testing.TB) *env {
	t.Helper()
	rdb, err := store.Dial(config.Redis{URL: redistest.Start(t).URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	st := store.New(rdb)
	log := slog.New(slog.DiscardHandler)
	life := lifecycle.New(st, nil, lifecycle.Config{Moderation: "post", ReportExpiry: time.Hour, TooCloseRadius: 15}, log)
	e := &env{st: st, life: life, sink: &sink{}}
	e.deps = Deps{Store: st, Life: life, Sender: e.sink, BaseURL: "http://hw.test", Log: log, Consumer: "c1",
		Tuning: Tuning{ClaimAfter: 50 * time.Millisecond, Backoff: 20 * time.Millisecond, MaxTries: 3}}
	for _, c := range Consumers(e.deps) {
		if err := st.EnsureGroup(context.Background(), store.EventsStream, c.Group); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

type sink struct {
	mu   sync.Mutex
	sent []mail.Message
}

func (s *sink) Send(_ context.Context, m mail.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m)
	return nil
}

func (s *sink) to(addr string) []mail.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []mail.Message
	for _, m := range s.sent {
		if m.To == addr {
			out = append(out, m)
		}
	}
	return out
}

// drain runs runners until none of them has anything left.
func drain(t *testing.T, runners ...*Runner) {
	t.Helper()
	for idle := 0; idle < 3; {
		n := 0
		for _, r := range runners {
			got, err := r.Step(context.Background(), 5*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			n += got
		}
		if n == 0 {
			idle++
		} else {
			idle = 0
		}
	}
}

func user(t *testing.T, st *store.Store, name string) *store.User {
	u := &store.User{Name: name, Email: strings.ToLower(name) + "@example.org"}
	if err := st.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// A random run of the report lifecycle, every event handled twice (a redelivery): statistics
// equal a recount, and every mail goes out once.
func TestRedeliveryChangesNothingTwice(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 9))
	mod := lifecycle.Actor{ID: user(t, e.st, "Mod").ID, Role: store.RoleModerator}
	reporters := []*store.User{user(t, e.st, "Ann"), user(t, e.st, "Ben"), user(t, e.st, "Cy")}
	var ids []string
	for i := 0; i < 120; i++ {
		if len(ids) == 0 || rng.IntN(3) == 0 {
			u := reporters[rng.IntN(len(reporters))]
			r, _, err := e.life.Create(ctx, lifecycle.Draft{ID: store.NewReportID(), ReporterID: u.ID, Type: hazard.Types[rng.IntN(4)].Code,
				Severity: "low", Lat: 32 + rng.Float64(), Lng: 35 + rng.Float64(), HasPlace: true, AllowClose: true})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
			continue
		}
		a := lifecycle.ModeratorActions[rng.IntN(len(lifecycle.ModeratorActions))]
		note := ""
		if a == hazard.Reject {
			note = "no"
		}
		_, err := e.life.Transition(ctx, mod, ids[rng.IntN(len(ids))], 0, a, note, ids[rng.IntN(len(ids))])
		if lifecycle.KindOf(err) == 0 && err != nil {
			t.Fatal(err)
		}
	}
	// Each consumer's group gets every event; a second group per consumer sees them all again.
	var runners []*Runner
	for _, c := range Consumers(e.deps) {
		for _, group := range []string{c.Group, c.Group + "-again"} {
			c2 := c
			c2.Group = group
			if err := e.st.EnsureGroup(ctx, store.EventsStream, group); err != nil {
				t.Fatal(err)
			}
			runners = append(runners, EventRunner(e.deps, c2))
		}
	}
	// The "-again" groups start at the stream's end: replay by resetting them to the start.
	for _, r := range runners {
		if strings.HasSuffix(r.Group, "-again") {
			if err := e.st.ResetGroup(ctx, store.EventsStream, r.Group); err != nil {
				t.Fatal(err)
			}
		}
	}
	drain(t, append(runners, MailRunner(e.deps))...)

	st, err := e.st.Statistics(ctx, time.Now(), 2)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := e.st.ReportsByID(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	var created, resolvedChanges int64
	for _, r := range rs {
		created++
		for _, h := range r.History[1:] {
			if h.To == hazard.Resolved {
				resolvedChanges++
			}
		}
	}
	today := st.Days[len(st.Days)-1]
	if today.Created != created || today.ByStatus["resolved"] != resolvedChanges {
		t.Fatalf("statistics after a redelivery: created %d (recount %d), resolved %d (recount %d)", today.Created, created, today.ByStatus["resolved"], resolvedChanges)
	}
	// One mail per reporter per status change of their reports, never two.
	for _, u := range reporters {
		want := 0
		for _, r := range rs {
			if r.ReporterID == u.ID {
				want += len(r.History) - 1
			}
		}
		if got := len(e.sink.to(u.Email)); got != want {
			t.Errorf("%s: %d mails, %d status changes", u.Name, got, want)
		}
	}
}

// A message that always fails is retried with a backoff, then dead-lettered; "retry" from the
// admin page gives it back to its group only, and it is handled once it works.
func TestDeadLetters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var mu sync.Mutex
	fail, calls := true, map[string]int{}
	handler := func(group string) Consumer {
		return Consumer{Group: group, Handle: func(_ context.Context, ev store.Event) error {
			mu.Lock()
			defer mu.Unlock()
			calls[group]++
			if fail && group == "flaky" {
				return errors.New("the body's server is down")
			}
			return nil
		}}
	}
	flaky, steady := EventRunner(e.deps, handler("flaky")), EventRunner(e.deps, handler("steady"))
	for _, g := range []string{"flaky", "steady"} {
		if err := e.st.EnsureGroup(ctx, store.EventsStream, g); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.life.Create(ctx, lifecycle.Draft{ID: store.NewReportID(), ReporterID: "u", Type: "ice", Severity: "low", Lat: 1, Lng: 1, HasPlace: true}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		drain(t, flaky, steady)
		if n, _ := e.st.DeadLetterCount(ctx); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never dead-lettered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	dead, err := e.st.DeadLetters(ctx, 10)
	if err != nil || len(dead) != 2 { // created and published, both
		t.Fatalf("dead letters: %+v %v", dead, err)
	}
	mu.Lock()
	if calls["flaky"] != 2*3 || calls["steady"] != 2 {
		t.Fatalf("calls: %v (want 3 tries each for the flaky group, 1 for the steady one)", calls)
	}
	fail = false
	mu.Unlock()
	if dead[0].Group != "flaky" || !strings.Contains(dead[0].Error, "down") || dead[0].Tries != 3 {
		t.Fatalf("dead letter: %+v", dead[0])
	}
	if err := e.st.RetryDeadLetter(ctx, dead[0].ID); err != nil {
		t.Fatal(err)
	}
	drain(t, flaky, steady)
	mu.Lock()
	defer mu.Unlock()
	if calls["flaky"] != 7 || calls["steady"] != 2 {
		t.Fatalf("after retry: %v", calls)
	}
	if n, _ := e.st.DeadLetterCount(ctx); n != 1 {
		t.Fatalf("%d dead letters left", n)
	}
}

// A consumer that read an event and died: another takes it over (XAUTOCLAIM) and handles it once.
func TestCrashedConsumerIsTakenOver(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := user(t, e.st, "Rey")
	r, _, err := e.life.Create(ctx, lifecycle.Draft{ID: store.NewReportID(), ReporterID: u.ID, Type: "ice", Severity: "low", Lat: 1, Lng: 1, HasPlace: true})
	if err != nil {
		t.Fatal(err)
	}
	notifyC := Consumers(e.deps)[2]
	drain(t, EventRunner(e.deps, notifyC)) // the create events: nothing to mail
	if _, err := e.life.Transition(ctx, lifecycle.Actor{ID: "m", Role: store.RoleModerator}, r.ID, 0, hazard.Approve, "", ""); err != nil {
		t.Fatal(err)
	}
	// The doomed consumer reads the status change and never acknowledges it.
	if msgs, err := e.st.ReadGroup(ctx, store.EventsStream, NotifyGroup, "doomed", 10, time.Millisecond); err != nil || len(msgs) != 1 {
		t.Fatalf("doomed read: %d %v", len(msgs), err)
	}
	d2 := e.deps
	d2.Consumer = "survivor"
	survivor := EventRunner(d2, notifyC)
	deadline := time.Now().Add(10 * time.Second)
	for len(e.sink.to(u.Email)) == 0 {
		drain(t, survivor, MailRunner(d2))
		if time.Now().After(deadline) {
			t.Fatal("the survivor never took the event over")
		}
		time.Sleep(20 * time.Millisecond)
	}
	drain(t, survivor, MailRunner(d2))
	if got := e.sink.to(u.Email); len(got) != 1 || !strings.Contains(got[0].Subject, "Open") || got[0].HTML == "" {
		t.Fatalf("mails: %+v", got)
	}
}

// The reporter's and a follower's mails are worded for each; a rejection's reason goes to the
// reporter only; an expiry and a duplicate have mails of their own.
func TestNotifyWording(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rep, fol, modU := user(t, e.st, "Rey"), user(t, e.st, "Fay"), user(t, e.st, "Mo")
	mod := lifecycle.Actor{ID: modU.ID, Role: store.RoleModerator}
	mk := func(lat float64) *store.Report {
		r, _, err := e.life.Create(ctx, lifecycle.Draft{ID: store.NewReportID(), ReporterID: rep.ID, Type: "ice", Severity: "low", Lat: lat, Lng: 1, HasPlace: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.Follow(ctx, r.ID, fol.ID, true); err != nil {
			t.Fatal(err)
		}
		if err := e.st.Follow(ctx, r.ID, modU.ID, true); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b, c, orig := mk(1), mk(2), mk(3), mk(4)
	do := func(id string, act hazard.Action, note, dup string) {
		if _, err := e.life.Transition(ctx, mod, id, 0, act, note, dup); err != nil {
			t.Fatal(err)
		}
	}
	do(a.ID, hazard.Start, "Crew booked", "")
	do(b.ID, hazard.Reject, "Private land: call the owner", "")
	do(c.ID, hazard.MarkDuplicate, "", orig.ID)
	runners := []*Runner{MailRunner(e.deps)}
	for _, c := range Consumers(e.deps) {
		runners = append(runners, EventRunner(e.deps, c))
	}
	drain(t, runners...)
	repMails, folMails := e.sink.to(rep.Email), e.sink.to(fol.Email)
	subjects := func(ms []mail.Message) string {
		var s []string
		for _, m := range ms {
			s = append(s, m.Subject)
		}
		return strings.Join(s, " | ")
	}
	if len(repMails) != 3 || !strings.Contains(subjects(repMails), "Your hazard report: In progress") ||
		!strings.Contains(subjects(repMails), "already reported") || !strings.Contains(subjects(repMails), "Rejected") {
		t.Fatalf("reporter: %s", subjects(repMails))
	}
	if len(folMails) != 2 || !strings.Contains(folMails[0].Subject, "A report you follow: In progress") || !strings.Contains(folMails[0].Text, "you follow") {
		t.Fatalf("follower: %s", subjects(folMails))
	}
	for _, m := range append(repMails, folMails...) {
		if strings.Contains(m.Text, "Private land") && m.To != rep.Email {
			t.Fatal("a rejection's reason reached a follower")
		}
	}
	if got := e.sink.to(modU.Email); len(got) != 0 {
		t.Fatalf("the moderator who acted got %d mails", len(got))
	}
	// Expiry: the job expires a transient report; its reporter hears.
	d := mk(5)
	if _, err := e.life.ExpireDue(ctx, time.Now().Add(2*time.Hour), time.Second); err != nil {
		t.Fatal(err)
	}
	drain(t, runners...)
	if got := e.sink.to(rep.Email); !strings.Contains(subjects(got), "expired") {
		t.Fatalf("no expiry mail for %s: %s", d.ID, subjects(got))
	}
}
