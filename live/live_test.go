package live

import (
	"testing"
	"time"
)

func TestFanOutAndSlowClients(t *testing.T) {
	in := make(chan string)
	h := NewHub(in)
	fast, slow := h.Subscribe(), h.Subscribe()
	// Nobody reads while events pour in: sending never blocks, each browser keeps its buffer's
	// worth and misses the rest.
	for i := 0; i < BufferSize+10; i++ {
		in <- Event{Kind: "report.created", ID: "r" + string(rune('a'+i%26))}.Format()
	}
	in <- "garbage"
	deadline := time.Now().Add(5 * time.Second)
	for {
		sent, dropped, clients := h.Stats()
		if sent == int64(2*BufferSize) && dropped == 20 && clients == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sent %d dropped %d clients %d", sent, dropped, clients)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(slow.C) != BufferSize || len(fast.C) != BufferSize {
		t.Fatalf("buffered %d and %d", len(slow.C), len(fast.C))
	}
	// A browser that reads gets new events again.
	for len(fast.C) > 0 {
		<-fast.C
	}
	in <- Event{Kind: "report.updated", ID: "zz", Lat: 1, Lng: 2}.Format()
	if ev := <-fast.C; ev.ID != "zz" || ev.Lat != 1 || ev.Lng != 2 {
		t.Fatalf("after draining: %+v", ev)
	}
	h.Unsubscribe(slow)
	h.Close()
	if _, ok := <-fast.C; ok {
		// drain whatever is left; the channel must end closed
		for range fast.C {
		}
	}
	if h.Subscribe() != nil {
		t.Fatal("subscribe after close")
	}
	close(in)
}

func TestParse(t *testing.T) {
	if ev, ok := Parse(`report.updated {"id":"abc","lat":32.8,"lng":35,"type":"ice","severity":"low","status":"open"}`); !ok ||
		ev.ID != "abc" || ev.Kind != "report.updated" || ev.Lat != 32.8 || ev.Type != "ice" || ev.Status != "open" {
		t.Fatal(ev)
	}
	for _, bad := range []string{"", "report.created", `user.deleted {"id":"x"}`, "report.created ", `report.created {"id":""}`, "report.created abc"} {
		if _, ok := Parse(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
