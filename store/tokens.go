package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// TokenKind names what a one-time token is for; it is part of the key.
type TokenKind string

const (
	TokenReset  TokenKind = "reset"  // password reset link
	TokenVerify TokenKind = "verify" // email verification link
	TokenGuest  TokenKind = "guest"  // a guest's report confirmation link (its "uid" is the report id)
	TokenAnswer TokenKind = "answer" // a "has it been fixed?" questionnaire link
)

// NewToken issues a one-time token for uid: 256 random bits, returned to be mailed, stored only
// as its SHA-256 with a TTL. version is the user's password version at issue time; callers
// compare it on use, so a password change voids older links.
func (s *Store) NewToken(ctx context.Context, kind TokenKind, uid string, version int64, ttl time.Duration) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("store: token randomness: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	val := uid + ":" + strconv.FormatInt(version, 10)
	if err := s.rdb.Set(ctx, tokenKey(kind, hashToken(token)), val, ttl).Err(); err != nil {
		return "", fmt.Errorf("store: unable to store token: %w", err)
	}
	return token, nil
}

// PeekToken tells whom a token belongs to without using it up.
func (s *Store) PeekToken(ctx context.Context, kind TokenKind, token string) (uid string, version int64, err error) {
	return s.readToken(ctx, kind, token, false)
}

// ConsumeToken uses a token up atomically (GETDEL): of two concurrent uses, one wins.
func (s *Store) ConsumeToken(ctx context.Context, kind TokenKind, token string) (uid string, version int64, err error) {
	return s.readToken(ctx, kind, token, true)
}

// DropToken deletes a token after the change it allowed is stored: links whose change may fail
// half-way are peeked first and dropped after, so a failure leaves the link working.
func (s *Store) DropToken(ctx context.Context, kind TokenKind, token string) error {
	if token == "" || len(token) > 100 {
		return nil
	}
	if err := s.rdb.Del(ctx, tokenKey(kind, hashToken(token))).Err(); err != nil {
		return fmt.Errorf("store: unable to drop token: %w", err)
	}
	return nil
}

func (s *Store) readToken(ctx context.Context, kind TokenKind, token string, consume bool) (string, int64, error) {
	if token == "" || len(token) > 100 {
		return "", 0, ErrNotFound
	}
	key := tokenKey(kind, hashToken(token))
	var val string
	var err error
	if consume {
		val, err = s.rdb.GetDel(ctx, key).Result()
	} else {
		val, err = s.rdb.Get(ctx, key).Result()
	}
	if errors.Is(err, redis.Nil) {
		return "", 0, ErrNotFound
	}
	if err != nil {
		return "", 0, fmt.Errorf("store: unable to read token: %w", err)
	}
	uid, v, ok := strings.Cut(val, ":")
	version, perr := strconv.ParseInt(v, 10, 64)
	if !ok || perr != nil {
		return "", 0, ErrNotFound
	}
	return uid, version, nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
