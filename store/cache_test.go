package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// On the main Redis, which never evicts, the geocoding cache keeps at most its bound: the oldest
// entries go, the newest stay. On its own evicting instance it has no bound of ours.
func TestSharedCacheIsBounded(t *testing.T) {
	ctx := context.Background()
	s, tr := newStore(t)
	shared := NewSharedCache(s.rdb, 50)
	for i := 0; i < 200; i++ {
		if err := shared.Set(ctx, "geo:fwd", fmt.Sprint("q", i), []byte("{}"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(tr.Keys(t, "cache:geo:fwd:*")); n != 50 {
		t.Fatalf("%d cache entries on the main Redis, want the bound of 50", n)
	}
	for _, tc := range []struct {
		id   string
		want bool
	}{{"q199", true}, {"q150", true}, {"q149", false}, {"q0", false}} {
		if _, ok, err := shared.Get(ctx, "geo:fwd", tc.id); err != nil || ok != tc.want {
			t.Errorf("%s cached %v, want %v (%v)", tc.id, ok, tc.want, err)
		}
	}
	if n, _ := s.rdb.ZCard(ctx, cacheIndexKey).Result(); n != 50 {
		t.Errorf("the index holds %d entries", n)
	}

	own := NewCache(s.rdb)
	for i := 0; i < 100; i++ {
		if err := own.Set(ctx, "geo:rev", fmt.Sprint("p", i), []byte("{}"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(tr.Keys(t, "cache:geo:rev:*")); n != 100 {
		t.Fatalf("the evicting instance's cache kept %d of 100", n)
	}
}
