package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A report's deliveries: one record per body it went (or is going) to, in a hash in the report's
// slot. The record is not part of the report document, so sending never bumps the report's
// version under a moderator's feet. A send is a job on the delivery stream (consumer group
// DeliveryGroup); the record says which job is current (its reason), so a repeated job, a stale
// one or a redelivered event finds the record and does nothing twice.

// DeliveryGroup is the consumer group of the delivery stream.
const DeliveryGroup = "senders"

// Delivery states.
const (
	DeliveryQueued   = "queued"
	DeliveryRetrying = "retrying" // failed at least once; tried again with a growing pause
	DeliverySent     = "sent"
	DeliveryFailed   = "failed" // gave up (or could never work): moderators see it and can retry
)

// Delivery is one report's way to one body.
type Delivery struct {
	Body     string    `json:"body"`
	BodyName string    `json:"body_name"` // kept, so a deleted body's deliveries still read well
	Via      string    `json:"via"`       // ByEmail or ByOpen311
	Reason   string    `json:"reason"`    // what started the current job: an event id, or "manual:<uid>:<ms>"
	State    string    `json:"state"`
	Queued   time.Time `json:"queued_at"`
	At       time.Time `json:"at,omitzero"` // when it was sent
	Tries    int       `json:"tries,omitempty"`
	// The last failure, for moderators: a message id of the bodies catalog, and the outside
	// server's own words when it gave any.
	ErrorKey string `json:"error_key,omitempty"`
	Error    string `json:"error,omitempty"`
	// Open311: the body's id for the request (or the token to resolve it), and the last status
	// read back from it.
	ExternalID string    `json:"external_id,omitempty"`
	Token      string    `json:"token,omitempty"`
	ExtStatus  string    `json:"ext_status,omitempty"`
	ExtNotes   string    `json:"ext_notes,omitempty"`
	ExtUpdated time.Time `json:"ext_updated,omitzero"`
}

// deliveryScript records a new job for a body unless the report already has (or is getting) it.
// KEYS: the deliveries hash. ARGV: body, reason, record, force ("1": replace even a sent one).
// Answers {1} recorded, {2, state} this very job exists (a repeat), {0, state} the body has it.
var deliveryScript = redis.NewScript(`#!lua
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local d = cjson.decode(cur)
  if d['reason'] == ARGV[2] then return {2, d['state']} end
  if ARGV[4] ~= '1' and d['state'] ~= 'failed' then return {0, d['state']} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return {1, 'queued'}
`)

// QueueDelivery records d (State queued) for report rid and puts a job on the delivery stream.
// Without force a body that has the report, or is getting it, is left alone; with force (a
// moderator sending again) it gets it again. Run twice for one reason (a redelivered event), it
// queues the job again only while it is unsent: the sender drops the spare. It reports whether a
// new record was made.
func (s *Store) QueueDelivery(ctx context.Context, rid string, d Delivery, force bool) (bool, error) {
	d.State = DeliveryQueued
	doc, err := json.Marshal(d)
	if err != nil {
		return false, err
	}
	f := "0"
	if force {
		f = "1"
	}
	res, err := deliveryScript.Run(ctx, s.rdb, []string{reportDeliveriesKey(rid)}, d.Body, d.Reason, doc, f).Slice()
	if err != nil {
		return false, fmt.Errorf("store: unable to queue a delivery: %w", err)
	}
	code, _ := res[0].(int64)
	state, _ := res[1].(string)
	if code == 0 || (code == 2 && state != DeliveryQueued && state != DeliveryRetrying) {
		return false, nil
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{Stream: deliveryQueueKey, Values: []any{"rid", rid, "body", d.Body, "reason", d.Reason}})
		p.ZRem(ctx, deliveriesFailedKey, rid+":"+d.Body)
		p.ZRem(ctx, unroutedKey, rid)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: unable to queue a delivery job: %w", err)
	}
	return code == 1, nil
}

// DeliveryJob is one message of the delivery stream.
type DeliveryJob struct{ Report, Body, Reason string }

// DeliveryJobOf reads a delivery stream message.
func DeliveryJobOf(m Message) DeliveryJob {
	return DeliveryJob{Report: m.Values["rid"], Body: m.Values["body"], Reason: m.Values["reason"]}
}

// updateScript writes a delivery record only while its job is still the current one.
// KEYS: the deliveries hash. ARGV: body, reason, record.
var updateScript = redis.NewScript(`#!lua
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return -1 end
if cjson.decode(cur)['reason'] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`)

// UpdateDelivery stores a changed record. It fails with ErrConflict when another job replaced it
// meanwhile (a moderator's retry), and ErrNotFound when it is gone. The lists moderators read
// (failed sends, a body's reports) follow.
func (s *Store) UpdateDelivery(ctx context.Context, rid string, d Delivery) error {
	doc, err := json.Marshal(d)
	if err != nil {
		return err
	}
	n, err := updateScript.Run(ctx, s.rdb, []string{reportDeliveriesKey(rid)}, d.Body, d.Reason, doc).Int()
	if err != nil {
		return fmt.Errorf("store: unable to update a delivery: %w", err)
	}
	switch n {
	case -1:
		return ErrNotFound
	case 0:
		return ErrConflict
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		switch d.State {
		case DeliveryFailed:
			p.ZAdd(ctx, deliveriesFailedKey, redis.Z{Score: float64(time.Now().UnixMilli()), Member: rid + ":" + d.Body})
		case DeliverySent:
			p.ZRem(ctx, deliveriesFailedKey, rid+":"+d.Body)
			p.ZAddNX(ctx, bodyReportsKey(d.Body), redis.Z{Score: float64(d.At.UnixMilli()), Member: rid})
			p.SAdd(ctx, queueBodyKey(d.Body), rid) // the body's staff see it in their queue
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to index a delivery: %w", err)
	}
	return nil
}

// Delivery is report rid's record for body bid.
func (s *Store) Delivery(ctx context.Context, rid, bid string) (Delivery, error) {
	var d Delivery
	if !validID(rid) || !validID(bid) {
		return d, ErrNotFound
	}
	doc, err := s.rdb.HGet(ctx, reportDeliveriesKey(rid), bid).Result()
	if errors.Is(err, redis.Nil) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("store: unable to read a delivery: %w", err)
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return d, fmt.Errorf("store: corrupt delivery: %w", err)
	}
	return d, nil
}

// Deliveries lists a report's deliveries, oldest first.
func (s *Store) Deliveries(ctx context.Context, rid string) ([]Delivery, error) {
	m, err := s.DeliveriesOf(ctx, []string{rid})
	return m[rid], err
}

// DeliveriesOf reads the deliveries of several reports (a list page) in one pipeline.
func (s *Store) DeliveriesOf(ctx context.Context, rids []string) (map[string][]Delivery, error) {
	cmds := make([]*redis.MapStringStringCmd, len(rids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, rid := range rids {
			cmds[i] = p.HGetAll(ctx, reportDeliveriesKey(rid))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to read deliveries: %w", err)
	}
	out := map[string][]Delivery{}
	for i, rid := range rids {
		for _, doc := range cmds[i].Val() {
			var d Delivery
			if err := json.Unmarshal([]byte(doc), &d); err != nil {
				return nil, fmt.Errorf("store: corrupt delivery: %w", err)
			}
			out[rid] = append(out[rid], d)
		}
		slices.SortFunc(out[rid], func(a, b Delivery) int { return cmp.Or(a.Queued.Compare(b.Queued), strings.Compare(a.Body, b.Body)) })
	}
	return out, nil
}

// MarkUnrouted lists a public report that no body covers, for moderators to send by hand.
func (s *Store) MarkUnrouted(ctx context.Context, rid string, at time.Time) error {
	return s.rdb.ZAdd(ctx, unroutedKey, redis.Z{Score: float64(at.UnixMilli()), Member: rid}).Err()
}

// ClearUnrouted takes a report off that list.
func (s *Store) ClearUnrouted(ctx context.Context, rid string) error {
	return s.rdb.ZRem(ctx, unroutedKey, rid).Err()
}

// IsUnrouted reports whether a report is on the "no body covers this place" list.
func (s *Store) IsUnrouted(ctx context.Context, rid string) (bool, error) {
	_, err := s.rdb.ZScore(ctx, unroutedKey, rid).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}

// Unrouted lists up to n reports no body covers, newest first.
func (s *Store) Unrouted(ctx context.Context, n int64) ([]string, error) {
	return s.rdb.ZRevRange(ctx, unroutedKey, 0, n-1).Result()
}

// FailedDelivery names a send that gave up.
type FailedDelivery struct{ Report, Body string }

// FailedDeliveries lists up to n sends that gave up, newest first.
func (s *Store) FailedDeliveries(ctx context.Context, n int64) ([]FailedDelivery, error) {
	ms, err := s.rdb.ZRevRange(ctx, deliveriesFailedKey, 0, n-1).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to list failed deliveries: %w", err)
	}
	out := make([]FailedDelivery, 0, len(ms))
	for _, m := range ms {
		rid, bid, _ := strings.Cut(m, ":")
		out = append(out, FailedDelivery{rid, bid})
	}
	return out, nil
}

// DeliveryCounts are the sizes of the lists moderators work through.
func (s *Store) DeliveryCounts(ctx context.Context) (failed, unrouted int64, err error) {
	var f, u *redis.IntCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		f, u = p.ZCard(ctx, deliveriesFailedKey), p.ZCard(ctx, unroutedKey)
		return nil
	})
	return f.Val(), u.Val(), err
}

// Open311 requests a body still has open, polled for status changes: request id -> report id.
// Tokens are requests whose id the body has not given yet.

// TrackRequest starts polling a body's request for report rid.
func (s *Store) TrackRequest(ctx context.Context, bid, requestID, rid string) error {
	return s.rdb.HSet(ctx, bodyPollingKey(bid), requestID, rid).Err()
}

// UntrackRequest stops polling a request (closed at the body).
func (s *Store) UntrackRequest(ctx context.Context, bid, requestID string) error {
	return s.rdb.HDel(ctx, bodyPollingKey(bid), requestID).Err()
}

// TrackedRequests are a body's polled requests.
func (s *Store) TrackedRequests(ctx context.Context, bid string) (map[string]string, error) {
	return s.rdb.HGetAll(ctx, bodyPollingKey(bid)).Result()
}

// TrackToken remembers a token to resolve into a request id.
func (s *Store) TrackToken(ctx context.Context, bid, token, rid string) error {
	return s.rdb.HSet(ctx, bodyTokensKey(bid), token, rid).Err()
}

// DropBodyToken forgets a body's resolved Open311 token.
func (s *Store) DropBodyToken(ctx context.Context, bid, token string) error {
	return s.rdb.HDel(ctx, bodyTokensKey(bid), token).Err()
}

// Tokens are a body's tokens waiting for a request id.
func (s *Store) Tokens(ctx context.Context, bid string) (map[string]string, error) {
	return s.rdb.HGetAll(ctx, bodyTokensKey(bid)).Result()
}

// PollWindow is where the last start_date window asked of a body's Open311 server ended (zero:
// none asked yet), and when the body was first sent a report (zero: never).
func (s *Store) PollWindow(ctx context.Context, bid string) (end, first time.Time, err error) {
	var get *redis.StringCmd
	var oldest *redis.ZSliceCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get, oldest = p.Get(ctx, bodyWindowKey(bid)), p.ZRangeWithScores(ctx, bodyReportsKey(bid), 0, 0)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return end, first, fmt.Errorf("store: unable to read a body's poll window: %w", err)
	}
	if ms, err := get.Int64(); err == nil {
		end = time.UnixMilli(ms).UTC()
	}
	if zs := oldest.Val(); len(zs) > 0 {
		first = time.UnixMilli(int64(zs[0].Score)).UTC()
	}
	return end, first, nil
}

// windowScript records a window's end only while the body exists (a poll that finishes after
// the body was deleted leaves nothing behind). KEYS: the body, its window.
var windowScript = redis.NewScript(`#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
return 1
`)

// SetPollWindow records where the last window asked of a body's server ended.
func (s *Store) SetPollWindow(ctx context.Context, bid string, end time.Time) error {
	if err := windowScript.Run(ctx, s.rdb, []string{bodyKey(bid), bodyWindowKey(bid)}, end.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("store: unable to record a body's poll window: %w", err)
	}
	return nil
}

// ReleaseLock drops a job lock taken with TryLock before its time (a send that finished).
func (s *Store) ReleaseLock(ctx context.Context, job string) error {
	return s.rdb.Del(ctx, lockKey(job)).Err()
}
