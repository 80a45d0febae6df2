package live

import (
	"testing"
	"time"
)

func TestFanOutAndSlowClients(t *testing.T) {
	in := make(chan string)
	h := NewHub(in)
	fast, _ := h.Subscribe("192.0.2.1")
	slow, _ := h.Subscribe("192.0.2.2")
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
	if _, err := h.Subscribe("192.0.2.1"); err != ErrClosed {
		t.Fatalf("subscribe after close: %v", err)
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

func TestStreamLimits(t *testing.T) {
	in := make(chan string)
	defer close(in)
	h := NewHub(in)
	h.MaxPerIP, h.MaxTotal = 2, 3
	a1, err1 := h.Subscribe("192.0.2.1")
	_, err2 := h.Subscribe("192.0.2.1")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if _, err := h.Subscribe("192.0.2.1"); err != ErrTooManyForIP {
		t.Fatalf("third stream from one address: %v", err)
	}
	if _, err := h.Subscribe("192.0.2.2"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	if _, err := h.Subscribe("192.0.2.3"); err != ErrFull {
		t.Fatalf("fourth stream in all: %v", err)
	}
	h.Unsubscribe(a1)
	h.Unsubscribe(a1) // twice is harmless
	if _, err := h.Subscribe("192.0.2.1"); err != nil {
		t.Fatalf("after one left: %v", err)
	}
	if _, _, n := h.Stats(); n != 3 {
		t.Fatalf("%d streams counted", n)
	}
}
