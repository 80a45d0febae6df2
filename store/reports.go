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
	AddressLang  string        `json:"address_lang,omitempty"` // the language Address is in (BCP 47)
	Photos       []string      `json:"photos"`                 // content hashes, see package photo
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
	// Attention asks moderators to look again (hazard.ReportedFixed...); cleared by their action.
	Attention hazard.Attention `json:"attention,omitempty"`
	History   []Change         `json:"history"`
	// Staff tools, for moderators only: who works on it, the staff's own priority (separate from
	// the reporter's severity), photos a moderator hid, and the public's abuse flags waiting for a
	// moderator.
	Assignee     string      `json:"assignee,omitempty"`
	Priority     string      `json:"priority,omitempty"` // "p1" (most urgent) to "p3"; "" none
	HiddenPhotos []string    `json:"hidden_photos,omitempty"`
	Abuse        []AbuseFlag `json:"abuse,omitempty"`
	// Updates are what the public added after the report (lifecycle.AddUpdate), oldest first.
	Updates []Update `json:"updates,omitempty"`
	// FixedBy are the people (not the reporter) who said "it is fixed" since it was last opened.
	FixedBy []string `json:"fixed_by,omitempty"`
	// ContactEmail is where a reporter without an account (Open311) asked to hear back.
	ContactEmail string `json:"contact_email,omitempty"`
	// GuestEmail is where a guest's confirmation link went; kept only while the report is
	// unconfirmed (confirming it finds the account, if any, by this address).
	GuestEmail string `json:"guest_email,omitempty"`
	// Contact is what the reporter agreed to share with the bodies that fix the hazard (the
	// form's contact_ok, or an Open311 client that sent email or a name); nil, as in every
	// report made before the choice existed: nothing is shared.
	Contact *Contact `json:"contact,omitempty"`

	// Confirmations is the size of the "still there" set, read with the document.
	Confirmations int64 `json:"-"`
}

// Contact is a reporter's name and address as they agreed to share them (GeoReport v2's
// first_name, last_name and email).
type Contact struct {
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Email     string `json:"email,omitempty"`
}

// Name is the whole name ("" when none was given).
func (c *Contact) Name() string { return strings.TrimSpace(c.FirstName + " " + c.LastName) }

// Change is one entry of a report's timeline.
type Change struct {
	At     time.Time     `json:"at"`
	By     string        `json:"by"` // user id, or "system"
	Action hazard.Action `json:"action"`
	From   hazard.Status `json:"from"`
	To     hazard.Status `json:"to"`
	Note   string        `json:"note,omitempty"`
	// Staff marks a moderator's change (statistics: time to first action, actions per moderator);
	// Internal ones are shown to moderators only, with Was, the value a correction replaced.
	Staff    bool   `json:"staff,omitempty"`
	Internal bool   `json:"internal,omitempty"`
	Was      string `json:"was,omitempty"`
	// Public says a change was the public's, not a moderator's: "reporter" or "public".
	Public string `json:"public,omitempty"`
	// Body and BodyName: a body's staff made the change; the public sees it as the body's
	// (the name as it was then), moderators see By too.
	Body     string `json:"body,omitempty"`
	BodyName string `json:"body_name,omitempty"`
}

// AbuseFlag is one "report abuse" from the public: on the report, or on one of its updates.
type AbuseFlag struct {
	At     time.Time `json:"at"`
	By     string    `json:"by,omitempty"` // user id; "" for someone signed out
	Reason string    `json:"reason,omitempty"`
	Update string    `json:"update,omitempty"` // the update it is about ("" the report itself)
}

// Update is one public update on a report's timeline: text, an optional photo, "I think this is
// fixed". A moderator may hide it; it stays stored, with who hid it and why.
type Update struct {
	ID    string    `json:"id"`
	At    time.Time `json:"at"`
	By    string    `json:"by"`
	Name  string    `json:"name,omitempty"` // kept only when the author chose to show it
	Text  string    `json:"text,omitempty"`
	Photo string    `json:"photo,omitempty"` // content hash, see package photo
	Fixed bool      `json:"fixed,omitempty"`
	// Body and BodyName: a body's staff wrote it on their body's report; the public sees the
	// body (the name as it was then), never the person (By, for moderators).
	Body     string    `json:"body,omitempty"`
	BodyName string    `json:"body_name,omitempty"`
	HiddenAt time.Time `json:"hidden_at,omitzero"`
	HiddenBy string    `json:"hidden_by,omitempty"`
	Reason   string    `json:"hidden_reason,omitempty"`
}

// Hidden reports whether a moderator hid the update.
func (u Update) Hidden() bool { return !u.HiddenAt.IsZero() }

var (
	// ErrConflict means the report changed since the caller read it (version mismatch).
	ErrConflict = errors.New("store: changed by someone else")
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

// CreateReport stores a new report (r.ID already set by ReportID) with its events, as version 1.
// It returns created=false with the stored report when that id exists already: a repeated
// submit, which also finishes whatever a first attempt that died half-way left undone.
func (s *Store) CreateReport(ctx context.Context, r *Report, evs ...Event) (*Report, bool, error) {
	if !validID(r.ID) {
		return nil, false, fmt.Errorf("store: bad report id %q", r.ID)
	}
	s.activeClassReady(ctx) // the first report of a new database marks the grid's active class complete
	err := s.commit(ctx, r, 0, Marker{}, evs)
	var exists errExists
	if errors.As(err, &exists) {
		existing, err := decodeReport(exists.doc)
		if err != nil {
			return nil, false, err
		}
		if err := s.converge(ctx, existing, nil); err != nil {
			return nil, false, err
		}
		return existing, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// UpdateReport stores r, a changed copy of prev (the version the caller read), with the change's
// events. It fails with ErrConflict when someone else changed the report since prev was read.
func (s *Store) UpdateReport(ctx context.Context, prev, r *Report, evs ...Event) error {
	if r.ID != prev.ID {
		return fmt.Errorf("store: update of %s with %s", prev.ID, r.ID)
	}
	if n := len(r.History); n > MaxHistory {
		// Archived first: a crash after it leaves the entries in both places, never in neither.
		// (A write that then loses a version race archives them again on its retry.)
		if err := s.archiveHistory(ctx, r.ID, r.History[1:n-MaxHistory+1]); err != nil {
			return err
		}
		r.History = append([]Change{r.History[0]}, r.History[n-MaxHistory+1:]...)
	}
	return s.commit(ctx, r, prev.Version, MarkerOf(prev), evs)
}

// MaxHistory bounds a report's timeline in its document: its first entry (the report being
// made) and the newest MaxHistory-1. Older entries move to the audit stream, in order, as
// "history.archived" entries whose note is the change as JSON.
const MaxHistory = 50

func (s *Store) archiveHistory(ctx context.Context, rid string, old []Change) error {
	for _, ch := range old {
		b, err := json.Marshal(ch)
		if err != nil {
			return err
		}
		if err := s.Audit(ctx, AuditEntry{Actor: ch.By, Action: "history.archived", Target: rid, Note: string(b)}); err != nil {
			return err
		}
	}
	return nil
}

// writeIndexes writes r's entries in every global index and removes what stale markers (the
// report's earlier states) left there. Every command is idempotent, so a retry, a sweeper run
// or a repair converges on the same state. The indexes live in other slots than the document
// (Redis Cluster), hence a pipeline, not a transaction.
func (s *Store) writeIndexes(ctx context.Context, r *Report, stale []Marker) error {
	err := s.pipelineScripts(ctx, func(p redis.Pipeliner) { indexCmds(ctx, p, r, stale) })
	if err != nil {
		return fmt.Errorf("store: unable to index report: %w", err)
	}
	return nil
}

// pipelineScripts runs a pipeline that calls scripts by their hash; after a restart or a
// failover emptied the script cache it loads them and runs the pipeline again (every command
// in these pipelines is idempotent).
func (s *Store) pipelineScripts(ctx context.Context, fill func(redis.Pipeliner)) error {
	for attempt := 0; ; attempt++ {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error { fill(p); return nil })
		if err == nil || attempt == 1 || !strings.Contains(err.Error(), "NOSCRIPT") {
			return err
		}
		for _, sc := range []*redis.Script{cellScript, queueScript} {
			if err := sc.Load(ctx, s.rdb).Err(); err != nil {
				return err
			}
		}
	}
}

// cellScript keeps a finest-level cell's list of reports ("rid,marker|rid,marker..."): in field
// ARGV[1] of KEYS[1] it replaces report ARGV[2]'s entry by ARGV[3] ("" removes it). Setting a
// report's entry twice changes nothing, so converge may repeat it.
var cellScript = redis.NewScript(`#!lua
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
local prefix = ARGV[2] .. ','
local out = {}
for e in string.gmatch(cur, '[^|]+') do
  if string.sub(e, 1, #prefix) ~= prefix then out[#out + 1] = e end
end
if ARGV[3] ~= '' then out[#out + 1] = ARGV[3] end
if #out == 0 then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], table.concat(out, '|')) end
return #out
`)

// cellOf is where a marker's entry lives among the finest cells.
func cellOf(m Marker) (key, field string) {
	tag, field := block(CellOf(GridMaxLevel, m.Lat, m.Lng))
	return gridPointsKey(tag), field
}

func indexCmds(ctx context.Context, p redis.Pipeliner, r *Report, stale []Marker) {
	created := float64(r.CreatedAt.UnixMilli())
	m := MarkerOf(r)
	curKey, curField := cellOf(m)
	for _, old := range stale {
		if old.mapped() {
			if k, f := cellOf(old); !m.mapped() || k != curKey || f != curField {
				cellScript.EvalSha(ctx, p, []string{k}, f, r.ID, "")
			}
		}
		if old.Status == "" {
			continue
		}
		if old.Status != m.Status {
			p.ZRem(ctx, statusIndexKey(old.Status), r.ID)
		}
		if old.Status != m.Status {
			p.ZRem(ctx, listKey(old.Status, ""), r.ID)
		}
		if old.Status != m.Status || old.Type != m.Type {
			p.ZRem(ctx, listKey(old.Status, old.Type), r.ID)
		}
		if old.mapped() && (geoMember(r.ID, old) != geoMember(r.ID, m) || !m.mapped()) {
			p.ZRem(ctx, geoKey(geoClass(old.Status)), geoMember(r.ID, old))
		}
	}
	p.ZAdd(ctx, reportsByTimeKey, redis.Z{Score: created, Member: r.ID})
	p.ZAdd(ctx, statusIndexKey(r.Status), redis.Z{Score: float64(r.UpdatedAt.UnixMilli()), Member: r.ID})
	p.ZAdd(ctx, listKey(r.Status, ""), redis.Z{Score: created, Member: r.ID})
	p.ZAdd(ctx, listKey(r.Status, r.Type), redis.Z{Score: created, Member: r.ID})
	// Words an edit removed stay in their index until a repair: a list checks the document.
	for _, w := range Words(r.Description + " " + r.Address) {
		p.ZAdd(ctx, wordKey(w), redis.Z{Score: created, Member: r.ID})
	}
	for _, h := range r.PhotoHashes() {
		p.SAdd(ctx, photoKey(h), r.ID)
	}
	if r.ReporterID != "" { // a guest's report is nobody's until its link finds an account
		p.ZAdd(ctx, userReportsKey(r.ReporterID), redis.Z{Score: created, Member: r.ID})
	}
	if m.mapped() {
		p.GeoAdd(ctx, geoKey(geoClass(r.Status)), &redis.GeoLocation{Name: geoMember(r.ID, m), Longitude: r.Lng, Latitude: r.Lat})
		p.HSet(ctx, posKey(posShard(r.ID)), r.ID, m.String())
		cellScript.EvalSha(ctx, p, []string{curKey}, curField, r.ID, r.ID+","+m.String())
	} else {
		p.HDel(ctx, posKey(posShard(r.ID)), r.ID)
	}
	if !r.ExpiresAt.IsZero() && r.Status.Active() {
		p.ZAdd(ctx, expiryKey, redis.Z{Score: float64(r.ExpiresAt.UnixMilli()), Member: r.ID})
	} else {
		p.ZRem(ctx, expiryKey, r.ID)
	}
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
	if added.Val() == 1 { // confirmations count in the queue's urgency
		r.Confirmations = count.Val()
		if err := s.indexQueue(ctx, r); err != nil {
			return false, 0, err
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
	locs, err := s.rdb.GeoSearchLocation(ctx, geoKey(geoClass(hazard.Open)), &redis.GeoSearchLocationQuery{
		GeoSearchQuery: redis.GeoSearchQuery{Longitude: lng, Latitude: lat, Radius: radius, RadiusUnit: "m", Sort: "ASC", Count: 500},
		WithDist:       true,
	}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: unable to search nearby: %w", err)
	}
	for _, l := range locs {
		_, t, _, id, ok := parseGeoMember(l.Name)
		if !ok || t != typ {
			continue
		}
		dist[id] = l.Dist
		ids = append(ids, id)
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
	return s.rdb.SetNX(ctx, lockKey(job), newID(), ttl).Result()
}

// SeedReports stores many new reports at once for demos and benchmarks: documents, index
// entries, statistics and the map's counts (summed per cell for the whole batch) in a few
// pipelines per call (the caller batches). Not for request paths: seeded reports have no events,
// and a batch retried after an error can count twice in the statistics.
func (s *Store) SeedReports(ctx context.Context, rs []*Report) error {
	now := time.Now().UTC()
	s.activeClassReady(ctx)
	for _, sc := range []*redis.Script{cellScript, queueScript} { // a retried batch would count twice
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("store: unable to seed reports: %w", err)
		}
	}
	docs := make([][]byte, len(rs))
	for i, r := range rs {
		r.Version = 1
		doc, err := json.Marshal(r)
		if err != nil {
			return err
		}
		docs[i] = doc
	}
	err := s.pipelineScripts(ctx, func(p redis.Pipeliner) {
		for i, r := range rs {
			p.SetNX(ctx, reportKey(r.ID), docs[i], 0)
			indexCmds(ctx, p, r, nil)
			if e, ok := queueEntryOf(r); ok {
				keys, args := queueArgs(r.ID, "", &e)
				queueScript.EvalSha(ctx, p, keys, args...)
			}
			statsCreated(ctx, p, r)
		}
	})
	if err != nil {
		return fmt.Errorf("store: unable to seed reports: %w", err)
	}
	byBlock := map[string][]gridOp{}
	for _, r := range rs {
		for tag, ops := range gridOps(r.ID, Marker{}, MarkerOf(r), now) {
			byBlock[tag] = append(byBlock[tag], ops...)
		}
	}
	for tag, ops := range byBlock {
		byBlock[tag] = mergeOps(ops)
	}
	return s.applyGrid(ctx, "seed:"+newID(), byBlock, now)
}

// NewReportID returns a fresh random report id (for seeding and API clients without a key).
func NewReportID() string { return newID() }

// MoveConfirmations counts a duplicate's confirmations, and its reporter, as confirmations of the
// original (never its own reporter's). Sets in two slots: read one, add to the other; SADD makes
// a repeat harmless.
func (s *Store) MoveConfirmations(ctx context.Context, dupID, origID, dupReporter string) error {
	orig, err := s.Report(ctx, origID)
	if err != nil {
		return err
	}
	members, err := s.rdb.SMembers(ctx, reportConfirmsKey(dupID)).Result()
	if err != nil {
		return fmt.Errorf("store: unable to read confirmations: %w", err)
	}
	var move []any
	for _, m := range append(members, dupReporter) {
		if m != orig.ReporterID && m != "" {
			move = append(move, m)
		}
	}
	if len(move) == 0 {
		return nil
	}
	if err := s.rdb.SAdd(ctx, reportConfirmsKey(origID), move...).Err(); err != nil {
		return fmt.Errorf("store: unable to move confirmations: %w", err)
	}
	return s.refreshQueue(ctx, origID)
}

// MoveFollowers makes a duplicate's followers follow its original too (SADD: a repeat is
// harmless; the sets sit in two slots, so read one, add to the other).
func (s *Store) MoveFollowers(ctx context.Context, dupID, origID string) error {
	members, err := s.rdb.SMembers(ctx, reportFollowersKey(dupID)).Result()
	if err != nil {
		return fmt.Errorf("store: unable to read followers: %w", err)
	}
	if len(members) == 0 {
		return nil
	}
	move := make([]any, len(members))
	for i, m := range members {
		move[i] = m
	}
	if err := s.rdb.SAdd(ctx, reportFollowersKey(origID), move...).Err(); err != nil {
		return fmt.Errorf("store: unable to move followers: %w", err)
	}
	return nil
}
