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

// The mail queue: a stream read by a consumer group, so every app instance can send, a slow
// SMTP server never holds up a request, and a message a crashed sender had claimed is picked up
// by another after a minute. "Never twice" is a SET NX marker per message key taken before
// sending: a crash between marker and send loses that one mail rather than sending it twice.
const (
	mailQueueKey = "hw:mail:queue"
	mailGroup    = "mailers"
	mailCap      = 100_000
)

func mailSentKey(key string) string { return "hw:mail:sent:{" + key + "}" }

// QueuedMail is one message waiting to go out. Key names the change it is about (report,
// version, recipient), which is what makes it "sent at most once".
type QueuedMail struct {
	ID, Key, To, Subject, Text, Link string
	Queued                           time.Time
}

// EnqueueMail adds a message to the queue.
func (s *Store) EnqueueMail(ctx context.Context, m QueuedMail) error {
	err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: mailQueueKey, MaxLen: mailCap, Approx: true,
		Values: []any{"key", m.Key, "to", m.To, "subject", m.Subject, "text", m.Text, "link", m.Link}}).Err()
	if err != nil {
		return fmt.Errorf("store: unable to queue mail: %w", err)
	}
	return nil
}

// EnsureMailGroup creates the consumer group (and the stream) if missing.
func (s *Store) EnsureMailGroup(ctx context.Context) error {
	err := s.rdb.XGroupCreateMkStream(ctx, mailQueueKey, mailGroup, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("store: unable to create the mail group: %w", err)
	}
	return nil
}

func queuedMail(m redis.XMessage) QueuedMail {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	ms, _ := strconv.ParseInt(strings.SplitN(m.ID, "-", 2)[0], 10, 64)
	return QueuedMail{ID: m.ID, Key: str("key"), To: str("to"), Subject: str("subject"), Text: str("text"), Link: str("link"), Queued: time.UnixMilli(ms)}
}

// NextMails returns messages for consumer: first ones another consumer claimed but has not
// finished for a minute (crashed, or its send failed), then new ones, waiting up to block.
func (s *Store) NextMails(ctx context.Context, consumer string, block time.Duration) ([]QueuedMail, error) {
	claimed, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: mailQueueKey, Group: mailGroup, Consumer: consumer, MinIdle: time.Minute, Start: "0", Count: 10,
	}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: unable to claim mail: %w", err)
	}
	var out []QueuedMail
	for _, m := range claimed {
		out = append(out, queuedMail(m))
	}
	if len(out) > 0 {
		return out, nil
	}
	streams, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: mailGroup, Consumer: consumer, Streams: []string{mailQueueKey, ">"}, Count: 10, Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: unable to read mail: %w", err)
	}
	for _, st := range streams {
		for _, m := range st.Messages {
			out = append(out, queuedMail(m))
		}
	}
	return out, nil
}

// MarkMailSending takes the "sent" marker for a key; false means it was sent (or is being sent)
// already.
func (s *Store) MarkMailSending(ctx context.Context, key string) (bool, error) {
	return s.rdb.SetNX(ctx, mailSentKey(key), 1, 7*24*time.Hour).Result()
}

// UnmarkMail drops the marker after a failed send, so a retry may send.
func (s *Store) UnmarkMail(ctx context.Context, key string) error {
	return s.rdb.Del(ctx, mailSentKey(key)).Err()
}

// AckMail finishes a message.
func (s *Store) AckMail(ctx context.Context, id string) error {
	return s.rdb.XAck(ctx, mailQueueKey, mailGroup, id).Err()
}

// Follow and Unfollow keep the set of users who get mail about a report.
func (s *Store) Follow(ctx context.Context, rid, uid string, on bool) error {
	if on {
		return s.rdb.SAdd(ctx, reportFollowersKey(rid), uid).Err()
	}
	return s.rdb.SRem(ctx, reportFollowersKey(rid), uid).Err()
}

// Followers lists who follows a report.
func (s *Store) Followers(ctx context.Context, rid string) ([]string, error) {
	return s.rdb.SMembers(ctx, reportFollowersKey(rid)).Result()
}

// Follows reports whether uid follows rid.
func (s *Store) Follows(ctx context.Context, rid, uid string) (bool, error) {
	return s.rdb.SIsMember(ctx, reportFollowersKey(rid), uid).Result()
}

func reportFollowersKey(rid string) string { return "hw:report:{" + rid + "}:followers" }

// SetNotify switches status mails on or off for a user.
func (s *Store) SetNotify(ctx context.Context, uid string, on bool) error {
	return s.updateUser(ctx, uid, map[string]any{"no_mail": boolStr(!on)}, false)
}
