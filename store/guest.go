package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/hazard"
)

// UnconfirmedBefore lists up to n guest reports still waiting for their link that were made
// before t, oldest first (the status index keeps them by their last change, which for an
// unconfirmed report is its creation).
func (s *Store) UnconfirmedBefore(ctx context.Context, t time.Time, n int64) ([]string, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, statusIndexKey(hazard.Unconfirmed), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(t.UnixMilli(), 10), Count: n,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to list unconfirmed reports: %w", err)
	}
	return ids, nil
}

// deleteScript deletes a report's slot (document, confirmations, followers, outbox) if the
// document is still at version ARGV[1] and unconfirmed: a report confirmed meanwhile stays.
// Answers 1 deleted, 0 changed meanwhile, -1 gone already.
var deleteScript = redis.NewScript(`#!lua
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
local doc = cjson.decode(cur)
if tostring(doc['version']) ~= ARGV[1] or doc['status'] ~= 'unconfirmed' then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return 1
`)

// DeleteUnconfirmed deletes a guest report nobody confirmed, with its index entries, if it is
// still unconfirmed; deleted is false when it was confirmed meanwhile. Its photo files stay: the
// photo sweeper (worker.SweepPhotos) removes those no report names. The document goes first: a
// crash after it leaves index entries, removed on the next run when the document is found gone
// (lists and the photo index read documents back, so the leftovers show nothing meanwhile).
func (s *Store) DeleteUnconfirmed(ctx context.Context, id string) (deleted bool, err error) {
	r, err := s.Report(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound): // deleted by an earlier run that stopped half-way
		return false, s.unindex(ctx, id, nil)
	case err != nil:
		return false, err
	case r.Status != hazard.Unconfirmed:
		// Confirmed meanwhile: its index entry under unconfirmed is stale, if still there.
		return false, s.rdb.ZRem(ctx, statusIndexKey(hazard.Unconfirmed), id).Err()
	}
	res, err := deleteScript.Run(ctx, s.rdb, []string{reportKey(id), reportConfirmsKey(id), reportFollowersKey(id), outboxKey(id)},
		strconv.FormatInt(r.Version, 10)).Int()
	if err != nil {
		return false, fmt.Errorf("store: unable to delete report: %w", err)
	}
	if res == 0 {
		return false, nil
	}
	return true, s.unindex(ctx, id, r)
}

// unindex removes a deleted report from the global indexes (r nil: its document was gone
// already, so only the entries that need no document).
func (s *Store) unindex(ctx context.Context, id string, r *Report) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, reportsByTimeKey, id)
		p.ZRem(ctx, statusIndexKey(hazard.Unconfirmed), id)
		p.ZRem(ctx, listKey(hazard.Unconfirmed, ""), id)
		p.ZRem(ctx, expiryKey, id)
		p.ZRem(ctx, outboxDirtyKey, id)
		p.HDel(ctx, posKey(posShard(id)), id)
		if r != nil {
			p.ZRem(ctx, listKey(hazard.Unconfirmed, r.Type), id)
			if r.ReporterID != "" {
				p.ZRem(ctx, userReportsKey(r.ReporterID), id)
			}
			for _, w := range Words(r.Description + " " + r.Address) {
				p.ZRem(ctx, wordKey(w), id)
			}
			for _, h := range r.PhotoHashes() {
				p.SRem(ctx, photoKey(h), id)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to unindex report: %w", err)
	}
	return nil
}

// FormDraft is a report form parked while its author signs in, registers or confirms an
// address: what was typed and the photos already stored.
type FormDraft struct {
	Values map[string]string `json:"values"`
	Photos []string          `json:"photos"`
}

func draftHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

// SaveDraft keeps the draft of the browser whose draft cookie is id for ttl.
func (s *Store) SaveDraft(ctx context.Context, id string, d FormDraft, ttl time.Duration) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := s.rdb.Set(ctx, draftKey(draftHash(id)), b, ttl).Err(); err != nil {
		return fmt.Errorf("store: unable to save a draft: %w", err)
	}
	return nil
}

// Draft is the browser's parked draft (ErrNotFound when there is none).
func (s *Store) Draft(ctx context.Context, id string) (*FormDraft, error) {
	if id == "" || len(id) > 100 {
		return nil, ErrNotFound
	}
	b, err := s.rdb.Get(ctx, draftKey(draftHash(id))).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: unable to read a draft: %w", err)
	}
	var d FormDraft
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, ErrNotFound // an unreadable draft is no draft
	}
	return &d, nil
}

// DropDraft forgets the browser's draft (its report was sent).
func (s *Store) DropDraft(ctx context.Context, id string) error {
	if id == "" || len(id) > 100 {
		return nil
	}
	if err := s.rdb.Del(ctx, draftKey(draftHash(id))).Err(); err != nil {
		return fmt.Errorf("store: unable to drop a draft: %w", err)
	}
	return nil
}
