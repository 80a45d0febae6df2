package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// A user's session list stays bounded without anyone reading it: entries of expired sessions
// are dropped once the list passes the cap, and beyond the cap of live sessions the one seen
// least recently is ended (its session key too). The session being tracked always stays.
func TestSessionListBounded(t *testing.T) {
	ctx := context.Background()
	s, tr := newStore(t)
	rdb := tr.Client(t)
	uid := NewReportID()
	sid := func(i int) string { return fmt.Sprintf("00000000-0000-0000-0000-%012d", i) }
	track := func(i int, live bool) {
		t.Helper()
		if live {
			if err := rdb.Set(ctx, sessionPrefix+sid(i), "x", time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
		}
		at := time.Unix(1_700_000_000+int64(i), 0).UTC()
		if err := s.TrackSession(ctx, uid, SessionInfo{ID: sid(i), UserAgent: "ua", CreatedAt: at, LastSeen: at}); err != nil {
			t.Fatal(err)
		}
	}
	hlen := func() int64 { n, _ := rdb.HLen(ctx, userSessionsKey(uid)).Result(); return n }

	// 200 sign-ins whose sessions have since expired: never more than the cap plus one entry.
	for i := 0; i < 200; i++ {
		track(i, false)
		if n := hlen(); n > maxSessionsPerUser+1 {
			t.Fatalf("after %d expired sessions the list holds %d entries", i+1, n)
		}
	}
	// 60 live sessions: the 50 seen last stay; the 10 oldest are ended, keys and all.
	for i := 1000; i < 1060; i++ {
		track(i, true)
	}
	if n := hlen(); n != maxSessionsPerUser {
		t.Fatalf("%d entries for 60 live sessions, want %d", n, maxSessionsPerUser)
	}
	for _, tc := range []struct {
		i    int
		live bool
	}{{1000, false}, {1009, false}, {1010, true}, {1059, true}} {
		n, _ := rdb.Exists(ctx, sessionPrefix+sid(tc.i)).Result()
		in, _ := rdb.HExists(ctx, userSessionsKey(uid), sid(tc.i)).Result()
		if (n == 1) != tc.live || in != tc.live {
			t.Errorf("session %d: key %v, listed %v, want %v", tc.i, n == 1, in, tc.live)
		}
	}
	list, err := s.Sessions(ctx, uid)
	if err != nil || len(list) != maxSessionsPerUser || list[0].ID != sid(1059) {
		t.Fatalf("Sessions: %d, first %v, %v", len(list), list[0].ID, err)
	}
}
