package main

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"hazardwatch/config"
	"hazardwatch/routing"
	"hazardwatch/store"
	"hazardwatch/store/redistest"
)

// seed --bodies makes demo bodies whose areas pass the checks and cover the seeded area: the
// centre's north goes to the north council, its south to the south one, manholes to the water
// company everywhere, trees in the park to the parks authority.
func TestSeedBodies(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", srv.URL())
	var out bytes.Buffer
	if err := run(t.Context(), []string{"seed", "--reports", "0", "--bodies", "--area", "51.5074,-0.1278,5"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "made 4 demo bodies") {
		t.Fatalf("output: %q", out.String())
	}
	rdb, _ := store.Dial(config.Redis{URL: srv.URL()})
	defer rdb.Close()
	st := store.New(rdb)
	rt := routing.New(st, nil, routing.Config{}, slog.New(slog.DiscardHandler))
	at := func(lat, lng float64, typ string) []string {
		t.Helper()
		bs, err := rt.Match(t.Context(), lat, lng, typ)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, b := range bs {
			names = append(names, b.Name)
		}
		slices.Sort(names)
		return names
	}
	if got := at(51.53, -0.1278, "pothole"); !slices.Equal(got, []string{"North District Council"}) {
		t.Fatalf("north: %v", got)
	}
	if got := at(51.48, -0.1278, "pothole"); !slices.Equal(got, []string{"South District Council"}) {
		t.Fatalf("south: %v", got)
	}
	if got := at(51.48, -0.1278, "manhole"); !slices.Equal(got, []string{"Regional Water Company"}) {
		t.Fatalf("manhole: %v", got)
	}
	if got := at(51.5209, -0.1423, "tree"); !slices.Equal(got, []string{"North District Council", "Parks Authority"}) {
		t.Fatalf("park: %v", got)
	}
	if got := at(52.5, -0.1278, "pothole"); len(got) != 0 {
		t.Fatalf("far away: %v", got)
	}
}
