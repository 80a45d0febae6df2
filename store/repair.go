package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RepairReport says what Repair found and fixed.
type RepairReport struct {
	Documents     int // report documents read
	Reindexed     int // documents whose index entries were (re)written
	Stale         int // index entries removed because their document is gone
	Users         int // user hashes read
	UsersIndexed  int // users missing from hw:users, added
	AdminsIndexed int // admins missing from hw:admins, added
}

func (r RepairReport) String() string {
	return fmt.Sprintf("%d reports read, %d reindexed, %d stale index entries removed; %d users read, %d added to the user list, %d to the admin set",
		r.Documents, r.Reindexed, r.Stale, r.Users, r.UsersIndexed, r.AdminsIndexed)
}

// Repair rebuilds the global indexes from the documents: every report's time, status, type,
// reporter, GEO and expiry entries (idempotent writes), and removes time-index entries whose
// document is gone. It walks the keyspace with SCAN on every master, so it is an operator's
// command (run with the admin Redis user), never a request path.
func (s *Store) Repair(ctx context.Context) (RepairReport, error) {
	var rep RepairReport
	ids := map[string]bool{}
	var users []string
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, "hw:report:{*}", 500).Iterator()
		for iter.Next(ctx) {
			if key := iter.Val(); strings.HasSuffix(key, "}") { // the document, not :confirms or :followers
				ids[strings.TrimSuffix(strings.TrimPrefix(key, "hw:report:{"), "}")] = true
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		uiter := c.Scan(ctx, 0, "hw:user:{*}", 500).Iterator()
		for uiter.Next(ctx) {
			if key := uiter.Val(); strings.HasSuffix(key, "}") {
				users = append(users, strings.TrimSuffix(strings.TrimPrefix(key, "hw:user:{"), "}"))
			}
		}
		return uiter.Err()
	}
	var err error
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		var mu chan struct{} = make(chan struct{}, 1)
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			mu <- struct{}{} // the maps are shared; one master at a time
			defer func() { <-mu }()
			return scan(ctx, n)
		})
	case *redis.Client:
		err = scan(ctx, c)
	default:
		err = errors.New("unsupported client")
	}
	if err != nil {
		return rep, fmt.Errorf("store: repair scan: %w", err)
	}

	for _, id := range users {
		u, err := s.UserByID(ctx, id)
		if err != nil {
			continue
		}
		rep.Users++
		if _, err := s.rdb.ZScore(ctx, usersKey, u.ID).Result(); errors.Is(err, redis.Nil) {
			// Only a user whose email claim points back is a real account (a failed
			// registration leaves an unclaimed hash, which must stay unreachable).
			if owner, _ := s.rdb.Get(ctx, emailKey(u.Email)).Result(); owner == u.ID {
				s.rdb.ZAdd(ctx, usersKey, redis.Z{Score: float64(u.CreatedAt.UnixMilli()), Member: u.ID})
				rep.UsersIndexed++
			}
		}
		if u.Role == RoleAdmin {
			if added, _ := s.rdb.SAdd(ctx, adminsKey, u.ID).Result(); added == 1 {
				rep.AdminsIndexed++
			}
		}
	}

	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	for start := 0; start < len(list); start += 200 {
		rs, err := s.reports(ctx, list[start:min(start+200, len(list))])
		if err != nil {
			return rep, err
		}
		for _, r := range rs {
			rep.Documents++
			if s.indexed(ctx, r) {
				continue
			}
			if err := s.indexReport(ctx, r, ""); err != nil {
				return rep, err
			}
			rep.Reindexed++
		}
	}
	listed, err := s.rdb.ZRange(ctx, reportsByTimeKey, 0, -1).Result()
	if err != nil {
		return rep, err
	}
	for _, id := range listed {
		if !ids[id] {
			s.rdb.ZRem(ctx, reportsByTimeKey, id)
			s.rdb.ZRem(ctx, expiryKey, id)
			rep.Stale++
		}
	}
	return rep, nil
}

// indexed reports whether r's main index entries are all present.
func (s *Store) indexed(ctx context.Context, r *Report) bool {
	var t, st, ty *redis.FloatCmd
	var geo *redis.GeoPosCmd
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		t = p.ZScore(ctx, reportsByTimeKey, r.ID)
		st = p.ZScore(ctx, statusIndexKey(string(r.Status)), r.ID)
		ty = p.ZScore(ctx, typeIndexKey(r.Type), r.ID)
		geo = p.GeoPos(ctx, geoKey(string(r.Status)), r.Type+":"+r.ID)
		return nil
	})
	pos := geo.Val()
	return t.Err() == nil && st.Err() == nil && ty.Err() == nil && len(pos) == 1 && pos[0] != nil
}
