package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"

	"hazardwatch/hazard"
)

// Lists (/reports, exports, Open311's listing) read indexes that hold exactly the set asked
// for, never "a few thousand documents, filtered": per status and per status and type, newest
// first by creation. A filter over several statuses or types merges those sorted sets, and any
// page, however deep, costs a bounded number of Redis calls (see mergedPage). Text, a box or a
// reporter narrow a walk over the best of those indexes instead, and say so when they stop.

// listScanCap bounds the documents one narrowed list request may look at; past it the page says
// it is partial rather than go on. (A variable for the tests.)
var listScanCap = 10000

// ListQuery selects reports, newest first. Statuses must already be what the viewer may see
// (lifecycle decides; the store does not know who asks).
type ListQuery struct {
	Statuses []hazard.Status // required
	Types    []string        // none: every type
	Reporter string          // one reporter's reports only
	Text     string          // every word must be in the description or the address
	Box      *BBox           // inside this box (half-open, like the map)
	From, To time.Time       // creation window; zero: unbounded
	Skip     int
	Limit    int
}

// ListPage is one page of a list.
type ListPage struct {
	Reports []*Report
	More    bool // another page follows
	// Partial: a narrowed list stopped after listScanCap reports; a narrower filter finds the rest.
	Partial bool
}

// List answers a ListQuery.
func (s *Store) List(ctx context.Context, q ListQuery) (ListPage, error) {
	if q.Limit <= 0 || len(q.Statuses) == 0 {
		return ListPage{}, nil
	}
	min, max := int64(0), int64(1<<53)
	if !q.From.IsZero() {
		min = q.From.UnixMilli()
	}
	if !q.To.IsZero() {
		max = q.To.UnixMilli()
	}
	words := Words(q.Text)
	if q.Text != "" && len(words) == 0 {
		return ListPage{}, nil // only words too short or too common to index: nothing matches
	}
	if q.Reporter == "" && len(words) == 0 && q.Box == nil {
		ids, err := s.mergedPage(ctx, listKeys(q.Statuses, q.Types), min, max, q.Skip, q.Limit+1)
		if err != nil {
			return ListPage{}, err
		}
		return s.listPage(ctx, ids, q.Limit)
	}
	return s.narrowList(ctx, q, words, min, max)
}

func (s *Store) listPage(ctx context.Context, ids []string, limit int) (ListPage, error) {
	more := len(ids) > limit
	if more {
		ids = ids[:limit]
	}
	rs, err := s.reports(ctx, ids)
	return ListPage{Reports: rs, More: more}, err
}

// listKeys are the indexes holding statuses x types.
func listKeys(statuses []hazard.Status, types []string) []string {
	var keys []string
	for _, st := range statuses {
		if len(types) == 0 {
			keys = append(keys, listKey(st, ""))
			continue
		}
		for _, t := range types {
			keys = append(keys, listKey(st, t))
		}
	}
	return keys
}

// mergedPage is ids [skip, skip+n) of the union of keys (sorted sets of ids by creation time in
// milliseconds) within [min, max], in the order one sorted set would give: score, then id, both
// descending. Deep pages do not walk what they skip: a binary search over the time finds the
// score of the skip-th report with ZCOUNTs (about 40 rounds of one ZCOUNT per key), then each key
// gives at most n (plus that millisecond's ties).
func (s *Store) mergedPage(ctx context.Context, keys []string, min, max int64, skip, n int) ([]string, error) {
	if len(keys) == 0 || n <= 0 || min > max {
		return nil, nil
	}
	top, above := max, 0
	if skip > 0 {
		// atLeast(t): how many entries score in [t, max].
		atLeast := func(t int64) (int, error) {
			cmds := make([]*redis.IntCmd, len(keys))
			_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					cmds[i] = p.ZCount(ctx, k, strconv.FormatInt(t, 10), strconv.FormatInt(max, 10))
				}
				return nil
			})
			total := 0
			for _, c := range cmds {
				total += int(c.Val())
			}
			return total, err
		}
		if c, err := atLeast(min); err != nil {
			return nil, fmt.Errorf("store: unable to count a list: %w", err)
		} else if c <= skip {
			return nil, nil
		}
		lo, hi := min, max // invariant: atLeast(lo) > skip; the answer is the largest such t
		for lo < hi {
			mid := lo + (hi-lo+1)/2
			c, err := atLeast(mid)
			if err != nil {
				return nil, fmt.Errorf("store: unable to count a list: %w", err)
			}
			if c > skip {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		top = lo
		if top < max {
			c, err := atLeast(top + 1)
			if err != nil {
				return nil, fmt.Errorf("store: unable to count a list: %w", err)
			}
			above = c
		}
	}
	// Everything scoring above top is skipped; skip-above of top's own ties are skipped too.
	within := skip - above
	cmds := make([]*redis.ZSliceCmd, len(keys))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.ZRevRangeByScoreWithScores(ctx, k, &redis.ZRangeBy{
				Max: strconv.FormatInt(top, 10), Min: strconv.FormatInt(min, 10), Count: int64(within + n),
			})
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: unable to read a list: %w", err)
	}
	var all []redis.Z
	for _, c := range cmds {
		all = append(all, c.Val()...)
	}
	slices.SortFunc(all, func(a, b redis.Z) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(b.Member.(string), a.Member.(string))
	})
	all = slices.CompactFunc(all, func(a, b redis.Z) bool { return a.Member == b.Member })
	if within >= len(all) {
		return nil, nil
	}
	all = all[within:]
	out := make([]string, 0, min2(n, len(all)))
	for _, z := range all[:min2(n, len(all))] {
		out = append(out, z.Member.(string))
	}
	return out, nil
}

func min2(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// narrowList walks one index newest first (the reporter's, the rarest word's, the box's reports,
// or the merged status lists) and keeps what matches everything, reading positions before
// documents. It stops at listScanCap and says so.
func (s *Store) narrowList(ctx context.Context, q ListQuery, words []string, min, max int64) (ListPage, error) {
	var source []string // keys walked newest first
	var boxed []string  // or: the box's ids, already known
	switch {
	case q.Reporter != "":
		source = []string{userReportsKey(q.Reporter)}
	case len(words) > 0:
		key, err := s.rarestWord(ctx, words)
		if err != nil {
			return ListPage{}, err
		}
		source = []string{key}
	default:
		ids, ok, err := s.smallBox(ctx, *q.Box, q.Statuses, min, max)
		if err != nil {
			return ListPage{}, err
		}
		if ok {
			boxed = ids
		} else {
			source = listKeys(q.Statuses, q.Types)
		}
	}
	want, matched, scanned := q.Skip+q.Limit+1, []*Report(nil), 0
	keep := func(r *Report) bool {
		if !slices.Contains(q.Statuses, r.Status) || len(q.Types) > 0 && !slices.Contains(q.Types, r.Type) {
			return false
		}
		if ms := r.CreatedAt.UnixMilli(); ms < min || ms > max {
			return false
		}
		if q.Reporter != "" && r.ReporterID != q.Reporter {
			return false
		}
		if q.Box != nil && !q.Box.Contains(r.Lat, r.Lng) {
			return false
		}
		if len(words) > 0 {
			have := Words(r.Description + " " + r.Address)
			for _, w := range words {
				if !slices.Contains(have, w) {
					return false
				}
			}
		}
		return true
	}
	const chunk = 200
	for offset := 0; len(matched) < want && scanned < listScanCap; offset += chunk {
		var ids []string
		if boxed != nil {
			ids = boxed[min2(offset, len(boxed)):min2(offset+chunk, len(boxed))]
		} else {
			var err error
			if ids, err = s.mergedPage(ctx, source, min, max, offset, chunk); err != nil {
				return ListPage{}, err
			}
		}
		if len(ids) == 0 {
			break
		}
		scanned += len(ids)
		ids, err := s.prefilter(ctx, ids, q)
		if err != nil {
			return ListPage{}, err
		}
		rs, err := s.reports(ctx, ids)
		if err != nil {
			return ListPage{}, err
		}
		for _, r := range rs {
			if keep(r) {
				matched = append(matched, r)
			}
		}
	}
	page := ListPage{Partial: len(matched) < want && scanned >= listScanCap}
	if len(matched) > q.Skip {
		matched = matched[q.Skip:]
		page.More = len(matched) > q.Limit
		page.Reports = matched[:min2(q.Limit, len(matched))]
	}
	return page, nil
}

// prefilter drops ids whose position entry rules them out (status, type, box) before their
// documents are read. Reports not on the map (unconfirmed) have no entry and pass to the
// document check.
func (s *Store) prefilter(ctx context.Context, ids []string, q ListQuery) ([]string, error) {
	cmds := make([]*redis.StringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGet(ctx, posKey(posShard(id)), id)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: unable to read positions: %w", err)
	}
	out := ids[:0:0]
	for i, id := range ids {
		m, err := ParseMarker(cmds[i].Val())
		if err != nil || cmds[i].Val() == "" {
			out = append(out, id)
			continue
		}
		if !slices.Contains(q.Statuses, m.Status) || len(q.Types) > 0 && !slices.Contains(q.Types, m.Type) ||
			q.Box != nil && !q.Box.Contains(m.Lat, m.Lng) {
			continue
		}
		out = append(out, id)
	}
	return out, nil
}

// smallBoxLimit is how many reports a box may hold for its list to start from the box itself.
// (A variable for the tests.)
var smallBoxLimit = 5000

// smallBox lists the reports in box with the given statuses, newest first, when there are at
// most smallBoxLimit of them (ok false otherwise: the caller walks the time lists instead).
func (s *Store) smallBox(ctx context.Context, b BBox, statuses []hazard.Status, min, max int64) ([]string, bool, error) {
	type hit struct {
		id string
		at int64
	}
	pts, complete, err := s.InBox(ctx, b, statuses, int64(smallBoxLimit)+1)
	if err != nil || !complete || len(pts) > smallBoxLimit {
		return nil, false, err
	}
	hits := make([]hit, len(pts))
	for i, p := range pts {
		hits[i] = hit{id: p.ID}
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.id
	}
	cmds := make([]*redis.StringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGet(ctx, posKey(posShard(id)), id)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, false, fmt.Errorf("store: unable to read positions: %w", err)
	}
	kept := hits[:0]
	for i, h := range hits {
		m, err := ParseMarker(cmds[i].Val())
		if err != nil || cmds[i].Val() == "" || !b.Contains(m.Lat, m.Lng) {
			continue
		}
		if h.at = m.Created.UnixMilli(); h.at < min || h.at > max {
			continue
		}
		kept = append(kept, h)
	}
	slices.SortFunc(kept, func(a, b hit) int {
		if a.at != b.at {
			if a.at > b.at {
				return -1
			}
			return 1
		}
		return strings.Compare(b.id, a.id)
	})
	out := make([]string, len(kept))
	for i, h := range kept {
		out[i] = h.id
	}
	return out, true, nil
}

// rarestWord is the word index with the fewest reports among words.
func (s *Store) rarestWord(ctx context.Context, words []string) (string, error) {
	cmds := make([]*redis.IntCmd, len(words))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, w := range words {
			cmds[i] = p.ZCard(ctx, wordKey(w))
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store: unable to read the word index: %w", err)
	}
	best := 0
	for i, c := range cmds {
		if c.Val() < cmds[best].Val() {
			best = i
		}
	}
	return wordKey(words[best]), nil
}

// stopWords are too common to be worth an index entry (English and Hebrew).
var stopWords = map[string]bool{
	"the": true, "and": true, "of": true, "on": true, "in": true, "at": true, "to": true, "is": true, "it": true,
	"by": true, "for": true, "near": true, "with": true, "an": true, "or": true, "from": true, "this": true, "there": true,
	"של": true, "על": true, "את": true, "עם": true, "ליד": true, "זה": true, "יש": true, "גם": true,
}

// maxIndexedWords bounds one report's entries in the word index.
const maxIndexedWords = 40

// Words are the searchable words of a text: lower-cased runs of letters and digits of two
// characters or more, without the most common words, each once, at most maxIndexedWords.
func Words(text string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len([]rune(w)) < 2 || len(w) > 40 || stopWords[w] || slices.Contains(out, w) {
			continue
		}
		out = append(out, w)
		if len(out) == maxIndexedWords {
			break
		}
	}
	return out
}

// PhotoHashes are every photo r names: its own and its updates' (hidden ones included: those who
// moderate r still see them).
func (r *Report) PhotoHashes() []string {
	out := slices.Concat(r.Photos, r.HiddenPhotos)
	for _, u := range r.Updates {
		if u.Photo != "" && !slices.Contains(out, u.Photo) {
			out = append(out, u.Photo)
		}
	}
	return out
}

// PhotoReports are the reports whose documents name photo hash now (the index may remember
// reports that have since dropped it; they are left out).
func (s *Store) PhotoReports(ctx context.Context, hash string) ([]*Report, error) {
	ids, err := s.rdb.SMembers(ctx, photoKey(hash)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to read a photo's reports: %w", err)
	}
	rs, err := s.reports(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := rs[:0]
	for _, r := range rs {
		if slices.Contains(r.PhotoHashes(), hash) {
			out = append(out, r)
		}
	}
	return out, nil
}
