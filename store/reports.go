package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"hazardwatch/hazard"
)

// Report is one hazard report. It is stored as one JSON document that Go builds; Redis scripts
// only compare its version and write it whole (cjson would alter it).
type Report struct {
	ID           string        `json:"id"`
	Version      int64         `json:"version"`
	Type         string        `json:"type"`
	Severity     string        `json:"severity"`
	Description  string        `json:"description"`
	Lat          float64       `json:"lat"`
	Lng          float64       `json:"lng"`
	Address      string        `json:"address"`
	Photos       []string      `json:"photos"` // content hashes, see package photo
	Status       hazard.Status `json:"status"`
	ReporterID   string        `json:"reporter_id"`
	ReporterName string        `json:"reporter_name,omitempty"` // kept only when ShowName
	ShowName     bool          `json:"show_name"`
	DuplicateOf  string        `json:"duplicate_of,omitempty"`
	Duplicates   []string      `json:"duplicates,omitempty"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
	ExpiresAt    time.Time     `json:"expires_at,omitzero"` // transient types only
	Source       string        `json:"source,omitempty"`    // "open311:<key name>" for API reports
	MediaURL     string        `json:"media_url,omitempty"` // a link an API client gave (never fetched)
	History      []Change      `json:"history"`

	// Confirmations is the size of the "still there" set, read with the document.
	Confirmations int64 `json:"-"`
}

// Change is one entry of a report's timeline.
type Change struct {
	At     time.Time     `json:"at"`
	By     string        `json:"by"` // user id, or "system"
	Action hazard.Action `json:"action"`
	From   hazard.Status `json:"from"`
	To     hazard.Status `json:"to"`
	Note   string        `json:"note,omitempty"`
}

var (
	// ErrConflict means the report changed since the caller read it (version mismatch).
	ErrConflict = errors.New("store: changed by someone else")
	// ErrTransition means the workflow does not allow that action from the current status.
	ErrTransition = errors.New("store: status change not allowed")
)

// ReportID derives a report id from the form's idempotency key, so a retried submit (after a
// timeout or a failover) finds the report it already made instead of making a second one.
// Without a key the id is random.
func ReportID(uid, idemKey string) string {
	if idemKey == "" {
		return newID()
	}
	sum := sha256.Sum256([]byte(uid + "\x00" + idemKey))
	return strings.ToLower(idEncoding.EncodeToString(sum[:10]))
}

// ValidReportID reports whether s can name a report.
func ValidReportID(s string) bool { return validID(s) }

// CreateReport stores a new report (r.ID already set by ReportID) and its indexes. It returns
// created=false with the stored report when that id exists already: a repeated submit.
func (s *Store) CreateReport(ctx context.Context, r *Report) (*Report, bool, error) {
	if !validID(r.ID) {
		return nil, false, fmt.Errorf("store: bad report id %q", r.ID)
	}
	r.Version = 1
	doc, err := json.Marshal(r)
	if err != nil {
		return nil, false, err
	}
	ok, err := s.rdb.SetNX(ctx, reportKey(r.ID), doc, 0).Result()
	if err != nil {
		return nil, false, fmt.Errorf("store: unable to create report: %w", err)
	}
	if !ok {
		existing, err := s.Report(ctx, r.ID)
		if err != nil {
			return nil, false, err
		}
		// Re-apply the indexes: the first attempt may have died between document and indexes.
		if err := s.indexReport(ctx, existing, ""); err != nil {
			return nil, false, err
		}
		return existing, false, nil
	}
	if err := s.indexReport(ctx, r, ""); err != nil {
		return nil, false, err
	}
	s.countCreated(ctx, r)
	s.publish(ctx, "report.created", r.ID)
	return r, true, nil
}

// indexReport writes r's global index entries; oldStatus, when set, is removed first. Every
// command is idempotent, so a retry or a repair run converges on the same state. The indexes
// live in other slots than the document (Redis Cluster), hence a pipeline, not a transaction.
func (s *Store) indexReport(ctx context.Context, r *Report, oldStatus hazard.Status) error {
	created := float64(r.CreatedAt.UnixMilli())
	member := r.Type + ":" + r.ID
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if oldStatus != "" && oldStatus != r.Status {
			p.ZRem(ctx, statusIndexKey(string(oldStatus)), r.ID)
			p.ZRem(ctx, geoKey(string(oldStatus)), member)
		}
		p.ZAdd(ctx, reportsByTimeKey, redis.Z{Score: created, Member: r.ID})
		p.ZAdd(ctx, statusIndexKey(string(r.Status)), redis.Z{Score: float64(r.UpdatedAt.UnixMilli()), Member: r.ID})
		p.ZAdd(ctx, typeIndexKey(r.Type), redis.Z{Score: created, Member: r.ID})
		p.ZAdd(ctx, userReportsKey(r.ReporterID), redis.Z{Score: created, Member: r.ID})
		p.GeoAdd(ctx, geoKey(string(r.Status)), &redis.GeoLocation{Name: member, Longitude: r.Lng, Latitude: r.Lat})
		if !r.ExpiresAt.IsZero() && r.Status.Active() {
			p.ZAdd(ctx, expiryKey, redis.Z{Score: float64(r.ExpiresAt.UnixMilli()), Member: r.ID})
		} else {
			p.ZRem(ctx, expiryKey, r.ID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to index report: %w", err)
	}
	return nil
}

// Report loads one report with its confirmation count.
func (s *Store) Report(ctx context.Context, id string) (*Report, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	var doc *redis.StringCmd
	var n *redis.IntCmd
	// Same hash tag, same slot: one round trip even on a cluster.
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		doc = p.Get(ctx, reportKey(id))
		n = p.SCard(ctx, reportConfirmsKey(id))
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: unable to load report: %w", err)
	}
	r, err := decodeReport(doc.Val())
	if err != nil {
		return nil, err
	}
	r.Confirmations = n.Val()
	return r, nil
}

func decodeReport(doc string) (*Report, error) {
	var r Report
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		return nil, fmt.Errorf("store: corrupt report document: %w", err)
	}
	return &r, nil
}

// casScript replaces a report document only if its stored version is the expected one.
// It reads the version with cjson but writes the Go-built JSON untouched.
var casScript = redis.NewScript(`#!lua
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
local doc = cjson.decode(cur)
if tostring(doc['version']) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

// saveReport writes r (whose Version the caller read) as version+1, atomically against
// concurrent writers.
func (s *Store) saveReport(ctx context.Context, r *Report) error {
	expected := r.Version
	r.Version++
	doc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	res, err := casScript.Run(ctx, s.rdb, []string{reportKey(r.ID)}, strconv.FormatInt(expected, 10), doc).Int()
	if err != nil {
		r.Version = expected
		return fmt.Errorf("store: unable to save report: %w", err)
	}
	switch res {
	case -1:
		return ErrNotFound
	case 0:
		r.Version = expected
		return ErrConflict
	}
	return nil
}

// Transition applies a workflow action to report id, which the caller saw at version (0: take
// the current one). It appends to the timeline and moves the report between indexes.
func (s *Store) Transition(ctx context.Context, id string, version int64, a hazard.Action, by, note, duplicateOf string) (*Report, error) {
	r, err := s.Report(ctx, id)
	if err != nil {
		return nil, err
	}
	if version != 0 && version != r.Version {
		return nil, ErrConflict
	}
	next, ok := hazard.Next(r.Status, a)
	if !ok {
		return nil, ErrTransition
	}
	old := r.Status
	now := time.Now().UTC()
	r.History = append(r.History, Change{At: now, By: by, Action: a, From: old, To: next, Note: note})
	r.Status, r.UpdatedAt = next, now
	if a == hazard.MarkDuplicate {
		r.DuplicateOf = duplicateOf
	}
	if a == hazard.Reopen {
		r.DuplicateOf = ""
	}
	if err := s.saveReport(ctx, r); err != nil {
		return nil, err
	}
	if err := s.indexReport(ctx, r, old); err != nil {
		return nil, err
	}
	s.countTransition(ctx, r, now)
	s.publish(ctx, "report.updated", r.ID)
	return r, nil
}

// EditDescription changes the text of a report the caller saw at version.
func (s *Store) EditDescription(ctx context.Context, id string, version int64, text string) (*Report, error) {
	r, err := s.Report(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Version != version {
		return nil, ErrConflict
	}
	r.Description, r.UpdatedAt = text, time.Now().UTC()
	if err := s.saveReport(ctx, r); err != nil {
		return nil, err
	}
	s.publish(ctx, "report.updated", r.ID)
	return r, nil
}

// Confirm records that uid saw the hazard still there: once per user (a set), and for transient
// types the expiry moves forward. It returns whether this was uid's first confirmation.
func (s *Store) Confirm(ctx context.Context, id, uid string, extend time.Duration) (bool, int64, error) {
	r, err := s.Report(ctx, id)
	if err != nil {
		return false, 0, err
	}
	var added, count *redis.IntCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		added = p.SAdd(ctx, reportConfirmsKey(id), uid)
		count = p.SCard(ctx, reportConfirmsKey(id))
		return nil
	})
	if err != nil {
		return false, 0, fmt.Errorf("store: unable to confirm: %w", err)
	}
	if added.Val() == 1 && !r.ExpiresAt.IsZero() && r.Status.Active() {
		if err := s.rdb.ZAdd(ctx, expiryKey, redis.Z{Score: float64(time.Now().Add(extend).UnixMilli()), Member: id}).Err(); err != nil {
			return false, 0, fmt.Errorf("store: unable to extend expiry: %w", err)
		}
	}
	return added.Val() == 1, count.Val(), nil
}

// Confirmed reports whether uid has confirmed report id.
func (s *Store) Confirmed(ctx context.Context, id, uid string) (bool, error) {
	return s.rdb.SIsMember(ctx, reportConfirmsKey(id), uid).Result()
}

// reports loads several reports, skipping ids whose document is gone.
func (s *Store) reports(ctx context.Context, ids []string) ([]*Report, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	docs := make([]*redis.StringCmd, len(ids))
	counts := make([]*redis.IntCmd, len(ids))
	// A pipeline, not MGET: the documents sit in many slots.
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			docs[i] = p.Get(ctx, reportKey(id))
			counts[i] = p.SCard(ctx, reportConfirmsKey(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: unable to load reports: %w", err)
	}
	out := make([]*Report, 0, len(ids))
	for i := range ids {
		if docs[i].Err() != nil {
			continue
		}
		r, err := decodeReport(docs[i].Val())
		if err != nil {
			return nil, err
		}
		r.Confirmations = counts[i].Val()
		out = append(out, r)
	}
	return out, nil
}

// ReportFilter selects reports for a list. Empty fields match everything.
type ReportFilter struct {
	Types    []string
	Statuses []hazard.Status
	Reporter string // user id
	Text     string // case-insensitive substring of description or address
	Keep     func(*Report) bool
}

func (f ReportFilter) match(r *Report) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, r.Type) {
		return false
	}
	if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, r.Status) {
		return false
	}
	if f.Text != "" {
		t := strings.ToLower(f.Text)
		if !strings.Contains(strings.ToLower(r.Description), t) && !strings.Contains(strings.ToLower(r.Address), t) {
			return false
		}
	}
	return f.Keep == nil || f.Keep(r)
}

// maxScan bounds how many documents one list request may read when filters are selective.
const maxScan = 5000

// Reports lists matching reports newest first: page (from 0) of size per, and whether more
// follow. It walks the narrowest index (the reporter's, one status's, one type's, or all) and
// filters the rest in Go, reading at most maxScan documents.
func (s *Store) Reports(ctx context.Context, f ReportFilter, page, per int) ([]*Report, bool, error) {
	key, rest := reportsByTimeKey, f
	switch {
	case f.Reporter != "":
		key = userReportsKey(f.Reporter)
	case len(f.Statuses) == 1:
		key, rest.Statuses = statusIndexKey(string(f.Statuses[0])), nil
	case len(f.Types) == 1:
		key, rest.Types = typeIndexKey(f.Types[0]), nil
	}
	if len(rest.Types) == 0 && len(rest.Statuses) == 0 && rest.Text == "" && rest.Keep == nil {
		// The index alone answers: read exactly one page (and one more id to know if more follow).
		start := int64(page * per)
		ids, err := s.rdb.ZRevRange(ctx, key, start, start+int64(per)).Result()
		if err != nil {
			return nil, false, fmt.Errorf("store: unable to list reports: %w", err)
		}
		more := len(ids) > per
		if more {
			ids = ids[:per]
		}
		rs, err := s.reports(ctx, ids)
		return rs, more, err
	}
	skip, out := page*per, make([]*Report, 0, per)
	const chunk = 100
	for start := int64(0); start < maxScan; start += chunk {
		ids, err := s.rdb.ZRevRange(ctx, key, start, start+chunk-1).Result()
		if err != nil {
			return nil, false, fmt.Errorf("store: unable to list reports: %w", err)
		}
		rs, err := s.reports(ctx, ids)
		if err != nil {
			return nil, false, err
		}
		for _, r := range rs {
			if !f.match(r) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			if len(out) == per {
				return out, true, nil
			}
			out = append(out, r)
		}
		if len(ids) < chunk {
			break
		}
	}
	return out, false, nil
}

// NearbyReport is a report with its distance from a point.
type NearbyReport struct {
	*Report
	Metres float64
}

// Nearby finds active reports of a type within radius metres, nearest first (the duplicate
// check). GEOSEARCH on the active statuses' GEO sets; members carry the type, so no document
// is read for other types.
func (s *Store) Nearby(ctx context.Context, lat, lng, radius float64, typ string) ([]NearbyReport, error) {
	dist := map[string]float64{}
	var ids []string
	for _, st := range []hazard.Status{hazard.Pending, hazard.Open, hazard.InProgress} {
		locs, err := s.rdb.GeoSearchLocation(ctx, geoKey(string(st)), &redis.GeoSearchLocationQuery{
			GeoSearchQuery: redis.GeoSearchQuery{Longitude: lng, Latitude: lat, Radius: radius, RadiusUnit: "m", Sort: "ASC", Count: 50},
			WithDist:       true,
		}).Result()
		if err != nil {
			return nil, fmt.Errorf("store: unable to search nearby: %w", err)
		}
		for _, l := range locs {
			t, id, ok := strings.Cut(l.Name, ":")
			if !ok || t != typ {
				continue
			}
			dist[id] = l.Dist
			ids = append(ids, id)
		}
	}
	rs, err := s.reports(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]NearbyReport, 0, len(rs))
	for _, r := range rs {
		out = append(out, NearbyReport{Report: r, Metres: dist[r.ID]})
	}
	slices.SortStableFunc(out, func(a, b NearbyReport) int { return cmp.Compare(a.Metres, b.Metres) })
	return out, nil
}

// DueForExpiry returns up to n report ids whose expiry time has passed.
func (s *Store) DueForExpiry(ctx context.Context, now time.Time, n int64) ([]string, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, expiryKey, &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: n}).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to read expiry queue: %w", err)
	}
	return ids, nil
}

// DropExpiry removes a report from the expiry queue.
func (s *Store) DropExpiry(ctx context.Context, id string) error {
	return s.rdb.ZRem(ctx, expiryKey, id).Err()
}

// TryLock takes a job lock for ttl (SET NX PX): with several app instances, one runs the job.
func (s *Store) TryLock(ctx context.Context, job string, ttl time.Duration) (bool, error) {
	return s.rdb.SetNX(ctx, "hw:lock:{"+job+"}", newID(), ttl).Result()
}

// publish tells other instances a report changed (relayed to browsers by issue 5's SSE).
func (s *Store) publish(ctx context.Context, event, id string) {
	s.rdb.Publish(ctx, eventsChannel, event+" "+id)
}

const eventsChannel = "events:reports"

// SeedReports stores many new reports at once for demos and benchmarks: documents and index
// entries go in one pipeline per call (the caller batches). Not for request paths: it skips the
// per-report existence check and events.
func (s *Store) SeedReports(ctx context.Context, rs []*Report) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, r := range rs {
			r.Version = 1
			doc, err := json.Marshal(r)
			if err != nil {
				return err
			}
			p.SetNX(ctx, reportKey(r.ID), doc, 0)
			created := float64(r.CreatedAt.UnixMilli())
			p.ZAdd(ctx, reportsByTimeKey, redis.Z{Score: created, Member: r.ID})
			p.ZAdd(ctx, statusIndexKey(string(r.Status)), redis.Z{Score: float64(r.UpdatedAt.UnixMilli()), Member: r.ID})
			p.ZAdd(ctx, typeIndexKey(r.Type), redis.Z{Score: created, Member: r.ID})
			p.ZAdd(ctx, userReportsKey(r.ReporterID), redis.Z{Score: created, Member: r.ID})
			p.GeoAdd(ctx, geoKey(string(r.Status)), &redis.GeoLocation{Name: r.Type + ":" + r.ID, Longitude: r.Lng, Latitude: r.Lat})
			statsCreated(ctx, p, r)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: unable to seed reports: %w", err)
	}
	return nil
}

// NewReportID returns a fresh random report id (for seeding and API clients without a key).
func NewReportID() string { return newID() }

// ReportEvents subscribes to report events from every instance. go-redis resubscribes by itself
// after a dropped connection or a Redis restart. The channel closes when ctx ends.
func (s *Store) ReportEvents(ctx context.Context) <-chan string {
	ps := s.rdb.Subscribe(ctx, eventsChannel)
	out := make(chan string, 256)
	go func() {
		defer close(out)
		defer ps.Close()
		ch := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				select {
				case out <- m.Payload:
				default: // the hub is stuck: drop rather than block Redis reads
				}
			}
		}
	}()
	return out
}

// ReportsBetween walks the time index newest first between from and to (inclusive), skipping
// offset entries and returning up to count documents (missing ones skipped).
func (s *Store) ReportsBetween(ctx context.Context, from, to time.Time, offset, count int) ([]*Report, error) {
	ids, err := s.rdb.ZRevRangeByScore(ctx, reportsByTimeKey, &redis.ZRangeBy{
		Min: strconv.FormatInt(from.UnixMilli(), 10), Max: strconv.FormatInt(to.UnixMilli(), 10),
		Offset: int64(offset), Count: int64(count),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("store: unable to list reports: %w", err)
	}
	return s.reports(ctx, ids)
}
