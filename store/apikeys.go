package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// APIKey is an Open311 client's key. Only its SHA-256 is stored; the key itself is shown once.
type APIKey struct {
	ID        string // the hash, hex: names the key in URLs and audit entries
	Name      string
	PerHour   int // rate limit
	CreatedAt time.Time
	Revoked   bool
}

// CreateAPIKey makes a key and returns it (to show once) with its record.
func (s *Store) CreateAPIKey(ctx context.Context, name string, perHour int) (string, *APIKey, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	key := "hw_" + base64.RawURLEncoding.EncodeToString(raw)
	k := &APIKey{ID: hashToken(key), Name: name, PerHour: perHour, CreatedAt: time.Now().UTC()}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, apiKeyKey(k.ID), "name", name, "per_hour", perHour, "created_at", k.CreatedAt.UnixMilli(), "revoked", "0")
		p.ZAdd(ctx, apiKeysIndex, redis.Z{Score: float64(k.CreatedAt.UnixMilli()), Member: k.ID})
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("store: unable to create API key: %w", err)
	}
	return key, k, nil
}

// APIKeyFor finds the live key record for a presented key; ErrNotFound when unknown or revoked.
func (s *Store) APIKeyFor(ctx context.Context, key string) (*APIKey, error) {
	if key == "" || len(key) > 100 {
		return nil, ErrNotFound
	}
	k, err := s.apiKey(ctx, hashToken(key))
	if err != nil {
		return nil, err
	}
	if k.Revoked {
		return nil, ErrNotFound
	}
	return k, nil
}

func (s *Store) apiKey(ctx context.Context, id string) (*APIKey, error) {
	m, err := s.rdb.HGetAll(ctx, apiKeyKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to read API key: %w", err)
	}
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	per, _ := strconv.Atoi(m["per_hour"])
	ms, _ := strconv.ParseInt(m["created_at"], 10, 64)
	return &APIKey{ID: id, Name: m["name"], PerHour: per, CreatedAt: time.UnixMilli(ms).UTC(), Revoked: m["revoked"] == "1"}, nil
}

// APIKeys lists every key, newest first.
func (s *Store) APIKeys(ctx context.Context) ([]*APIKey, error) {
	ids, err := s.rdb.ZRevRange(ctx, apiKeysIndex, 0, 999).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to list API keys: %w", err)
	}
	var out []*APIKey
	for _, id := range ids {
		k, err := s.apiKey(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// RevokeAPIKey stops a key from working; its record stays for the audit trail.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) error {
	if _, err := s.apiKey(ctx, id); err != nil {
		return err
	}
	return s.rdb.HSet(ctx, apiKeyKey(id), "revoked", "1").Err()
}
