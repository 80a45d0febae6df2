package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/gofiber/fiber/v2"
	redisstorage "github.com/gofiber/storage/redis/v3"
	"github.com/redis/go-redis/v9"
)

// SessionStorage is the fiber.Storage behind Fiber's session middleware: gofiber/storage/redis on
// our client, with every key under hw:sess:. Reset is refused: the library's Reset is FLUSHDB.
func (s *Store) SessionStorage() fiber.Storage {
	return sessionStorage{inner: redisstorage.NewFromConnection(s.rdb)}
}

type sessionStorage struct{ inner *redisstorage.Storage }

const storageTimeout = 3 * time.Second

// validSessionID keeps arbitrary cookie values from becoming key names: Fiber's ids are UUIDs.
func validSessionID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r == '-') {
			return false
		}
	}
	return true
}

func (st sessionStorage) Get(id string) ([]byte, error) {
	if !validSessionID(id) {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
	defer cancel()
	return st.inner.GetWithContext(ctx, sessionPrefix+id)
}

func (st sessionStorage) Set(id string, val []byte, exp time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
	defer cancel()
	return st.inner.SetWithContext(ctx, sessionPrefix+id, val, exp)
}

func (st sessionStorage) Delete(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
	defer cancel()
	return st.inner.DeleteWithContext(ctx, sessionPrefix+id)
}

func (sessionStorage) Reset() error {
	return errors.New("store: refusing to reset session storage (it would flush the database)")
}

func (sessionStorage) Close() error { return nil } // the client is the app's to close

// SessionInfo describes one signed-in device for the account page.
type SessionInfo struct {
	ID        string    `json:"-"`
	UserAgent string    `json:"ua"`
	IP        string    `json:"ip"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
}

// maxSessionsPerUser bounds a user's session list: a sign-in beyond it ends the session seen
// least recently.
const maxSessionsPerUser = 50

// TrackSession records (or refreshes) a session in the user's list. The list stays bounded: it
// is pruned whenever it is read (Sessions) and, when it grows past maxSessionsPerUser, here too,
// so a user who never opens the account page cannot grow it either.
func (s *Store) TrackSession(ctx context.Context, uid string, info SessionInfo) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	var n *redis.IntCmd
	if _, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, userSessionsKey(uid), info.ID, b)
		n = p.HLen(ctx, userSessionsKey(uid))
		return nil
	}); err != nil {
		return fmt.Errorf("store: unable to track session: %w", err)
	}
	if n.Val() > maxSessionsPerUser {
		if _, err := s.pruneSessions(ctx, uid, info.ID); err != nil {
			return err
		}
	}
	return nil
}

// Sessions lists the user's live sessions, most recently seen first, forgetting expired ones.
func (s *Store) Sessions(ctx context.Context, uid string) ([]SessionInfo, error) {
	return s.pruneSessions(ctx, uid, "")
}

// pruneSessions drops the list's entries whose session expired (or cannot be read), ends the
// least recently seen beyond maxSessionsPerUser (never keep, the one being tracked), and returns
// the live ones, most recently seen first.
func (s *Store) pruneSessions(ctx context.Context, uid, keep string) ([]SessionInfo, error) {
	m, err := s.rdb.HGetAll(ctx, userSessionsKey(uid)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to list sessions: %w", err)
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	// Session keys expire on their own; one pipelined EXISTS per session finds the dead ones.
	alive := make([]bool, len(ids))
	if len(ids) > 0 {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.IntCmd, len(ids))
		for i, id := range ids {
			cmds[i] = pipe.Exists(ctx, sessionPrefix+id)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("store: unable to check sessions: %w", err)
		}
		for i := range ids {
			alive[i] = cmds[i].Val() == 1 || ids[i] == keep
		}
	}
	var out []SessionInfo
	var dead []string
	for i, id := range ids {
		var info SessionInfo
		if !alive[i] || json.Unmarshal([]byte(m[id]), &info) != nil {
			dead = append(dead, id)
			continue
		}
		info.ID = id
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].ID == keep) != (out[j].ID == keep) {
			return out[i].ID == keep
		}
		return out[i].LastSeen.After(out[j].LastSeen)
	})
	if len(dead) > 0 {
		if err := s.rdb.HDel(ctx, userSessionsKey(uid), dead...).Err(); err != nil {
			return nil, fmt.Errorf("store: unable to prune sessions: %w", err)
		}
	}
	for len(out) > maxSessionsPerUser {
		oldest := out[len(out)-1]
		if err := s.RevokeSession(ctx, uid, oldest.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		out = out[:len(out)-1]
	}
	if keep != "" { // the caller's own session was only kept first for the cut: restore the order
		sort.Slice(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	}
	return out, nil
}

// RevokeSession ends one of the user's sessions. A session id that is not the user's is
// ErrNotFound, so nobody can end someone else's session by guessing.
func (s *Store) RevokeSession(ctx context.Context, uid, sid string) error {
	n, err := s.rdb.HDel(ctx, userSessionsKey(uid), sid).Result()
	if err != nil {
		return fmt.Errorf("store: unable to revoke session: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	if err := s.rdb.Del(ctx, sessionPrefix+sid).Err(); err != nil {
		return fmt.Errorf("store: unable to revoke session: %w", err)
	}
	return nil
}

// RevokeSessions ends every session of the user except the one with id except ("" for all).
func (s *Store) RevokeSessions(ctx context.Context, uid, except string) error {
	ids, err := s.rdb.HKeys(ctx, userSessionsKey(uid)).Result()
	if err != nil {
		return fmt.Errorf("store: unable to list sessions: %w", err)
	}
	for _, id := range ids {
		if id == except {
			continue
		}
		if err := s.RevokeSession(ctx, uid, id); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}
