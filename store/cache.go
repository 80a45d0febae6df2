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
type Cache struct {
	rdb redis.UniversalClient
	max int64 // entries kept on the shared main instance; 0: no bound (an evicting instance)
}

// NewCache wraps the client of a Redis that evicts by itself (CACHE_REDIS_URL, allkeys-lru).
func NewCache(rdb redis.UniversalClient) *Cache { return &Cache{rdb: rdb} }

// SharedCacheEntries bounds the cache on the main Redis: about 40 MB of the data instance's
// memory (docs/redis.md, The geocoding cache and eviction).
const SharedCacheEntries = 50_000

// NewSharedCache is the cache on the main Redis, which never evicts: it keeps at most max
// entries, so lookups cannot grow the data instance without bound. Each Set records its key in
// cache:index (by time) and deletes the oldest entries beyond max.
func NewSharedCache(rdb redis.UniversalClient, max int) *Cache {
	return &Cache{rdb: rdb, max: int64(max)}
}

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
	key := cacheKey(ns, id)
	if err := c.rdb.Set(ctx, key, val, ttl).Err(); err != nil {
		return fmt.Errorf("store: cache set: %w", err)
	}
	if c.max > 0 {
		return c.trim(ctx, key)
	}
	return nil
}

// trim records key in the index and deletes the oldest entries beyond the bound. It needs no
// atomicity across instances or slots: ZPOPMIN hands each trimmer distinct members, and an entry
// deleted a little early is only a miss.
func (c *Cache) trim(ctx context.Context, key string) error {
	var card *redis.IntCmd
	if _, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, cacheIndexKey, redis.Z{Score: float64(time.Now().UnixMilli()), Member: key})
		card = p.ZCard(ctx, cacheIndexKey)
		return nil
	}); err != nil {
		return fmt.Errorf("store: cache index: %w", err)
	}
	over := card.Val() - c.max
	if over <= 0 {
		return nil
	}
	old, err := c.rdb.ZPopMin(ctx, cacheIndexKey, over).Result()
	if err != nil {
		return fmt.Errorf("store: cache trim: %w", err)
	}
	_, err = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, z := range old {
			p.Unlink(ctx, z.Member.(string)) // one key per command: each may live on its own node
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: cache trim: %w", err)
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
