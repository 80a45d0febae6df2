package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// auditKey is the audit log: a stream capped near auditCap entries (XADD MAXLEN ~), so the
// oldest entries go first once it is full (about 200 bytes an entry: about 20 MB at the cap).
const (
	auditCap = 100_000
)

// AuditEntry is one recorded action.
type AuditEntry struct {
	ID     string // the stream id; its time part is when
	At     time.Time
	Actor  string // user id, or "system" / "cli"
	Action string // e.g. "report.approve", "user.signin", "user.role"
	Target string // report or user id
	IP     string
	Note   string
}

// Audit appends an entry. Failures are returned; callers log them and carry on (an action is not
// undone because its record could not be written).
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	err := s.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: auditKey, MaxLen: auditCap, Approx: true,
		Values: []any{"actor", e.Actor, "action", e.Action, "target", e.Target, "ip", e.IP, "note", e.Note},
	}).Err()
	if err != nil {
		return fmt.Errorf("store: unable to write the audit log: %w", err)
	}
	return nil
}

// AuditFilter selects entries; empty fields match all.
type AuditFilter struct{ Actor, Action, Target string }

// AuditLog returns up to n entries older than before (a stream id; "" for the newest), newest
// first, and the id to continue from ("" at the end). Filters are applied while walking back,
// reading at most 5,000 entries per call.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter, before string, n int) ([]AuditEntry, string, error) {
	max := "+"
	if before != "" {
		max = "(" + before
	}
	var out []AuditEntry
	for scanned := 0; scanned < 5000; {
		msgs, err := s.rdb.XRevRangeN(ctx, auditKey, max, "-", 200).Result()
		if err != nil {
			return nil, "", fmt.Errorf("store: unable to read the audit log: %w", err)
		}
		for _, m := range msgs {
			scanned++
			e := auditEntry(m)
			if (f.Actor == "" || e.Actor == f.Actor) && (f.Action == "" || strings.HasPrefix(e.Action, f.Action)) && (f.Target == "" || e.Target == f.Target) {
				out = append(out, e)
				if len(out) == n {
					return out, e.ID, nil
				}
			}
			max = "(" + m.ID
		}
		if len(msgs) < 200 {
			return out, "", nil
		}
	}
	return out, strings.TrimPrefix(max, "("), nil
}

func auditEntry(m redis.XMessage) AuditEntry {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	ms, _ := strconv.ParseInt(strings.SplitN(m.ID, "-", 2)[0], 10, 64)
	return AuditEntry{ID: m.ID, At: time.UnixMilli(ms).UTC(), Actor: str("actor"), Action: str("action"), Target: str("target"), IP: str("ip"), Note: str("note")}
}
