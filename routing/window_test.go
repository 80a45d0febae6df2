package routing

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"hazardwatch/hazard"
	"hazardwatch/lifecycle"
	"hazardwatch/store"
)

// syncBuffer is a log sink the test reads while the service writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Each poll also asks for a start_date window: a change the server shows only by date reaches the
// report's timeline; the window starts at the body's first delivery, then advances (reaching
// back a little); requests we did not send are ignored, even one quoting our link; a request
// whose id its token never gave is recognised by our link and its record; a server that answers
// windows with a 400 is still polled by id, and that is logged once.
func TestPollWindows(t *testing.T) {
	f := newFake311(t)
	e := newEnv(t, Config{})
	ctx := context.Background()
	b := e.body(t, open311Body("Roads Agency", f.URL+"/v2", "pothole"), square(32.8, 35.0, 1))
	poll := func() int {
		t.Helper()
		n, err := e.svc.PollBody(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	lastChange := func(rid string) (*store.Report, store.Change) {
		t.Helper()
		r, err := e.st.Report(ctx, rid)
		if err != nil {
			t.Fatal(err)
		}
		return r, r.History[len(r.History)-1]
	}
	windows := func() [][2]time.Time {
		f.mu.Lock()
		defer f.mu.Unlock()
		return append([][2]time.Time(nil), f.windows...)
	}

	r1 := e.report(t, "pothole", 32.8, 35.0)
	e.drain(t)
	d1 := e.deliveries(t, r1.ID)["Roads Agency"]
	if d1.ExternalID != "SR-1" {
		t.Fatalf("not sent: %+v", d1)
	}

	// The server answers id lists with nothing: only the window brings the close back.
	f.mu.Lock()
	f.ignoreIDs = true
	f.mu.Unlock()
	f.setAt("SR-1", "closed", "Filled on Tuesday", time.Now().UTC())
	if n := poll(); n != 1 {
		t.Fatalf("%d changes from the window", n)
	}
	if got, last := lastChange(r1.ID); got.Status != hazard.Resolved || last.Note != "Filled on Tuesday" || lifecycle.BodyOf(last.By) != b.ID {
		t.Fatalf("after the window: %s %+v", got.Status, last)
	}
	w := windows()
	if len(w) != 1 || !w[0][0].Equal(d1.At.Truncate(time.Second)) || w[0][1].Before(time.Now().Add(-time.Minute)) {
		t.Fatalf("first window %v, first delivery at %v", w, d1.At)
	}
	if end, _, _ := e.st.PollWindow(ctx, b.ID); !end.Equal(w[0][1]) {
		t.Fatalf("stored window end %v, asked %v", end, w[0][1])
	}

	// Requests we did not send, one quoting our report's link: ignored.
	f.setAt("SR-98", "open", "Someone else's", time.Now().UTC())
	f.mu.Lock()
	f.desc["SR-98"] = "Same as http://hw.test/reports/" + r1.ID + " I think"
	f.desc["SR-99"] = "A request made at the council's desk"
	f.mu.Unlock()
	f.setAt("SR-99", "open", "Not ours", time.Now().UTC())
	if n := poll(); n != 0 {
		t.Fatalf("%d changes from requests we did not send", n)
	}
	if got, last := lastChange(r1.ID); got.Status != hazard.Resolved || last.Note != "Filled on Tuesday" {
		t.Fatalf("someone else's request changed our report: %s %+v", got.Status, last)
	}
	w = windows()
	if len(w) != 2 || !w[1][0].Equal(w[0][1].Add(-windowOverlap)) || w[1][1].Before(w[0][1]) {
		t.Fatalf("the window did not advance: %v", w)
	}

	// A token the server never resolves: the window lists the request, our link names the report.
	f.mu.Lock()
	f.useToken, f.tokenPending = true, true
	f.mu.Unlock()
	r2 := e.report(t, "pothole", 32.81, 35.01)
	e.drain(t)
	if d := e.deliveries(t, r2.ID)["Roads Agency"]; d.Token != "tok-SR-2" || d.ExternalID != "" {
		t.Fatalf("sent with a token: %+v", d)
	}
	f.setAt("SR-2", "closed", "Done by the night crew", time.Now().UTC())
	if n := poll(); n != 1 {
		t.Fatalf("%d changes for a request known by token only", n)
	}
	if got, last := lastChange(r2.ID); got.Status != hazard.Resolved || last.Note != "Done by the night crew" {
		t.Fatalf("after the window: %s %+v", got.Status, last)
	}
	if d := e.deliveries(t, r2.ID)["Roads Agency"]; d.ExternalID != "SR-2" || d.Token != "" {
		t.Fatalf("the id was not learnt: %+v", d)
	}
	if toks, _ := e.st.Tokens(ctx, b.ID); len(toks) != 0 {
		t.Fatalf("tokens left: %v", toks)
	}

	// A server that refuses windows: id polling goes on, one warning, the window stays put.
	var logs syncBuffer
	e.svc.log = slog.New(slog.NewTextHandler(&logs, nil))
	f.mu.Lock()
	f.useToken, f.tokenPending, f.ignoreIDs, f.noWindows = false, false, false, true
	f.mu.Unlock()
	r3 := e.report(t, "pothole", 32.82, 35.02)
	e.drain(t)
	if d := e.deliveries(t, r3.ID)["Roads Agency"]; d.ExternalID != "SR-3" {
		t.Fatalf("not sent: %+v", d)
	}
	before, _, _ := e.st.PollWindow(ctx, b.ID)
	poll()
	f.set("SR-3", "closed", "Fixed")
	if n := poll(); n != 1 {
		t.Fatalf("%d changes by id from a server that refuses windows", n)
	}
	if got, _ := lastChange(r3.ID); got.Status != hazard.Resolved {
		t.Fatalf("by id: %s", got.Status)
	}
	if c := strings.Count(logs.String(), "refuses start_date windows"); c != 1 {
		t.Fatalf("logged %d times:\n%s", c, logs.String())
	}
	if end, _, _ := e.st.PollWindow(ctx, b.ID); !end.Equal(before) {
		t.Fatalf("a refused window moved on: %v -> %v", before, end)
	}
}
