package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/hazard"
)

// RepairReport says what Repair found and fixed.
type RepairReport struct {
	Documents     int // report documents read
	Reindexed     int // documents whose index entries were (re)written
	Stale         int // index entries removed because their document is gone or says otherwise
	Outboxes      int // reports whose unrelayed events were relayed
	GridKeys      int // map count hashes rewritten
	Users         int // user hashes read
	UsersIndexed  int // users missing from hw:users, added
	AdminsIndexed int // admins missing from hw:admins, added
}

func (r RepairReport) String() string {
	return fmt.Sprintf("%d reports read, %d reindexed, %d stale index entries removed, %d outboxes relayed, %d map count hashes rebuilt; %d users read, %d added to the user list, %d to the admin set",
		r.Documents, r.Reindexed, r.Stale, r.Outboxes, r.GridKeys, r.Users, r.UsersIndexed, r.AdminsIndexed)
}

// Repair rebuilds everything derived from the documents: every report's index entries (time,
// status, type, reporter, photos, GEO, position, expiry), removing entries the documents contradict;
// unrelayed outboxes; the map's counts and the statistics (recounted, replacing what was there);
// and the user lists. It walks the keyspace with SCAN on every master, so it is an operator's
// command (run with the admin Redis user, best while writes are paused), never a request path.
func (s *Store) Repair(ctx context.Context) (RepairReport, error) {
	var rep RepairReport
	var mu sync.Mutex
	ids := map[string]bool{}
	var users, gridKeys, wordKeys, photoKeys, retired []string
	err := s.scanAll(ctx, func(ctx context.Context, c *redis.Client) error {
		found := map[string][]string{}
		for _, pattern := range []string{reportScanPattern, userScanPattern, gridScanPattern, wordScanPattern, photoScanPattern, retiredPattern} {
			iter := c.Scan(ctx, 0, pattern, 500).Iterator()
			for iter.Next(ctx) {
				found[pattern] = append(found[pattern], iter.Val())
			}
			if err := iter.Err(); err != nil {
				return err
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, key := range found[reportScanPattern] {
			if id, ok := strings.CutPrefix(key, reportKey("")[:len(reportKey(""))-1]); ok && strings.HasSuffix(id, "}") {
				ids[strings.TrimSuffix(id, "}")] = true // the document, not :confirms or :outbox
			}
		}
		for _, key := range found[userScanPattern] {
			if id, ok := strings.CutPrefix(key, userKey("")[:len(userKey(""))-1]); ok && strings.HasSuffix(id, "}") {
				users = append(users, strings.TrimSuffix(id, "}"))
			}
		}
		gridKeys = append(gridKeys, found[gridScanPattern]...)
		wordKeys = append(wordKeys, found[wordScanPattern]...)
		photoKeys = append(photoKeys, found[photoScanPattern]...)
		retired = append(retired, found[retiredPattern]...)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("store: repair scan: %w", err)
	}
	if err := s.repairUsers(ctx, users, &rep); err != nil {
		return rep, err
	}

	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	markers := map[string]Marker{}
	words, photos := map[string][]string{}, map[string][]string{}
	var all []*Report
	for start := 0; start < len(list); start += 200 {
		rs, err := s.reports(ctx, list[start:min(start+200, len(list))])
		if err != nil {
			return rep, err
		}
		for _, r := range rs {
			rep.Documents++
			markers[r.ID] = MarkerOf(r)
			words[r.ID], photos[r.ID] = Words(r.Description+" "+r.Address), r.PhotoHashes()
			all = append(all, &Report{ID: r.ID, Type: r.Type, Severity: r.Severity, Status: r.Status, Lat: r.Lat, Lng: r.Lng,
				CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, ReporterID: r.ReporterID, History: r.History,
				Attention: r.Attention, Assignee: r.Assignee, Priority: r.Priority, Abuse: r.Abuse, Confirmations: r.Confirmations})
			if s.indexed(ctx, r) {
				continue
			}
			if err := s.writeIndexes(ctx, r, nil); err != nil {
				return rep, err
			}
			rep.Reindexed++
		}
		for _, id := range list[start:min(start+200, len(list))] {
			if n, _ := s.rdb.XLen(ctx, outboxKey(id)).Result(); n > 0 {
				if _, err := s.finish(ctx, id, time.Now().UTC()); err != nil {
					return rep, err
				}
				rep.Outboxes++
			}
		}
	}
	touched := map[string]bool{}
	if err := s.dropStale(ctx, markers, touched); err != nil {
		return rep, err
	}
	if err := s.dropStaleRefs(ctx, wordKeys, photoKeys, words, photos, touched); err != nil {
		return rep, err
	}
	rep.Stale = len(touched)
	for _, k := range retired {
		if err := s.rdb.Del(ctx, k).Err(); err != nil {
			return rep, err
		}
	}
	if err := s.RebuildGrid(ctx, all, gridKeys, time.Now().UTC()); err != nil {
		return rep, err
	}
	rep.GridKeys = len(gridKeys)
	if err := s.rebuildStats(ctx, all); err != nil {
		return rep, err
	}
	if err := s.rebuildQueue(ctx, all); err != nil {
		return rep, err
	}
	return rep, nil
}

// scanAll runs fn on every master (one at a time).
func (s *Store) scanAll(ctx context.Context, fn func(context.Context, *redis.Client) error) error {
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		return c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return fn(ctx, n)
		})
	case *redis.Client:
		return fn(ctx, c)
	}
	return errors.New("unsupported client")
}

func (s *Store) repairUsers(ctx context.Context, users []string, rep *RepairReport) error {
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
		if u.Role.AtLeast(RoleModerator) {
			s.rdb.SAdd(ctx, staffKey, u.ID) // accounts made before the staff list existed
		} else {
			s.rdb.SRem(ctx, staffKey, u.ID)
		}
	}
	return nil
}

// dropStale removes index entries whose report is gone or is in another state now: from the
// time index, every status, type and GEO index, the position index and the expiry queue. It
// adds the reports that had such entries to touched.
func (s *Store) dropStale(ctx context.Context, markers map[string]Marker, touched map[string]bool) error {
	drop := func(key string, member string) {
		s.rdb.ZRem(ctx, key, member)
		if _, _, _, id, ok := parseGeoMember(member); ok {
			member = id
		}
		touched[member] = true
	}
	walk := func(key string, fn func(member string)) error {
		iter := s.rdb.ZScan(ctx, key, 0, "", 500).Iterator()
		var members []string
		for i := 0; iter.Next(ctx); i++ {
			if i%2 == 0 { // ZSCAN answers member, score, member, score...
				members = append(members, iter.Val())
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		for _, m := range members {
			fn(m)
		}
		return nil
	}
	gone := func(key string) error {
		return walk(key, func(id string) {
			if _, ok := markers[id]; !ok {
				drop(key, id)
			}
		})
	}
	for _, key := range []string{reportsByTimeKey, expiryKey} {
		if err := gone(key); err != nil {
			return err
		}
	}
	for _, st := range hazard.Statuses {
		err := walk(statusIndexKey(st), func(id string) {
			if m, ok := markers[id]; !ok || m.Status != st {
				drop(statusIndexKey(st), id)
			}
		})
		if err != nil {
			return err
		}
	}
	for _, class := range []string{"active", "closed", "hidden"} {
		err := walk(geoKey(class), func(member string) {
			_, _, _, id, ok := parseGeoMember(member)
			if m, known := markers[id]; !ok || !known || !m.mapped() || geoMember(id, m) != member || geoClass(m.Status) != class {
				drop(geoKey(class), member) // also members named the way an older version did
			}
		})
		if err != nil {
			return err
		}
	}
	for _, st := range hazard.Statuses {
		err := walk(listKey(st, ""), func(id string) {
			if m, ok := markers[id]; !ok || m.Status != st {
				drop(listKey(st, ""), id)
			}
		})
		if err != nil {
			return err
		}
		for _, t := range hazard.Types {
			err := walk(listKey(st, t.Code), func(id string) {
				if m, ok := markers[id]; !ok || m.Status != st || m.Type != t.Code {
					drop(listKey(st, t.Code), id)
				}
			})
			if err != nil {
				return err
			}
		}
	}
	for _, c := range "abcdefghijklmnopqrstuvwxyz234567" { // the shards: base32 id characters
		shard := string(c)
		keys, err := s.rdb.HKeys(ctx, posKey(shard)).Result()
		if err != nil {
			return err
		}
		for _, id := range keys {
			if m, ok := markers[id]; !ok || !m.mapped() {
				s.rdb.HDel(ctx, posKey(shard), id)
				touched[id] = true
			}
		}
	}
	return nil
}

// indexed reports whether r's main index entries are all present.
func (s *Store) indexed(ctx context.Context, r *Report) bool {
	var t, st, ty, all *redis.FloatCmd
	var refs []*redis.BoolCmd
	var ws []*redis.FloatCmd
	var geo *redis.GeoPosCmd
	var pos, cell *redis.StringCmd
	m := MarkerOf(r)
	cellKey, cellField := cellOf(m)
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		t = p.ZScore(ctx, reportsByTimeKey, r.ID)
		st = p.ZScore(ctx, statusIndexKey(r.Status), r.ID)
		ty = p.ZScore(ctx, listKey(r.Status, r.Type), r.ID)
		all = p.ZScore(ctx, listKey(r.Status, ""), r.ID)
		for _, h := range r.PhotoHashes() {
			refs = append(refs, p.SIsMember(ctx, photoKey(h), r.ID))
		}
		for _, w := range Words(r.Description + " " + r.Address) {
			ws = append(ws, p.ZScore(ctx, wordKey(w), r.ID))
		}
		geo = p.GeoPos(ctx, geoKey(geoClass(r.Status)), geoMember(r.ID, m))
		pos = p.HGet(ctx, posKey(posShard(r.ID)), r.ID)
		cell = p.HGet(ctx, cellKey, cellField)
		return nil
	})
	if t.Err() != nil || st.Err() != nil || ty.Err() != nil || all.Err() != nil {
		return false
	}
	for _, c := range refs {
		if !c.Val() {
			return false
		}
	}
	for _, c := range ws {
		if c.Err() != nil {
			return false
		}
	}
	if !m.mapped() {
		return true
	}
	p := geo.Val()
	entry := r.ID + "," + m.String()
	return len(p) == 1 && p[0] != nil && pos.Val() == m.String() && slices.Contains(strings.Split(cell.Val(), "|"), entry)
}

// rebuildStats recounts the statistics from the documents (countsOf, as seeding counts) and
// replaces the counters.
func (s *Store) rebuildStats(ctx context.Context, rs []*Report) error {
	days := map[string]map[string]int64{}
	reporters := map[string][]any{}
	areas := map[string]float64{}
	now := map[string]int64{}
	var resolution, first []redis.Z
	for _, r := range rs {
		c, ok := countsOf(r)
		if !ok {
			continue
		}
		for d, fields := range c.days {
			if days[d] == nil {
				days[d] = map[string]int64{}
			}
			for f, n := range fields {
				days[d][f] += n
			}
		}
		reporters[c.reporterDay] = append(reporters[c.reporterDay], r.ReporterID)
		areas[c.area]++
		now[string(c.now)]++
		if c.resolution >= 0 {
			resolution = append(resolution, redis.Z{Score: c.resolution, Member: r.ID})
		}
		if c.firstAction >= 0 {
			first = append(first, redis.Z{Score: c.firstAction, Member: r.ID})
		}
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, statsAreasKey, statsResolutionKey, statsFirstKey, statsNowKey)
		for d, fields := range days {
			p.Del(ctx, statsDayKey(d), statsReportersKey(d))
			for f, n := range fields {
				p.HSet(ctx, statsDayKey(d), f, n)
			}
			p.Expire(ctx, statsDayKey(d), statsTTL)
			if len(reporters[d]) > 0 {
				p.PFAdd(ctx, statsReportersKey(d), reporters[d]...)
				p.Expire(ctx, statsReportersKey(d), statsTTL)
			}
		}
		for cell, n := range areas {
			p.ZAdd(ctx, statsAreasKey, redis.Z{Score: n, Member: cell})
		}
		for st, n := range now {
			p.HSet(ctx, statsNowKey, st, n)
		}
		if len(resolution) > 0 {
			p.ZAdd(ctx, statsResolutionKey, resolution...)
		}
		if len(first) > 0 {
			p.ZAdd(ctx, statsFirstKey, first...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to rebuild statistics: %w", err)
	}
	return nil
}

// dropStaleRefs removes word and photo index entries whose report is gone or no longer has
// that word or photo (an edit leaves them; lists and photo checks read the documents anyway).
func (s *Store) dropStaleRefs(ctx context.Context, wordKeys, photoKeys []string, words, photos map[string][]string, touched map[string]bool) error {
	for _, key := range wordKeys {
		w := strings.TrimPrefix(key, wordKey(""))
		ids, err := s.rdb.ZRange(ctx, key, 0, -1).Result()
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !slices.Contains(words[id], w) {
				s.rdb.ZRem(ctx, key, id)
				touched[id] = true
			}
		}
	}
	for _, key := range photoKeys {
		h := strings.TrimPrefix(key, photoKey(""))
		ids, err := s.rdb.SMembers(ctx, key).Result()
		if err != nil {
			return err
		}
		for _, id := range ids {
			if !slices.Contains(photos[id], h) {
				s.rdb.SRem(ctx, key, id)
				touched[id] = true
			}
		}
	}
	return nil
}
