package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache is the evictable cache under cache:*, on its own allkeys-lru instance (CACHE_REDIS_URL)
// or on the main Redis. Everything in it may vanish at any time; callers treat errors as misses.
type Cache struct{ rdb redis.UniversalClient }

// NewCache wraps the client the cache lives on.
func NewCache(rdb redis.UniversalClient) *Cache { return &Cache{rdb: rdb} }

// Get returns the cached value of id in namespace ns, and whether there was one.
func (c *Cache) Get(ctx context.Context, ns, id string) ([]byte, bool, error) {
	b, err := c.rdb.Get(ctx, cacheKey(ns, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: cache get: %w", err)
	}
	return b, true, nil
}

// Set stores a value with a TTL (every cache entry has one).
func (c *Cache) Set(ctx context.Context, ns, id string, val []byte, ttl time.Duration) error {
	if err := c.rdb.Set(ctx, cacheKey(ns, id), val, ttl).Err(); err != nil {
		return fmt.Errorf("store: cache set: %w", err)
	}
	return nil
}

// unlockScript deletes a lock only if it still holds our token (it may have expired and been
// taken by another instance meanwhile).
var unlockScript = redis.NewScript(`#!lua
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Lock takes a short lock on id in ns (SET NX PX) and returns a function that releases it, or
// nil when another holder has it. Locks expire on their own, so a crashed holder blocks nobody
// for longer than ttl.
func (c *Cache) Lock(ctx context.Context, ns, id string, ttl time.Duration) (func(), error) {
	key, token := cacheKey(ns+":lock", id), newID()
	ok, err := c.rdb.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("store: cache lock: %w", err)
	}
	if !ok {
		return nil, nil
	}
	return func() { unlockScript.Run(context.WithoutCancel(ctx), c.rdb, []string{key}, token) }, nil
}

// Throttle waits until this process may make one call of kind name, allowing at most one per
// interval across every app instance sharing this Redis (SET NX PX on hw:throttle:{name}).
func (s *Store) Throttle(ctx context.Context, name string, interval time.Duration) error {
	key := throttleKey(name)
	for {
		ok, err := s.rdb.SetNX(ctx, key, 1, interval).Result()
		if err != nil {
			return fmt.Errorf("store: throttle: %w", err)
		}
		if ok {
			return nil
		}
		wait, err := s.rdb.PTTL(ctx, key).Result()
		if err != nil {
			return fmt.Errorf("store: throttle: %w", err)
		}
		if wait <= 0 {
			wait = 10 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
