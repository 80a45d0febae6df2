package metrics

import (
	"strings"
	"testing"
)

func TestTextFormat(t *testing.T) {
	r := &Registry{}
	c := r.NewCounter("hw_requests_total", "Requests.", "method", "status")
	c.Add(1, "GET", "200")
	c.Add(2, "GET", "200")
	c.Add(1, "POST", `4"0`)
	h := r.NewHistogram("hw_duration_seconds", "Durations.", []float64{0.1, 1}, "route")
	h.Observe(0.05, "/")
	h.Observe(0.5, "/")
	h.Observe(3, "/")
	r.NewFunc("hw_cache_total", "Cache.", "counter", []string{"result"}, func() map[string]float64 {
		return map[string]float64{"hit": 7, "miss": 1}
	})
	var b strings.Builder
	r.Write(&b)
	got := b.String()
	for _, want := range []string{
		"# TYPE hw_requests_total counter\n",
		`hw_requests_total{method="GET",status="200"} 3`,
		`hw_requests_total{method="POST",status="4\"0"} 1`,
		"# TYPE hw_duration_seconds histogram\n",
		`hw_duration_seconds_bucket{route="/",le="0.1"} 1`,
		`hw_duration_seconds_bucket{route="/",le="1"} 2`,
		`hw_duration_seconds_bucket{route="/",le="+Inf"} 3`,
		`hw_duration_seconds_sum{route="/"} 3.55`,
		`hw_duration_seconds_count{route="/"} 3`,
		`hw_cache_total{result="hit"} 7`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

// A group reads once per scrape and writes each of its families, empty ones with no series.
func TestGroup(t *testing.T) {
	r := &Registry{}
	reads := 0
	r.NewGroup([]Spec{
		{Name: "hw_memory_bytes", Help: "Memory.", Kind: "gauge", Labels: []string{"node"}},
		{Name: "hw_lag_seconds", Help: "Lag.", Kind: "gauge", Labels: []string{"node", "replica"}},
		{Name: "hw_up", Help: "Up.", Kind: "gauge"},
	}, func() map[string]map[string]float64 {
		reads++
		return map[string]map[string]float64{
			"hw_memory_bytes": {"a:1": 1024, "b:2": 2048},
			"hw_up":           {"": 1},
		}
	})
	var b strings.Builder
	r.Write(&b)
	got := b.String()
	for _, want := range []string{
		`hw_memory_bytes{node="a:1"} 1024`,
		`hw_memory_bytes{node="b:2"} 2048`,
		"# TYPE hw_lag_seconds gauge\n# HELP hw_up Up.",
		"hw_up 1\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if reads != 1 {
		t.Errorf("read %d times in one scrape", reads)
	}
}
