package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hazardwatch/area"
	"hazardwatch/config"
	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
	"hazardwatch/worker"
)

type env struct {
	st     *store.Store
	life   *lifecycle.Service
	svc    *Service
	events *worker.Runner // the routing consumer
	sender *worker.Runner // the delivery stream
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	rc := config.Redis{}
	if os.Getenv("HW_TEST_REDIS") == "cluster" {
		c := redistest.StartCluster(t, 3)
		rc.Addrs, rc.Cluster = c.Addrs(), true
		rc.Username, rc.Password = "app", c.ACL.Passwords["app"]
	} else {
		rc.URL = redistest.Start(t).URL()
	}
	rdb, err := store.Dial(rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	st := store.New(rdb)
	log := slog.New(slog.DiscardHandler)
	life := lifecycle.New(st, nil, lifecycle.Config{Moderation: "post", ReportExpiry: 48 * time.Hour, TooCloseRadius: 15}, log)
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://hw.test"
	}
	svc := New(st, life, cfg, log)
	d := worker.Deps{Store: st, Life: life, Log: log, Consumer: "test"}
	e := &env{st: st, life: life, svc: svc, events: worker.EventRunner(d, svc.Consumer()),
		sender: svc.Runner(d, Tuning{ClaimAfter: 200 * time.Millisecond, Backoff: 10 * time.Millisecond})}
	ctx := context.Background()
	if err := st.EnsureGroup(ctx, store.EventsStream, Group); err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureGroup(ctx, store.MailStream, store.MailGroup); err != nil {
		t.Fatal(err)
	}
	return e
}

// square is a GeoJSON polygon round a point, half-size d degrees.
func square(lat, lng, d float64) string {
	return fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]}`,
		lng-d, lat-d, lng+d, lat-d, lng+d, lat+d, lng-d, lat+d, lng-d, lat-d)
}

func (e *env) body(t testing.TB, b *store.Body, geo string) *store.Body {
	t.Helper()
	a, err := area.Parse([]byte(geo))
	if err != nil {
		t.Fatal(err)
	}
	if b.ID == "" {
		b.ID = store.NewBodyID()
	}
	b.BBox, b.Vertices = a.BBox(), a.Vertices
	if err := e.st.SaveBody(context.Background(), b, a.GeoJSON()); err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) report(t *testing.T, typ string, lat, lng float64) *store.Report {
	t.Helper()
	r, _, err := e.life.Create(context.Background(), lifecycle.Draft{ID: store.NewReportID(), ReporterID: "citizen000000001",
		Type: typ, Severity: "high", Description: "Deep hole by the school gate", Lat: lat, Lng: lng, HasPlace: true, AllowClose: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// drain runs the routing consumer and the sender until both have nothing left (bounded).
func (e *env) drain(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for range 50 {
		a, err := e.events.Step(ctx, 5*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.sender.Step(ctx, 5*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if a == 0 && b == 0 {
			return
		}
	}
}

func (e *env) deliveries(t *testing.T, rid string) map[string]store.Delivery {
	t.Helper()
	ds, err := e.st.Deliveries(context.Background(), rid)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Delivery{}
	for _, d := range ds {
		out[d.BodyName] = d
	}
	return out
}

func (e *env) mails(t *testing.T) []store.QueuedMail {
	t.Helper()
	msgs, err := e.st.ReadGroup(context.Background(), store.MailStream, store.MailGroup, "test", 100, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.QueuedMail
	for _, m := range msgs {
		out = append(out, store.QueuedMailOf(m))
	}
	return out
}

// fake311 is an Open311 GeoReport v2 server on a loopback socket, with switches for trouble.
type fake311 struct {
	*httptest.Server
	mu       sync.Mutex
	posts    []map[string]string
	status   map[string][2]string // id -> status, notes
	updated  map[string]time.Time
	fail     int           // answer this many POSTs with a 500
	refuse   bool          // answer POSTs with a 400 in the spec's format
	hanging  bool          // POSTs get no answer until the test ends
	stop     chan struct{} // closed when the test ends
	garbage  bool          // answer POSTs with something that is not GeoReport JSON
	useToken bool          // answer POSTs with a token, resolved on the next tokens/ call
	tokens   map[string]string
	queries  int // status queries (GET requests.json), by id and by window
	// Date windows (start_date, end_date): the ones asked, and switches for servers that answer
	// them with a 400, that answer id lists with nothing, or that never resolve a token.
	windows      [][2]time.Time
	noWindows    bool
	ignoreIDs    bool
	tokenPending bool
	desc         map[string]string // id -> description posted
}

func newFake311(t *testing.T) *fake311 {
	f := &fake311{status: map[string][2]string{}, updated: map[string]time.Time{}, tokens: map[string]string{}, desc: map[string]string{}, stop: make(chan struct{})}
	mux := http.NewServeMux()
	writeErr := func(w http.ResponseWriter, code int, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode([]map[string]any{{"code": code, "description": desc}})
	}
	mux.HandleFunc("POST /v2/requests.json", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		_ = r.ParseForm()
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		switch {
		case f.fail > 0:
			f.fail--
			f.mu.Unlock()
			http.Error(w, "upstream down", http.StatusInternalServerError)
			return
		case f.refuse:
			f.mu.Unlock()
			writeErr(w, 400, "service_code "+form["service_code"]+" is not offered here")
			return
		case f.garbage:
			f.mu.Unlock()
			_, _ = w.Write([]byte("<html>maintenance</html>"))
			return
		}
		hanging := f.hanging
		f.mu.Unlock()
		if hanging {
			<-f.stop
			return
		}
		if form["api_key"] != "secret-key" {
			writeErr(w, 403, "bad api_key")
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.posts = append(f.posts, form)
		id := fmt.Sprintf("SR-%d", len(f.posts))
		f.status[id] = [2]string{"open", ""}
		f.desc[id] = form["description"]
		f.updated[id] = time.Now().UTC()
		w.Header().Set("Content-Type", "application/json")
		if f.useToken {
			tok := "tok-" + id
			f.tokens[tok] = id
			_ = json.NewEncoder(w).Encode([]map[string]string{{"token": tok}})
			return
		}
		_ = json.NewEncoder(w).Encode([]map[string]string{{"service_request_id": id, "service_notice": "thanks"}})
	})
	mux.HandleFunc("GET /v2/tokens/{tok}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		tok := strings.TrimSuffix(r.PathValue("tok"), ".json")
		id, ok := f.tokens[tok]
		if !ok || f.tokenPending {
			writeErr(w, 404, "unknown token")
			return
		}
		_ = json.NewEncoder(w).Encode([]map[string]string{{"service_request_id": id, "token": tok}})
	})
	mux.HandleFunc("GET /v2/requests.json", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.queries++
		q := r.URL.Query()
		out := []map[string]string{}
		add := func(id string) {
			s := f.status[id]
			out = append(out, map[string]string{"service_request_id": id, "status": s[0], "status_notes": s[1],
				"description": f.desc[id], "updated_datetime": f.updated[id].Format(time.RFC3339)})
		}
		if ids := q.Get("service_request_id"); ids != "" {
			for _, id := range strings.Split(ids, ",") {
				if _, ok := f.status[id]; ok && !f.ignoreIDs {
					add(id)
				}
			}
		} else {
			if f.noWindows {
				writeErr(w, 400, "start_date is not supported")
				return
			}
			start, err1 := time.Parse(time.RFC3339, q.Get("start_date"))
			end, err2 := time.Parse(time.RFC3339, q.Get("end_date"))
			if err1 != nil || err2 != nil {
				writeErr(w, 400, "bad start_date or end_date")
				return
			}
			f.windows = append(f.windows, [2]time.Time{start, end})
			for id := range f.status { // listed by when they last changed
				if u := f.updated[id]; !u.Before(start) && !u.After(end) {
					add(id)
				}
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	t.Cleanup(func() { close(f.stop) }) // first: lets hanging handlers end
	return f
}

func (f *fake311) set(id, status, notes string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[id] = [2]string{status, notes}
	f.updated[id] = time.Now().UTC().Add(time.Second) // later than anything the test did before
}

// setAt is set with the server's own time of the change.
func (f *fake311) setAt(id, status, notes string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[id] = [2]string{status, notes}
	f.updated[id] = at
}

func (f *fake311) postCount() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.posts) }

func open311Body(name, endpoint string, types ...string) *store.Body {
	codes := map[string]string{}
	for _, t := range types {
		codes[t] = "HW-" + strings.ToUpper(t)
	}
	return &store.Body{Name: name, Lang: "en", Types: types, Method: store.ByOpen311,
		Open311: &store.Open311{Endpoint: endpoint, APIKey: "secret-key", ServiceCodes: codes}}
}

// A public report goes once to each body that covers it and handles its type: by email in the
// body's language, and by Open311; bodies that do not handle the type or do not cover the place
// get nothing; the body's status changes come back onto the report.
func TestRouteAndDeliver(t *testing.T) {
	f := newFake311(t)
	e := newEnv(t, Config{ReplyTo: "moderators@hw.test"})
	ctx := context.Background()
	e.body(t, &store.Body{Name: "עיריית חיפה", Lang: "he", Types: []string{"pothole", "sign"}, Method: store.ByEmail, Email: "roads@haifa.test"}, square(32.8, 35.0, 0.1))
	e.body(t, open311Body("Roads Agency", f.URL+"/v2", "pothole"), square(32.8, 35.0, 1))
	e.body(t, &store.Body{Name: "Water Co", Lang: "en", Types: []string{"manhole"}, Method: store.ByEmail, Email: "w@water.test"}, square(32.8, 35.0, 0.1))
	e.body(t, &store.Body{Name: "Far Council", Lang: "en", Types: []string{"pothole"}, Method: store.ByEmail, Email: "far@far.test"}, square(40, 10, 0.1))
	r := e.report(t, "pothole", 32.81, 35.01)
	e.drain(t)
	ds := e.deliveries(t, r.ID)
	if len(ds) != 2 || ds["עיריית חיפה"].State != store.DeliverySent || ds["Roads Agency"].State != store.DeliverySent {
		t.Fatalf("deliveries: %+v", ds)
	}
	if ds["Roads Agency"].ExternalID != "SR-1" || ds["Roads Agency"].Via != store.ByOpen311 || ds["עיריית חיפה"].Via != store.ByEmail {
		t.Fatalf("records: %+v", ds)
	}
	mails := e.mails(t)
	if len(mails) != 1 || mails[0].To != "roads@haifa.test" || mails[0].Headers["Reply-To"] != "moderators@hw.test" {
		t.Fatalf("mails: %+v", mails)
	}
	if !strings.Contains(mails[0].Subject, "בורות בכביש") || !strings.Contains(mails[0].Text, "שלום עיריית חיפה") ||
		!strings.Contains(mails[0].Text, "Deep hole by the school gate") || !strings.Contains(mails[0].Text, "http://hw.test/reports/"+r.ID) ||
		!strings.Contains(mails[0].Text, "mlat=32.810000") {
		t.Fatalf("the mail is not the report in Hebrew:\n%s\n%s", mails[0].Subject, mails[0].Text)
	}
	if f.postCount() != 1 {
		t.Fatalf("%d posts", f.postCount())
	}
	p := f.posts[0]
	if p["service_code"] != "HW-POTHOLE" || p["lat"] != "32.810000" || p["long"] != "35.010000" || !strings.Contains(p["description"], r.ID) || p["email"] != "" {
		t.Fatalf("posted: %v", p)
	}
	// The same event handled again (a redelivery) sends nothing twice.
	if err := e.st.ResetGroup(ctx, store.EventsStream, Group); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if f.postCount() != 1 || len(e.mails(t)) != 0 {
		t.Fatal("a redelivered event sent the report again")
	}
	// The body's system closes it with a note: the report is resolved, by the body.
	f.set("SR-1", "closed", "Filled on Tuesday")
	b := e.bodyNamed(t, "Roads Agency")
	if n, err := e.svc.PollBody(ctx, b); err != nil || n != 1 {
		t.Fatalf("poll: %d %v", n, err)
	}
	got, _ := e.st.Report(ctx, r.ID)
	last := got.History[len(got.History)-1]
	if got.Status != hazard.Resolved || last.Note != "Filled on Tuesday" || lifecycle.BodyOf(last.By) != b.ID {
		t.Fatalf("after the poll: %s %+v", got.Status, last)
	}
	// Closed requests are no longer polled; a second poll changes nothing.
	if tracked, _ := e.st.TrackedRequests(ctx, b.ID); len(tracked) != 0 {
		t.Fatalf("still polled: %v", tracked)
	}
	if ids, _ := e.st.BodyReports(ctx, b.ID, 0, -1); len(ids) != 1 || ids[0] != r.ID {
		t.Fatalf("the body's reports: %v", ids)
	}
	// A report of a type nobody handles here, and one outside every area, wait for moderators.
	lonely := e.report(t, "tree", 32.81, 35.01)
	far := e.report(t, "pothole", 10, 10)
	e.drain(t)
	for _, id := range []string{lonely.ID, far.ID} {
		if un, _ := e.st.IsUnrouted(ctx, id); !un {
			t.Fatalf("%s is not on the unrouted list", id)
		}
	}
	// A moderator sends it by hand: off the list, and sent.
	mod := lifecycle.Actor{ID: "mod0000000000001", Role: store.RoleModerator}
	if err := e.svc.SendTo(ctx, mod, lonely.ID, e.bodyNamed(t, "Water Co").ID); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if un, _ := e.st.IsUnrouted(ctx, lonely.ID); un || e.deliveries(t, lonely.ID)["Water Co"].State != store.DeliverySent {
		t.Fatal("sending by hand")
	}
	if err := e.svc.SendTo(ctx, lifecycle.Actor{ID: "x", Role: store.RoleCitizen}, lonely.ID, b.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a citizen sent a report: %v", err)
	}
	// Moved by a moderator into the city: the city gets it (the agency, which had it, does not again).
	if _, err := e.life.Relocate(ctx, mod, far.ID, 0, 32.82, 35.02, "wrong pin"); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if ds := e.deliveries(t, far.ID); len(ds) != 2 || f.postCount() != 2 {
		t.Fatalf("after relocation: %+v, %d posts", ds, f.postCount())
	}
	if _, err := e.life.Relocate(ctx, mod, far.ID, 0, 32.83, 35.03, "a bit further"); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if f.postCount() != 2 {
		t.Fatal("a second relocation inside the same areas sent it again")
	}
	if un, _ := e.st.IsUnrouted(ctx, far.ID); un {
		t.Fatal("a report in two areas is on the unrouted list")
	}
	// Moved out of every area: moderators are told (the bodies that had it keep their record).
	if _, err := e.life.Relocate(ctx, mod, far.ID, 0, 20, 20, "it is really here"); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if un, _ := e.st.IsUnrouted(ctx, far.ID); !un || len(e.deliveries(t, far.ID)) != 2 {
		t.Fatal("a report moved out of every area is not on the moderators' list")
	}
	// And back in: off the list, though the bodies there had it already and get nothing new.
	if _, err := e.life.Relocate(ctx, mod, far.ID, 0, 32.82, 35.02, "no, it was here"); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if un, _ := e.st.IsUnrouted(ctx, far.ID); un || f.postCount() != 2 {
		t.Fatalf("moved back into the areas: unrouted %v, %d posts", un, f.postCount())
	}
}

func (e *env) bodyNamed(t *testing.T, name string) *store.Body {
	t.Helper()
	bs, err := e.st.Bodies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Name == name {
			return b
		}
	}
	t.Fatalf("no body %s", name)
	return nil
}

// Failures: a 500 is retried and then succeeds; a server that keeps failing is marked failed
// after RetryFor and shows its words to moderators, who retry it; a refusal in the spec's format
// fails at once; a hanging server times out; a garbled answer is retried; a body deleted while
// its send was queued fails with a message; a token is resolved into an id.
func TestDeliveryFailures(t *testing.T) {
	f := newFake311(t)
	// Retried for a day (the default) on a clock the test moves on; the HTTP timeout is only an
	// upper bound for the hanging server, generous for a loaded machine.
	e := newEnv(t, Config{HTTP: &http.Client{Timeout: 3 * time.Second}})
	var skew atomic.Int64
	e.svc.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	ctx := context.Background()
	b := e.body(t, open311Body("Roads Agency", f.URL+"/v2", "pothole", "sign"), square(32.8, 35.0, 1))
	step := func() { e.drain(t); time.Sleep(30 * time.Millisecond) }

	f.fail = 2
	r1 := e.report(t, "pothole", 32.8, 35.0)
	for i := 0; i < 100 && e.deliveries(t, r1.ID)["Roads Agency"].State != store.DeliverySent; i++ {
		step()
	}
	if d := e.deliveries(t, r1.ID)["Roads Agency"]; d.State != store.DeliverySent || d.Tries != 3 || f.postCount() != 1 {
		t.Fatalf("after two 500s: %+v, %d posts", d, f.postCount())
	}

	f.mu.Lock()
	f.fail = 1 << 30
	f.mu.Unlock()
	r2 := e.report(t, "pothole", 32.8, 35.0)
	for i := 0; i < 100 && e.deliveries(t, r2.ID)["Roads Agency"].Tries < 2; i++ {
		step()
	}
	if d := e.deliveries(t, r2.ID)["Roads Agency"]; d.State != store.DeliveryRetrying || d.Tries < 2 {
		t.Fatalf("failing for less than a day: %+v", d)
	}
	if failed, _ := e.st.FailedDeliveries(ctx, 10); len(failed) != 0 {
		t.Fatalf("on the failed list while still retried: %v", failed)
	}
	skew.Store(int64(24*time.Hour + time.Minute)) // a day later, still failing: given up
	for i := 0; i < 200 && e.deliveries(t, r2.ID)["Roads Agency"].State != store.DeliveryFailed; i++ {
		step()
	}
	d := e.deliveries(t, r2.ID)["Roads Agency"]
	if d.State != store.DeliveryFailed || d.ErrorKey != "bodies.error.open311_unreachable" || !strings.Contains(d.Error, "500") || d.Tries < 3 {
		t.Fatalf("failed record: %+v", d)
	}
	skew.Store(0)
	if failed, _ := e.st.FailedDeliveries(ctx, 10); len(failed) != 1 || failed[0].Report != r2.ID {
		t.Fatalf("failed list: %v", failed)
	}
	f.mu.Lock()
	f.fail = 0
	f.mu.Unlock()
	mod := lifecycle.Actor{ID: "mod0000000000001", Role: store.RoleModerator}
	if err := e.svc.SendTo(ctx, mod, r2.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	step()
	if d := e.deliveries(t, r2.ID)["Roads Agency"]; d.State != store.DeliverySent {
		t.Fatalf("retried: %+v", d)
	}
	if failed, _ := e.st.FailedDeliveries(ctx, 10); len(failed) != 0 {
		t.Fatalf("failed list after the retry: %v", failed)
	}

	// Refused in the spec's format: failed at once, with the server's words.
	f.mu.Lock()
	f.refuse = true
	f.mu.Unlock()
	r3 := e.report(t, "sign", 32.8, 35.0)
	step()
	if d := e.deliveries(t, r3.ID)["Roads Agency"]; d.State != store.DeliveryFailed || d.ErrorKey != "bodies.error.open311_refused" ||
		!strings.Contains(d.Error, "service_code HW-SIGN is not offered here") {
		t.Fatalf("refused: %+v", d)
	}
	f.mu.Lock()
	f.refuse = false
	f.garbage = true
	f.mu.Unlock()
	r4 := e.report(t, "pothole", 32.8, 35.0)
	step()
	if d := e.deliveries(t, r4.ID)["Roads Agency"]; d.State != store.DeliveryRetrying || !strings.Contains(d.Error, "not GeoReport JSON") {
		t.Fatalf("garbage: %+v", d)
	}
	f.mu.Lock()
	f.garbage = false
	f.hanging = true
	f.mu.Unlock()
	r5 := e.report(t, "pothole", 32.8, 35.0)
	step()
	if d := e.deliveries(t, r5.ID)["Roads Agency"]; d.State != store.DeliveryRetrying || !strings.Contains(d.Error, "no answer in time") {
		t.Fatalf("hanging: %+v", d)
	}
	f.mu.Lock()
	f.hanging = false
	f.useToken = true
	f.mu.Unlock()
	for i := 0; i < 100 && e.deliveries(t, r5.ID)["Roads Agency"].State != store.DeliverySent; i++ {
		step()
	}
	if d := e.deliveries(t, r5.ID)["Roads Agency"]; d.State != store.DeliverySent || d.Token == "" || d.ExternalID != "" {
		t.Fatalf("token: %+v", d)
	}
	if _, err := e.svc.PollBody(ctx, b); err != nil {
		t.Fatal(err)
	}
	if d := e.deliveries(t, r5.ID)["Roads Agency"]; d.ExternalID == "" || d.Token != "" {
		t.Fatalf("token not resolved: %+v", d)
	}

	// Deleted while its send waits: failed, with a message, nothing lost.
	other := e.body(t, &store.Body{Name: "Short-lived", Lang: "en", Types: []string{"tree"}, Method: store.ByEmail, Email: "x@x.test"}, square(32.8, 35.0, 0.1))
	r6 := e.report(t, "tree", 32.8, 35.0)
	if _, err := e.events.Step(ctx, 5*time.Millisecond); err != nil { // routed, not yet sent
		t.Fatal(err)
	}
	if err := e.st.DeleteBody(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	step()
	if d := e.deliveries(t, r6.ID)["Short-lived"]; d.State != store.DeliveryFailed || d.ErrorKey != "bodies.error.deleted" {
		t.Fatalf("deleted body: %+v", d)
	}
}

// Two senders racing for one job (a crash takeover, a spare copy): the body gets it once.
func TestConcurrentSendersSendOnce(t *testing.T) {
	f := newFake311(t)
	e := newEnv(t, Config{})
	ctx := context.Background()
	e.body(t, open311Body("Roads Agency", f.URL+"/v2", "pothole"), square(32.8, 35.0, 1))
	r := e.report(t, "pothole", 32.8, 35.0)
	if _, err := e.events.Step(ctx, 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// The same event routed again before any send: a spare job on the stream.
	if err := e.st.ResetGroup(ctx, store.EventsStream, Group); err != nil {
		t.Fatal(err)
	}
	if _, err := e.events.Step(ctx, 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	d := worker.Deps{Store: e.st, Life: e.life, Log: slog.New(slog.DiscardHandler)}
	var wg sync.WaitGroup
	for i := range 4 {
		d.Consumer = fmt.Sprint("sender-", i)
		r := e.svc.Runner(d, Tuning{ClaimAfter: 200 * time.Millisecond, Backoff: 10 * time.Millisecond})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := r.Step(ctx, 10*time.Millisecond); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if f.postCount() != 1 || e.deliveries(t, r.ID)["Roads Agency"].State != store.DeliverySent {
		t.Fatalf("%d posts, %+v", f.postCount(), e.deliveries(t, r.ID))
	}
}

// Each body's server is polled at most once per PollEvery however many instances run: the
// second instance finds the lease taken and leaves the body alone until it lapses.
func TestPollOncePerIntervalAcrossInstances(t *testing.T) {
	f := newFake311(t)
	cfg := Config{BaseURL: "http://hw.test", PollEvery: time.Hour}
	e := newEnv(t, cfg)
	ctx := context.Background()
	b := e.body(t, open311Body("Roads Agency", f.URL+"/v2", "pothole"), square(32.8, 35.0, 1))
	r := e.report(t, "pothole", 32.8, 35.0)
	e.drain(t)
	if d := e.deliveries(t, r.ID)["Roads Agency"]; d.ExternalID != "SR-1" {
		t.Fatalf("not sent: %+v", d)
	}
	instances := []*Service{e.svc, New(e.st, e.life, cfg, slog.New(slog.DiscardHandler))}
	pollAll := func() {
		t.Helper()
		var wg sync.WaitGroup
		for _, s := range instances {
			wg.Go(func() {
				if _, err := s.PollDue(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	queries := func() int { f.mu.Lock(); defer f.mu.Unlock(); return f.queries }
	pollAll()
	if q := queries(); q != 2 { // by id, and by date window
		t.Fatalf("two instances asked the server %d times in one interval", q)
	}
	f.set("SR-1", "closed", "Filled")
	pollAll()
	if got, _ := e.st.Report(ctx, r.ID); queries() != 2 || got.Status == hazard.Resolved {
		t.Fatalf("polled again within the interval: %d queries, %s", queries(), got.Status)
	}
	// The interval is over (the lease lapses): one instance polls and brings the change back.
	if err := e.st.ReleaseLock(ctx, "open311poll:"+b.ID); err != nil {
		t.Fatal(err)
	}
	pollAll()
	if got, _ := e.st.Report(ctx, r.ID); queries() != 4 || got.Status != hazard.Resolved {
		t.Fatalf("after the interval: %d queries, %s", queries(), got.Status)
	}
}
