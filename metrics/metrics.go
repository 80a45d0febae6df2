// Package metrics keeps the app's counters and histograms and writes them in Prometheus' text
// format for GET /metrics. It is a package of its own because every layer (HTTP, geocoding,
// Redis) reports into it; a dozen series do not need a client library and its dependencies.
package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Registry holds metric families in the order they were made.
type Registry struct {
	mu       sync.Mutex
	families []family
}

type family interface {
	write(w io.Writer)
}

// CounterVec is a counter with labels.
type CounterVec struct {
	name, help string
	labels     []string
	mu         sync.Mutex
	values     map[string]float64
}

// NewCounter registers a counter family.
func (r *Registry) NewCounter(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{name: name, help: help, labels: labels, values: map[string]float64{}}
	r.add(c)
	return c
}

func (r *Registry) add(f family) {
	r.mu.Lock()
	r.families = append(r.families, f)
	r.mu.Unlock()
}

// Add adds v to the series with these label values (in the order the labels were declared).
func (c *CounterVec) Add(v float64, labelValues ...string) {
	key := strings.Join(labelValues, "\x00")
	c.mu.Lock()
	c.values[key] += v
	c.mu.Unlock()
}

func (c *CounterVec) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, key := range sortedKeys(c.values) {
		fmt.Fprintf(w, "%s%s %s\n", c.name, labelText(c.labels, key, ""), num(c.values[key]))
	}
}

// HistogramVec counts observations into cumulative buckets, per label values.
type HistogramVec struct {
	name, help string
	labels     []string
	buckets    []float64
	mu         sync.Mutex
	series     map[string]*histogram
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	count  uint64
	sum    float64
}

// NewHistogram registers a histogram family with upper bucket bounds (ascending).
func (r *Registry) NewHistogram(name, help string, buckets []float64, labels ...string) *HistogramVec {
	h := &HistogramVec{name: name, help: help, labels: labels, buckets: buckets, series: map[string]*histogram{}}
	r.add(h)
	return h
}

// Observe records one value.
func (h *HistogramVec) Observe(v float64, labelValues ...string) {
	key := strings.Join(labelValues, "\x00")
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.series[key]
	if !ok {
		s = &histogram{counts: make([]uint64, len(h.buckets))}
		h.series[key] = s
	}
	if i := sort.SearchFloat64s(h.buckets, v); i < len(h.buckets) {
		s.counts[i]++
	}
	s.count++
	s.sum += v
}

func (h *HistogramVec) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", h.name, h.help, h.name)
	h.mu.Lock()
	defer h.mu.Unlock()
	keys := make([]string, 0, len(h.series))
	for k := range h.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		s := h.series[key]
		var cum uint64
		for i, b := range h.buckets {
			cum += s.counts[i]
			fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelText(h.labels, key, `le="`+num(b)+`"`), cum)
		}
		fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelText(h.labels, key, `le="+Inf"`), s.count)
		fmt.Fprintf(w, "%s_sum%s %s\n", h.name, labelText(h.labels, key, ""), num(s.sum))
		fmt.Fprintf(w, "%s_count%s %d\n", h.name, labelText(h.labels, key, ""), s.count)
	}
}

// Func is a family whose values are read at scrape time (gauges, or counters kept elsewhere).
type Func struct {
	name, help, kind string
	labels           []string
	read             func() map[string]float64 // label values joined by \x00 -> value
}

// NewFunc registers a family read from f at every scrape; kind is "gauge" or "counter".
func (r *Registry) NewFunc(name, help, kind string, labels []string, f func() map[string]float64) {
	r.add(&Func{name: name, help: help, kind: kind, labels: labels, read: f})
}

func (f *Func) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
	vals := f.read()
	for _, key := range sortedKeys(vals) {
		fmt.Fprintf(w, "%s%s %s\n", f.name, labelText(f.labels, key, ""), num(vals[key]))
	}
}

// Spec names one family of a group.
type Spec struct {
	Name, Help, Kind string // Kind: "gauge" or "counter"
	Labels           []string
}

// Group is families whose values come from one read at scrape time, such as every figure of one
// Redis INFO round trip.
type Group struct {
	specs []Spec
	read  func() map[string]map[string]float64
}

// NewGroup registers specs, filled at every scrape by one call of read, which returns each
// family's values by label values joined with "\x00" (as NewFunc's). A family read leaves out
// is written with no series.
func (r *Registry) NewGroup(specs []Spec, read func() map[string]map[string]float64) {
	r.add(&Group{specs: specs, read: read})
}

func (g *Group) write(w io.Writer) {
	vals := g.read()
	for _, s := range g.specs {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", s.Name, s.Help, s.Name, s.Kind)
		for _, key := range sortedKeys(vals[s.Name]) {
			fmt.Fprintf(w, "%s%s %s\n", s.Name, labelText(s.Labels, key, ""), num(vals[s.Name][key]))
		}
	}
}

// Write renders every family in the text exposition format.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	fams := append([]family(nil), r.families...)
	r.mu.Unlock()
	for _, f := range fams {
		f.write(w)
	}
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var escaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func labelText(names []string, key, extra string) string {
	var parts []string
	if len(names) > 0 {
		values := strings.Split(key, "\x00")
		for i, n := range names {
			v := ""
			if i < len(values) {
				v = values[i]
			}
			parts = append(parts, n+`="`+escaper.Replace(v)+`"`)
		}
	}
	if extra != "" {
		parts = append(parts, extra)
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func num(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
