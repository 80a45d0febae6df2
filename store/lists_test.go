package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"hazardwatch/hazard"
)

// Every list answer equals the brute-force answer (filter every document, sort newest first,
// ties by id) on random data with many reports in the same millisecond, for every path: merged
// status and type lists at any depth, time windows, words, a reporter, a small box and a big one.
func TestListsAreExact(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 9))
	types := []string{"pothole", "crack", "flooding", "tree"}
	vocab := []string{"deep", "hole", "lane", "school", "bridge", "corner", "water", "branch", "בור", "כביש"}
	base := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	var all []*Report
	for i := 0; i < 900; i++ {
		r := newReport(fmt.Sprint("user", rng.IntN(5)), types[rng.IntN(len(types))], 32.70+rng.Float64()*0.2, 34.90+rng.Float64()*0.2)
		r.ID = NewReportID()
		r.Status = hazard.Statuses[1+rng.IntN(len(hazard.Statuses)-1)]     // not unconfirmed
		r.CreatedAt = base.Add(time.Duration(rng.IntN(400)) * time.Second) // many ties
		r.UpdatedAt = r.CreatedAt
		var ws []string
		for j := 0; j < 1+rng.IntN(4); j++ {
			ws = append(ws, vocab[rng.IntN(len(vocab))])
		}
		r.Description = strings.Join(ws, " ")
		all = append(all, r)
	}
	if err := s.SeedReports(ctx, all); err != nil {
		t.Fatal(err)
	}
	brute := func(q ListQuery) []string {
		var out []*Report
		for _, r := range all {
			if !slices.Contains(q.Statuses, r.Status) || len(q.Types) > 0 && !slices.Contains(q.Types, r.Type) ||
				q.Reporter != "" && r.ReporterID != q.Reporter || q.Box != nil && !q.Box.Contains(r.Lat, r.Lng) ||
				!q.From.IsZero() && r.CreatedAt.Before(q.From) || !q.To.IsZero() && r.CreatedAt.After(q.To) {
				continue
			}
			if ok := true; q.Text != "" {
				for _, w := range Words(q.Text) {
					ok = ok && slices.Contains(Words(r.Description+" "+r.Address), w)
				}
				if !ok {
					continue
				}
			}
			out = append(out, r)
		}
		slices.SortFunc(out, func(a, b *Report) int {
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(b.ID, a.ID)
		})
		ids := make([]string, len(out))
		for i, r := range out {
			ids[i] = r.ID
		}
		return ids
	}
	box := BBox{MinLng: 34.95, MinLat: 32.75, MaxLng: 35.05, MaxLat: 32.85}
	queries := map[string]ListQuery{
		"one status":          {Statuses: []hazard.Status{hazard.Open}},
		"active":              {Statuses: hazard.ActiveStatuses},
		"all statuses":        {Statuses: hazard.Statuses},
		"two types":           {Statuses: hazard.ActiveStatuses, Types: []string{"crack", "tree"}},
		"window":              {Statuses: hazard.Statuses, From: base.Add(100 * time.Second), To: base.Add(250 * time.Second)},
		"word":                {Statuses: hazard.Statuses, Text: "deep"},
		"two words, hebrew":   {Statuses: hazard.Statuses, Text: "בור כביש"},
		"reporter":            {Statuses: []hazard.Status{hazard.Open, hazard.Rejected}, Reporter: "user3"},
		"box":                 {Statuses: hazard.ActiveStatuses, Box: &box},
		"box and type":        {Statuses: hazard.Statuses, Types: []string{"pothole"}, Box: &box},
		"word, box, reporter": {Statuses: hazard.Statuses, Text: "hole", Box: &box, Reporter: "user1"},
	}
	check := func(name string, q ListQuery) {
		t.Helper()
		want := brute(q)
		if len(want) < 10 && name != "word, box, reporter" {
			t.Fatalf("%s: the data gives only %d matches; the test needs more", name, len(want))
		}
		for _, per := range []int{1, 7, 50} {
			for skip := 0; skip <= len(want)+per; skip += max(per, len(want)/9) {
				q.Skip, q.Limit = skip, per
				res, err := s.List(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range res.Reports {
					got = append(got, r.ID)
				}
				exp := want[min(skip, len(want)):min(skip+per, len(want))]
				if !slices.Equal(got, exp) || res.More != (skip+per < len(want)) || res.Partial {
					t.Fatalf("%s, skip %d, %d per page: got %v more=%v partial=%v, want %v more=%v", name, skip, per, got, res.More, res.Partial, exp, skip+per < len(want))
				}
			}
		}
	}
	for name, q := range queries {
		check(name, q)
	}
	// A box holding more reports than a box list reads walks the time lists instead: same answer.
	defer func(n int) { smallBoxLimit = n }(smallBoxLimit)
	smallBoxLimit = 20
	check("big box", ListQuery{Statuses: hazard.ActiveStatuses, Box: &box})

	// A narrowed list that runs past its scan cap says so instead of pretending it is complete.
	defer func(n int) { listScanCap = n }(listScanCap)
	listScanCap = 50
	res, err := s.List(ctx, ListQuery{Statuses: []hazard.Status{hazard.Withdrawn}, Text: "lane", Limit: 500})
	if err != nil || !res.Partial {
		t.Fatalf("a search past the cap: partial=%v err=%v", res.Partial, err)
	}
}

// Issue 13: the default list once read at most 5,000 documents, so 100 open reports older than
// 5,100 resolved ones were missing. The lists hold exactly the statuses asked for.
func TestListFindsOldOpenReportsBehindManyClosedOnes(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	base := time.Now().UTC().Add(-48 * time.Hour)
	var rs []*Report
	for i := 0; i < 5200; i++ {
		r := newReport("u", "pothole", 32.7+float64(i%100)*0.002, 34.9+float64(i/100)*0.002)
		r.ID, r.CreatedAt, r.Status = NewReportID(), base.Add(time.Duration(i)*time.Second), hazard.Resolved
		if i < 100 {
			r.Status = hazard.Open
		}
		rs = append(rs, r)
	}
	for i := 0; i < len(rs); i += 500 {
		if err := s.SeedReports(ctx, rs[i:min(i+500, len(rs))]); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.List(ctx, ListQuery{Statuses: hazard.ActiveStatuses, Skip: 80, Limit: 20})
	if err != nil || len(res.Reports) != 20 || res.More || res.Reports[19].ID != rs[0].ID {
		t.Fatalf("open reports behind 5,100 resolved ones: %d (more=%v) %v", len(res.Reports), res.More, err)
	}
}
