package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Secret returns the random 32-byte key called name, the same for every app instance: the first
// to ask makes it (SET NX), the others read that one. So no key needs configuring, and nothing
// secret lives in the repository. Deleting the key rotates it, voiding what it signed.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("store: secret randomness: %w", err)
	}
	key := secretKey(name)
	if err := s.rdb.SetNX(ctx, key, fresh, 0).Err(); err != nil {
		return nil, fmt.Errorf("store: unable to store a secret: %w", err)
	}
	b, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) || err == nil && len(b) != 32 {
		return nil, fmt.Errorf("store: secret %s is missing or malformed", name)
	} else if err != nil {
		return nil, fmt.Errorf("store: unable to read a secret: %w", err)
	}
	return b, nil
}
