package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Stream names a stream the workers consume with consumer groups, without naming its key.
type Stream string

const (
	EventsStream Stream = "events" // report events (hw:events)
	MailStream   Stream = "mail"   // mail waiting to be sent (hw:mail:queue)
)

func (st Stream) key() string {
	if st == MailStream {
		return mailQueueKey
	}
	return eventsKey
}

// Message is one stream entry handed to a worker.
type Message struct {
	ID     string
	Values map[string]string
}

func message(m redis.XMessage) Message {
	v := make(map[string]string, len(m.Values))
	for k, x := range m.Values {
		v[k], _ = x.(string)
	}
	return Message{ID: m.ID, Values: v}
}

// Event decodes a report event from an EventsStream message.
func (m Message) Event() (Event, error) {
	return decodeEvent(redis.XMessage{ID: m.ID, Values: map[string]any{"e": m.Values["e"]}})
}

// EnsureGroup creates a consumer group (and the stream) if missing. On the event stream a new
// group starts at the end (a reaction added by a later release must not replay history); the
// mail queue's group starts at the beginning (every queued mail is to be sent).
func (s *Store) EnsureGroup(ctx context.Context, st Stream, group string) error {
	start := "$"
	if st == MailStream {
		start = "0"
	}
	err := s.rdb.XGroupCreateMkStream(ctx, st.key(), group, start).Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("store: unable to create consumer group %s: %w", group, err)
	}
	return nil
}

// ResetGroup makes a group read the stream again from its start (tests of redelivery, and an
// operator replaying a group after fixing a consumer).
func (s *Store) ResetGroup(ctx context.Context, st Stream, group string) error {
	return s.rdb.XGroupSetID(ctx, st.key(), group, "0").Err()
}

// ReadGroup returns up to count new messages for consumer, waiting up to block.
func (s *Store) ReadGroup(ctx context.Context, st Stream, group, consumer string, count int64, block time.Duration) ([]Message, error) {
	streams, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group, Consumer: consumer, Streams: []string{st.key(), ">"}, Count: count, Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: unable to read %s: %w", st, err)
	}
	var out []Message
	for _, x := range streams {
		for _, m := range x.Messages {
			out = append(out, message(m))
		}
	}
	return out, nil
}

// ClaimIdle takes over messages another consumer (or this one) read but has not acknowledged for
// minIdle: a crashed consumer's work, or a failed message due for another try (XAUTOCLAIM).
// Messages the stream trimmed away meanwhile are acknowledged and dropped.
func (s *Store) ClaimIdle(ctx context.Context, st Stream, group, consumer string, minIdle time.Duration, count int64) ([]Message, error) {
	msgs, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: st.key(), Group: group, Consumer: consumer, MinIdle: minIdle, Start: "0-0", Count: count,
	}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: unable to claim from %s: %w", st, err)
	}
	out := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		if m.Values == nil { // deleted by trimming
			_ = s.Ack(ctx, st, group, m.ID)
			continue
		}
		out = append(out, message(m))
	}
	return out, nil
}

// Ack finishes messages.
func (s *Store) Ack(ctx context.Context, st Stream, group string, ids ...string) error {
	if err := s.rdb.XAck(ctx, st.key(), group, ids...).Err(); err != nil {
		return fmt.Errorf("store: unable to acknowledge: %w", err)
	}
	return nil
}

// Delete removes handled messages from a stream (the mail queue keeps no sent mail: it holds
// addresses and links).
func (s *Store) Delete(ctx context.Context, st Stream, ids ...string) error {
	return s.rdb.XDel(ctx, st.key(), ids...).Err()
}

// Retry is a failed message's record: how many tries it has had and when it may be tried again.
type Retry struct {
	Tries     int
	NotBefore time.Time
	LastError string
}

// RetryOf reads a message's retry record (zero when it has not failed).
func (s *Store) RetryOf(ctx context.Context, group, id string) (Retry, error) {
	v, err := s.rdb.HGet(ctx, workerRetryKey(group), id).Result()
	if errors.Is(err, redis.Nil) {
		return Retry{}, nil
	}
	if err != nil {
		return Retry{}, fmt.Errorf("store: unable to read a retry record: %w", err)
	}
	tries, rest, _ := strings.Cut(v, ":")
	due, msg, _ := strings.Cut(rest, ":")
	n, _ := strconv.Atoi(tries)
	ms, _ := strconv.ParseInt(due, 10, 64)
	return Retry{Tries: n, NotBefore: time.UnixMilli(ms), LastError: msg}, nil
}

// SetRetry records a failed try.
func (s *Store) SetRetry(ctx context.Context, group, id string, r Retry) error {
	v := strconv.Itoa(r.Tries) + ":" + strconv.FormatInt(r.NotBefore.UnixMilli(), 10) + ":" + r.LastError
	return s.rdb.HSet(ctx, workerRetryKey(group), id, v).Err()
}

// ClearRetry drops a message's retry record (done, or dead-lettered).
func (s *Store) ClearRetry(ctx context.Context, group, id string) error {
	return s.rdb.HDel(ctx, workerRetryKey(group), id).Err()
}

// DeadLetter is a message a worker gave up on.
type DeadLetter struct {
	ID       string // id in the dead-letter stream
	Stream   Stream
	Group    string
	Original string // the message's id in its stream
	Values   map[string]string
	Tries    int
	Error    string
	At       time.Time
}

const deadCap = 10_000

// Bury moves a message to the dead-letter stream and acknowledges it in its group.
func (s *Store) Bury(ctx context.Context, st Stream, group string, m Message, tries int, reason string) error {
	vals := []any{"stream", string(st), "group", group, "id", m.ID, "tries", tries, "error", reason}
	for k, v := range m.Values {
		if k != "only" {
			vals = append(vals, "v:"+k, v)
		}
	}
	if err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: deadLetterKey, MaxLen: deadCap, Approx: true, Values: vals}).Err(); err != nil {
		return fmt.Errorf("store: unable to dead-letter a message: %w", err)
	}
	if err := s.Ack(ctx, st, group, m.ID); err != nil {
		return err
	}
	return s.ClearRetry(ctx, group, m.ID)
}

// DeadLetters lists the newest dead letters first.
func (s *Store) DeadLetters(ctx context.Context, n int64) ([]DeadLetter, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, deadLetterKey, "+", "-", n).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to read dead letters: %w", err)
	}
	out := make([]DeadLetter, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, deadLetter(m))
	}
	return out, nil
}

// DeadLetterCount is the number of dead letters kept.
func (s *Store) DeadLetterCount(ctx context.Context) (int64, error) {
	return s.rdb.XLen(ctx, deadLetterKey).Result()
}

func deadLetter(m redis.XMessage) DeadLetter {
	msg := message(m)
	d := DeadLetter{ID: m.ID, Stream: Stream(msg.Values["stream"]), Group: msg.Values["group"], Original: msg.Values["id"],
		Error: msg.Values["error"], Values: map[string]string{}}
	d.Tries, _ = strconv.Atoi(msg.Values["tries"])
	ms, _ := strconv.ParseInt(strings.SplitN(m.ID, "-", 2)[0], 10, 64)
	d.At = time.UnixMilli(ms).UTC()
	for k, v := range msg.Values {
		if name, ok := strings.CutPrefix(k, "v:"); ok {
			d.Values[name] = v
		}
	}
	return d
}

// RetryDeadLetter puts a dead letter back on its stream for its group only (field "only"; the
// other groups skip it) and removes it from the dead letters.
func (s *Store) RetryDeadLetter(ctx context.Context, id string) error {
	msgs, err := s.rdb.XRangeN(ctx, deadLetterKey, id, id, 1).Result()
	if err != nil {
		return fmt.Errorf("store: unable to read a dead letter: %w", err)
	}
	if len(msgs) == 0 {
		return ErrNotFound
	}
	d := deadLetter(msgs[0])
	if d.Stream != EventsStream && d.Stream != MailStream {
		return fmt.Errorf("store: dead letter %s names no stream", id)
	}
	vals := []any{"only", d.Group}
	for k, v := range d.Values {
		vals = append(vals, k, v)
	}
	if err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: d.Stream.key(), Values: vals}).Err(); err != nil {
		return fmt.Errorf("store: unable to requeue a dead letter: %w", err)
	}
	return s.rdb.XDel(ctx, deadLetterKey, id).Err()
}

// Once reports whether this is the first time key is claimed (SET NX with a TTL): the dedupe for
// effects that are not Redis writes of their own, such as a live update.
func (s *Store) Once(ctx context.Context, group, key string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, workerDoneKey(group, key), 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("store: unable to record an effect: %w", err)
	}
	return ok, nil
}

// StreamLag is how many entries a group has not read yet and how many it has pending
// (ErrNotFound before the group exists).
func (s *Store) StreamLag(ctx context.Context, st Stream, group string) (lag, pending int64, err error) {
	groups, err := s.rdb.XInfoGroups(ctx, st.key()).Result()
	if err != nil {
		return 0, 0, err
	}
	for _, g := range groups {
		if g.Name == group {
			return g.Lag, g.Pending, nil
		}
	}
	return 0, 0, ErrNotFound // the group is not made yet
}
