package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The "has it been fixed?" questionnaire: reports wait in a global schedule until they are due;
// the job claims them (as digests are claimed), asks each report at most once ever (SET NX on a
// key in the report's slot), and mails a single-use link whose token is stored only hashed.

// ScheduleQuestionnaire asks about report rid at due unless it is scheduled already.
func (s *Store) ScheduleQuestionnaire(ctx context.Context, rid string, due time.Time) error {
	if err := s.rdb.ZAddNX(ctx, questionnaireDueKey, redis.Z{Score: float64(due.UnixMilli()), Member: rid}).Err(); err != nil {
		return fmt.Errorf("store: unable to schedule a questionnaire: %w", err)
	}
	return nil
}

// UnscheduleQuestionnaire forgets a report's questionnaire (it was closed, or asked).
func (s *Store) UnscheduleQuestionnaire(ctx context.Context, rid string) error {
	return s.rdb.ZRem(ctx, questionnaireDueKey, rid).Err()
}

// DueQuestionnaires claims up to n reports whose questionnaire is due, for lease.
func (s *Store) DueQuestionnaires(ctx context.Context, now time.Time, lease time.Duration, n int) ([]string, error) {
	ids, err := s.claim(ctx, questionnaireDueKey, now, lease, n)
	if err != nil {
		return nil, fmt.Errorf("store: unable to claim questionnaires: %w", err)
	}
	return ids, nil
}

// MarkAsked records that report rid's reporter was asked; false if it had been already (by
// this instance or another): the guarantee of at most one questionnaire per report.
func (s *Store) MarkAsked(ctx context.Context, rid string, at time.Time) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, reportAskedKey(rid), at.UnixMilli(), 0).Result()
	if err != nil {
		return false, fmt.Errorf("store: unable to mark a questionnaire: %w", err)
	}
	return ok, nil
}

// Answer is what a questionnaire link stands for: a report and who answers for it.
type Answer struct {
	Report string    `json:"rid"`
	By     string    `json:"by"` // the reporter's id
	UsedAt time.Time `json:"used_at,omitzero"`
}

// ErrUsed means a single-use link was used already.
var ErrUsed = errors.New("store: link used already")

// NewAnswerToken issues a questionnaire link's token: 256 random bits, stored as its SHA-256
// for ttl.
func (s *Store) NewAnswerToken(ctx context.Context, a Answer, ttl time.Duration) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("store: token randomness: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	b, _ := json.Marshal(a)
	if err := s.rdb.Set(ctx, tokenKey(TokenAnswer, hashToken(token)), b, ttl).Err(); err != nil {
		return "", fmt.Errorf("store: unable to store token: %w", err)
	}
	return token, nil
}

// useScript marks a token used (keeping its expiry) and returns it as it was: of two concurrent
// uses one sees it unused. A used token is kept until it expires, so a second use can be told
// apart from a forged or expired link.
var useScript = redis.NewScript(`#!lua
local v = redis.call('GET', KEYS[1])
if not v then return false end
if ARGV[1] == '1' and not string.find(v, '"used_at"', 1, true) then
  redis.call('SET', KEYS[1], string.sub(v, 1, -2) .. ',"used_at":"' .. ARGV[2] .. '"}', 'KEEPTTL')
end
return v
`)

// AnswerToken reads a questionnaire token; use=true uses it up. ErrNotFound: forged or
// expired; ErrUsed: answered already.
func (s *Store) AnswerToken(ctx context.Context, token string, use bool) (Answer, error) {
	var a Answer
	if token == "" || len(token) > 100 {
		return a, ErrNotFound
	}
	flag := "0"
	if use {
		flag = "1"
	}
	v, err := useScript.Run(ctx, s.rdb, []string{tokenKey(TokenAnswer, hashToken(token))}, flag, time.Now().UTC().Format(time.RFC3339)).Text()
	if errors.Is(err, redis.Nil) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("store: unable to read token: %w", err)
	}
	if err := json.Unmarshal([]byte(v), &a); err != nil {
		return a, ErrNotFound
	}
	if !a.UsedAt.IsZero() {
		return a, ErrUsed
	}
	return a, nil
}

// ExtendExpiry pushes a transient report's expiry to now+d ("still there").
func (s *Store) ExtendExpiry(ctx context.Context, rid string, d time.Duration) error {
	return s.rdb.ZAddXX(ctx, expiryKey, redis.Z{Score: float64(time.Now().Add(d).UnixMilli()), Member: rid}).Err()
}

// QuestionnaireDue is when report rid is due to be asked (zero: not scheduled); for tests and
// the admin's eyes.
func (s *Store) QuestionnaireDue(ctx context.Context, rid string) (time.Time, error) {
	sc, err := s.rdb.ZScore(ctx, questionnaireDueKey, rid).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(int64(sc)), nil
}
