package geocode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"hazardwatch/i18n"
	"hazardwatch/store"
)

// Cached puts the Redis cache in front of a provider. Identical concurrent misses make one
// upstream call: within a process through singleflight, across processes through a short Redis
// lock that the others wait on. Cache trouble never fails a lookup; it is counted and bypassed.
type Cached struct {
	P       Provider
	Cache   *store.Cache
	Log     *slog.Logger
	HitTTL  time.Duration // default 30 days
	MissTTL time.Duration // default 1 hour

	sf                   singleflight.Group
	hits, misses, errors atomic.Int64
}

// Stats are the cache counters since start, for /metrics and the admin page.
type Stats struct{ Hits, Misses, Errors int64 }

func (c *Cached) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Errors: c.errors.Load()}
}

// approximateTTL keeps fallback answers briefly, so a provider outage does not hammer it but
// its recovery shows within minutes.
const approximateTTL = 5 * time.Minute

// cached is what the cache holds: an empty Places list is a remembered miss.
type cached struct {
	Places []Place `json:"p"`
}

func (c *Cached) Search(ctx context.Context, q string, limit int, near ...Point) ([]Place, error) {
	norm := NormalizeQuery(q)
	// Answers differ by language (Nominatim is asked in the reader's).
	key := fmt.Sprintf("%d|%s|%s", limit, i18n.From(ctx).Lang().Tag, norm)
	if len(near) > 0 {
		// About 10 km: views of one town share answers; the provider sees the rounded point, so
		// what is cached is what it would answer.
		near = []Point{{math.Round(near[0].Lat*10) / 10, math.Round(near[0].Lng*10) / 10}}
		key += fmt.Sprintf("|%.1f,%.1f", near[0].Lat, near[0].Lng)
	}
	sum := sha256.Sum256([]byte(key))
	id := hex.EncodeToString(sum[:16])
	return c.lookup(ctx, "geo:fwd", id, func(ctx context.Context) ([]Place, error) {
		return c.P.Search(ctx, norm, limit, near...)
	})
}

func (c *Cached) Reverse(ctx context.Context, lat, lng float64) (Place, error) {
	// About 10 m: nearby pins share an answer.
	lat, lng = math.Round(lat*1e4)/1e4, math.Round(lng*1e4)/1e4
	id := fmt.Sprintf("%.4f,%.4f", lat, lng)
	if tag := i18n.From(ctx).Lang().Tag; tag != i18n.Languages[0].Tag {
		id += ":" + tag // answers differ by language; the source language's keep their old keys
	}
	places, err := c.lookup(ctx, "geo:rev", id, func(ctx context.Context) ([]Place, error) {
		p, err := c.P.Reverse(ctx, lat, lng)
		if errors.Is(err, ErrNoResult) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []Place{p}, nil
	})
	if err != nil {
		return Place{}, err
	}
	if len(places) == 0 {
		return Place{}, ErrNoResult
	}
	return places[0], nil
}

func (c *Cached) lookup(ctx context.Context, ns, id string, fetch func(context.Context) ([]Place, error)) ([]Place, error) {
	if places, ok := c.get(ctx, ns, id); ok {
		c.hits.Add(1)
		return places, nil
	}
	v, err, _ := c.sf.Do(ns+":"+id, func() (any, error) {
		// Detached from one caller's cancellation: the answer serves every waiter.
		ctx := context.WithoutCancel(ctx)
		if places, ok := c.get(ctx, ns, id); ok { // filled while we queued
			c.hits.Add(1)
			return places, nil
		}
		unlock, err := c.Cache.Lock(ctx, ns, id, 10*time.Second)
		if err != nil {
			c.errors.Add(1)
		}
		if unlock == nil && err == nil {
			// Another instance is asking upstream: wait for its answer rather than ask again.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if places, ok := c.get(ctx, ns, id); ok {
					c.hits.Add(1)
					return places, nil
				}
			}
		}
		if unlock != nil {
			defer unlock()
		}
		c.misses.Add(1)
		places, err := fetch(ctx)
		if err != nil {
			return nil, err
		}
		c.put(ctx, ns, id, places)
		return places, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]Place), nil
}

func (c *Cached) get(ctx context.Context, ns, id string) ([]Place, bool) {
	b, ok, err := c.Cache.Get(ctx, ns, id)
	if err != nil {
		c.errors.Add(1)
		c.Log.Warn("geocode cache unavailable; asking the provider", "err", err)
		return nil, false
	}
	if !ok {
		return nil, false
	}
	var v cached
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, false
	}
	return v.Places, true
}

func (c *Cached) put(ctx context.Context, ns, id string, places []Place) {
	ttl := c.HitTTL
	if ttl <= 0 {
		ttl = 30 * 24 * time.Hour
	}
	switch {
	case len(places) > 0 && places[0].Approximate:
		ttl = approximateTTL // the provider failed: ask it again soon
	case len(places) == 0:
		ttl = c.MissTTL
		if ttl <= 0 {
			ttl = time.Hour
		}
	}
	if places == nil {
		places = []Place{}
	}
	b, _ := json.Marshal(cached{Places: places})
	if err := c.Cache.Set(ctx, ns, id, b, ttl); err != nil {
		c.errors.Add(1)
		c.Log.Warn("geocode cache unavailable; answer not cached", "err", err)
	}
}
