package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// rateScript counts one hit in a fixed window and returns {count, ms until the window ends}.
// One script, one key: atomic across every app instance, and Cluster-safe.
var rateScript = redis.NewScript(`#!lua
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// Hit counts one attempt of subject in scope (e.g. "login-ip", "203.0.113.9") and reports whether
// it is within limit per window; when not, retryAfter says when the window ends.
func (s *Store) Hit(ctx context.Context, scope, subject string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error) {
	res, err := rateScript.Run(ctx, s.rdb, []string{hitKey(scope, subject)}, window.Milliseconds()).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("store: rate limit: %w", err)
	}
	if res[0] <= int64(limit) {
		return true, 0, nil
	}
	return false, time.Duration(res[1]) * time.Millisecond, nil
}

// ClearHits forgets the hits of subject in scope, e.g. failed sign-ins after a successful one.
func (s *Store) ClearHits(ctx context.Context, scope, subject string) error {
	if err := s.rdb.Del(ctx, hitKey(scope, subject)).Err(); err != nil {
		return fmt.Errorf("store: rate limit: %w", err)
	}
	return nil
}

// hitKey hashes the subject: bounded, PII-free key names.
func hitKey(scope, subject string) string {
	sum := sha256.Sum256([]byte(subject))
	return rateKey(scope, hex.EncodeToString(sum[:12]))
}
