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
