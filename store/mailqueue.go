package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The mail queue: a stream read by the mail workers' consumer group, so every app instance can
// send, a slow SMTP server never holds up a request, and a message whose sender crashed is picked
// up by another instance. Sending is at least once per key: a worker takes a short lease on the
// key, sends, marks the key sent, and only then acknowledges, so a crash can repeat a mail but
// never lose it, and a second queued copy of a key that went out is dropped.
const (
	MailGroup = "mailers"
	mailCap   = 100_000
	mailSent  = 30 * 24 * time.Hour // how long a sent key is remembered
)

// QueuedMail is one message waiting to go out. Key names what it is about and for whom (an
// event id and a recipient, or a token): it is what makes a repeat harmless.
type QueuedMail struct {
	ID, Key, To, Subject, Text, HTML, Link string
	Headers                                map[string]string
	Queued                                 time.Time
}

// EnqueueMail adds a message to the queue.
func (s *Store) EnqueueMail(ctx context.Context, m QueuedMail) error {
	vals := []any{"key", m.Key, "to", m.To, "subject", m.Subject, "text", m.Text, "html", m.HTML, "link", m.Link}
	for k, v := range m.Headers {
		vals = append(vals, "h:"+k, v)
	}
	err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: mailQueueKey, MaxLen: mailCap, Approx: true, Values: vals}).Err()
	if err != nil {
		return fmt.Errorf("store: unable to queue mail: %w", err)
	}
	return nil
}

// QueuedMailOf reads a mail from a MailStream message.
func QueuedMailOf(m Message) QueuedMail {
	v := m.Values
	q := QueuedMail{ID: m.ID, Key: v["key"], To: v["to"], Subject: v["subject"], Text: v["text"], HTML: v["html"], Link: v["link"]}
	for k, x := range v {
		if name, ok := strings.CutPrefix(k, "h:"); ok {
			if q.Headers == nil {
				q.Headers = map[string]string{}
			}
			q.Headers[name] = x
		}
	}
	ms, _ := strconv.ParseInt(strings.SplitN(m.ID, "-", 2)[0], 10, 64)
	q.Queued = time.UnixMilli(ms)
	return q
}

// MailSent reports whether a mail with key went out already.
func (s *Store) MailSent(ctx context.Context, key string) (bool, error) {
	n, err := s.rdb.Exists(ctx, mailSentKey(key)).Result()
	return n == 1, err
}

// LeaseMail takes the right to send key for ttl; false while another worker is sending it.
func (s *Store) LeaseMail(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return s.rdb.SetNX(ctx, mailSendingKey(key), 1, ttl).Result()
}

// MailDone records that key went out and drops the lease.
func (s *Store) MailDone(ctx context.Context, key string) error {
	if err := s.rdb.Set(ctx, mailSentKey(key), 1, mailSent).Err(); err != nil {
		return err
	}
	return s.rdb.Del(ctx, mailSendingKey(key)).Err()
}

// ReleaseMail drops the lease after a failed send.
func (s *Store) ReleaseMail(ctx context.Context, key string) error {
	return s.rdb.Del(ctx, mailSendingKey(key)).Err()
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

// SetNotify switches status mails on or off for a user.
func (s *Store) SetNotify(ctx context.Context, uid string, on bool) error {
	return s.updateUser(ctx, uid, map[string]any{"no_mail": boolStr(!on)}, false)
}

// SetLanguage records the language a user chose for pages and mails.
func (s *Store) SetLanguage(ctx context.Context, uid, tag string) error {
	return s.updateUser(ctx, uid, map[string]any{"lang": tag}, false)
}
