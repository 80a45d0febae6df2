package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Every change to a report is an event on the stream hw:events, and no committed change can lose
// its event, on one server or on a Cluster where the report and the stream sit in different slots:
//
//  1. The writer marks the report in hw:outbox:dirty (a global sorted set: report id -> time).
//  2. One script, in the report's slot, checks the version, writes the document and appends the
//     change's events to the report's own outbox stream. The change and its events commit together.
//  3. The writer brings the global indexes and the map's counts up to date, then relays the
//     outbox to hw:events and deletes what it relayed.
//  4. If the writer dies after 2, the mark stays: a sweeper in every instance looks at marks
//     older than outboxGrace, redoes 3 for them (every step is idempotent), and only then
//     removes the mark, and only if nobody marked the report again meanwhile.
//
// A relay repeated after a crash can put an event on hw:events twice; consumers key their effects
// by the event's EID, so a second copy changes nothing.

// Event is one change to a report.
type Event struct {
	StreamID string            `json:"-"`   // id on hw:events (set when read from it)
	EID      string            `json:"eid"` // "<report>:<version>:<kind>": effects are keyed by it
	Kind     string            `json:"kind"`
	Report   string            `json:"rid"`
	Version  int64             `json:"v"`
	Actor    string            `json:"actor,omitempty"` // user id, "system", or "" for a guest
	At       time.Time         `json:"at"`
	Before   string            `json:"before,omitempty"` // Marker.String() before the change ("" on create)
	After    string            `json:"after,omitempty"`
	Note     string            `json:"note,omitempty"`
	Data     map[string]string `json:"data,omitempty"`
}

// Markers decodes the report's marker before and after the change.
func (e Event) Markers() (before, after Marker) {
	before, _ = ParseMarker(e.Before)
	after, _ = ParseMarker(e.After)
	return before, after
}

// ChangedKind is the event of a change its writer gave no event of its own.
const ChangedKind = "report.changed"

const (
	eventsCap     = 200_000          // MAXLEN ~: consumers must not fall this far behind
	outboxGrace   = 30 * time.Second // longer than any write takes from mark to script
	commitTimeout = 10 * time.Second
)

// writeScript commits a report document and its events. KEYS: document, outbox. ARGV: the
// version the writer read (0 to create), the new document, then one JSON event per argument.
// Answers {1} done, {0, doc} the report exists (create), {-1} gone, {-2} changed meanwhile.
var writeScript = redis.NewScript(`#!lua
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if cur then return {0, cur} end
else
  if not cur then return {-1} end
  if tostring(cjson.decode(cur)['version']) ~= ARGV[1] then return {-2} end
end
redis.call('SET', KEYS[1], ARGV[2])
for i = 3, #ARGV do
  redis.call('XADD', KEYS[2], '*', 'e', ARGV[i])
end
return {1}
`)

// errExists carries the stored document when a create meets an existing report.
type errExists struct{ doc string }

func (errExists) Error() string { return "store: report exists" }

// commit writes r as version expected+1 (expected 0: a new report) with its events, then brings
// indexes, counts and the event stream up to date. before is the report's marker as the writer
// read it. Once the script has run the change stands: later steps that fail are logged and left
// to the sweeper, and commit reports success.
func (s *Store) commit(ctx context.Context, r *Report, expected int64, before Marker, evs []Event) error {
	if len(evs) == 0 {
		// Every change leaves an event: it is how a sweeper finds a change whose writer died.
		evs = []Event{{Kind: ChangedKind}}
	}
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	now := time.Now().UTC()
	if err := s.write(ctx, r, expected, before, evs, now); err != nil {
		return err
	}
	if _, err := s.finish(ctx, r.ID, now); err != nil {
		logger.Warn("report saved; its indexes or events are left to the outbox sweeper", "report", r.ID, "err", err)
	}
	return nil
}

// write marks the report in the outbox set, then commits the document and its events (steps 1
// and 2 above). It fills in the events' ids, versions and markers.
func (s *Store) write(ctx context.Context, r *Report, expected int64, before Marker, evs []Event, now time.Time) error {
	r.Version = expected + 1
	after := MarkerOf(r)
	args := []any{strconv.FormatInt(expected, 10), nil}
	for i := range evs {
		e := &evs[i]
		e.Report, e.Version = r.ID, r.Version
		e.EID = r.ID + ":" + strconv.FormatInt(r.Version, 10) + ":" + e.Kind
		if e.At.IsZero() {
			e.At = now
		}
		if before.Status != "" {
			e.Before = before.String()
		}
		e.After = after.String()
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		args = append(args, b)
	}
	doc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	args[1] = doc
	if err := s.rdb.ZAdd(ctx, outboxDirtyKey, redis.Z{Score: float64(now.UnixMilli()), Member: r.ID}).Err(); err != nil {
		r.Version = expected
		return fmt.Errorf("store: unable to save report: %w", err)
	}
	res, err := writeScript.Run(ctx, s.rdb, []string{reportKey(r.ID), outboxKey(r.ID)}, args...).Slice()
	if err != nil {
		r.Version = expected
		return fmt.Errorf("store: unable to save report: %w", err)
	}
	switch code, _ := res[0].(int64); code {
	case 0:
		r.Version = expected
		doc, _ := res[1].(string)
		return errExists{doc}
	case -1:
		r.Version = expected
		return ErrNotFound
	case -2:
		r.Version = expected
		return ErrConflict
	}
	return nil
}

// finish completes every change whose events wait in a report's outbox (steps 3 and 4 above):
// the indexes converge on the stored document, each change's count delta is applied once, and
// the events move to hw:events. The writer calls it after its script, the sweeper for writers
// that died; either may find the other's events there, and finishes them too. It reports
// whether there was anything to do.
func (s *Store) finish(ctx context.Context, rid string, now time.Time) (bool, error) {
	found := false
	for range 100 { // a report has a handful of events pending at most; bounded all the same
		msgs, err := s.rdb.XRangeN(ctx, outboxKey(rid), "-", "+", 100).Result()
		if err != nil {
			return found, fmt.Errorf("store: unable to read an outbox: %w", err)
		}
		if len(msgs) == 0 {
			return found, nil
		}
		found = true
		var stale []Marker
		deltas := map[int64][2]Marker{}
		for _, m := range msgs {
			e, err := decodeEvent(m)
			if err != nil {
				return found, err
			}
			b, a := e.Markers()
			stale = append(stale, b, a)
			deltas[e.Version] = [2]Marker{b, a}
		}
		r, err := s.Report(ctx, rid)
		switch {
		case errors.Is(err, ErrNotFound): // deleted since: nothing to index; the events still go out
		case err != nil:
			return found, err
		default:
			if err := s.converge(ctx, r, stale); err != nil {
				return found, err
			}
		}
		for v, d := range deltas {
			if err := s.applyGrid(ctx, rid+":"+strconv.FormatInt(v, 10), gridOps(rid, d[0], d[1], now), now); err != nil {
				return found, err
			}
		}
		if err := s.relayBatch(ctx, rid, msgs); err != nil {
			return found, err
		}
	}
	return found, nil
}

// converge writes r's index entries and removes those stale markers left. Two writers of one
// report can finish in either order, so after writing it checks that r is still the stored
// version and, if not, converges on the newer one.
func (s *Store) converge(ctx context.Context, r *Report, stale []Marker) error {
	for attempt := 0; ; attempt++ {
		if err := s.writeIndexes(ctx, r, stale); err != nil {
			return err
		}
		if err := s.indexQueue(ctx, r); err != nil {
			return err
		}
		cur, err := s.Report(ctx, r.ID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.Version == r.Version || attempt == 5 {
			return nil
		}
		stale, r = append(stale, MarkerOf(r)), cur
	}
}

// relayBatch moves outbox entries to hw:events and deletes them from the outbox.
func (s *Store) relayBatch(ctx context.Context, rid string, msgs []redis.XMessage) error {
	ids := make([]string, 0, len(msgs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, m := range msgs {
			p.XAdd(ctx, &redis.XAddArgs{Stream: eventsKey, MaxLen: eventsCap, Approx: true, Values: []any{"e", m.Values["e"]}})
			ids = append(ids, m.ID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to relay events: %w", err)
	}
	if err := s.rdb.XDel(ctx, outboxKey(rid), ids...).Err(); err != nil {
		return fmt.Errorf("store: unable to clear the outbox: %w", err)
	}
	return nil
}

// unmarkScript removes an outbox mark only if nobody marked the report again after cutoff.
var unmarkScript = redis.NewScript(`#!lua
local t = redis.call('ZSCORE', KEYS[1], ARGV[1])
if t and tonumber(t) <= tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) return 1 end
return 0
`)

// SweepOutbox finishes writes whose writer stopped after committing: for up to limit reports
// marked longer than outboxGrace ago, it converges their indexes, applies their pending count
// changes, relays their events and removes the mark. It returns how many outboxes held events.
// Every instance runs it; two sweepers at once only repeat idempotent work.
func (s *Store) SweepOutbox(ctx context.Context, now time.Time, limit int64) (int, error) {
	cutoff := now.Add(-outboxGrace).UnixMilli()
	rids, err := s.rdb.ZRangeByScore(ctx, outboxDirtyKey, &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(cutoff, 10), Count: limit}).Result()
	if err != nil {
		return 0, fmt.Errorf("store: unable to read the outbox marks: %w", err)
	}
	found := 0
	for _, rid := range rids {
		did, err := s.finish(ctx, rid, now)
		if err != nil {
			return found, err
		}
		if did {
			found++
		}
		if err := unmarkScript.Run(ctx, s.rdb, []string{outboxDirtyKey}, rid, cutoff).Err(); err != nil {
			return found, fmt.Errorf("store: unable to clear an outbox mark: %w", err)
		}
	}
	return found, nil
}

func decodeEvent(m redis.XMessage) (Event, error) {
	var e Event
	raw, _ := m.Values["e"].(string)
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return e, fmt.Errorf("store: bad event %s: %w", m.ID, err)
	}
	e.StreamID = m.ID
	return e, nil
}
