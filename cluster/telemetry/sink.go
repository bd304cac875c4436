package telemetry

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"

	armon "github.com/armon/go-metrics"
	gometrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// librarySink is the global sink of hashicorp/go-metrics (raft,
// memberlist) and armon/go-metrics (raft-boltdb): a Prometheus collector
// of their gauges, counters and samples. Names and labels are what those
// libraries' own Prometheus sinks give: the key's parts joined with "_",
// the characters Prometheus does not allow in a name replaced by "_",
// labels as constant labels, the name as help. Samples (timings in
// milliseconds, and sizes) are histograms (sampleBuckets), where those
// sinks make summaries: a histogram needs no clock and no lock to record
// a sample, and the histograms of several agents add up.
//
// raft reports several samples for every entry on every server, so a
// report must cost little: a metric is found by a hash of its kind, parts
// and labels, without building its name, and updated in place. Only the
// first report of a metric allocates. The sink puts the prefix (the
// libraries' service name) in front of the name itself, once, so that
// go-metrics, configured without a service name, does not copy every
// key to insert it. Metrics never expire.
type librarySink struct {
	// desc is the one descriptor the collector describes; the metrics it
	// collects are made as reports arrive.
	desc   *prometheus.Desc
	prefix string // the first part of every name
	seed   maphash.Seed

	metrics sync.Map // uint64 (find's hash) → *libMetric

	mu sync.Mutex // serializes the creation of metrics; guards collided
	// collided holds, by name and labels, the metrics whose hash another
	// metric has (never seen in practice: 64 bits for a few hundred keys).
	collided map[string]*libMetric
}

type metricKind uint8

const (
	kindGauge metricKind = iota + 1
	kindCounter
	kindSample
)

// sampleBuckets are the upper bounds of the samples' histograms: 0.01 to
// about 21,000 (milliseconds for a timing), doubling.
var sampleBuckets = prometheus.ExponentialBuckets(0.01, 2, 22)

// label is a metric label of either library (same fields, so that theirs
// convert to it).
type label struct{ Name, Value string }

// libMetric is one metric of the libraries.
type libMetric struct {
	kind   metricKind
	parts  []string
	labels []label

	gauge     prometheus.Gauge
	counter   prometheus.Counter
	histogram prometheus.Histogram
}

func newLibrarySink(name, prefix string) *librarySink {
	return &librarySink{
		desc:     prometheus.NewDesc(name, name, nil, nil),
		prefix:   prefix,
		seed:     maphash.MakeSeed(),
		collided: map[string]*libMetric{},
	}
}

// Describe sends the sink's own descriptor: the registry accepts a
// collector that describes something, and the metrics it collects exist
// only once reported.
func (s *librarySink) Describe(ch chan<- *prometheus.Desc) { ch <- s.desc }

// Collect sends every metric reported so far.
func (s *librarySink) Collect(ch chan<- prometheus.Metric) {
	s.metrics.Range(func(_, v any) bool {
		v.(*libMetric).collector().Collect(ch)
		return true
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.collided {
		m.collector().Collect(ch)
	}
}

func (m *libMetric) collector() prometheus.Collector {
	switch m.kind {
	case kindGauge:
		return m.gauge
	case kindCounter:
		return m.counter
	}
	return m.histogram
}

func (m *libMetric) is(k metricKind, parts []string, labels []label) bool {
	return m.kind == k && slices.Equal(m.parts, parts) && slices.Equal(m.labels, labels)
}

// find returns the metric of kind k with the parts and labels, made on
// its first report.
func (s *librarySink) find(k metricKind, parts []string, labels []label) *libMetric {
	var h maphash.Hash
	h.SetSeed(s.seed)
	_ = h.WriteByte(byte(k))
	for _, p := range parts {
		_, _ = h.WriteString(p)
		_ = h.WriteByte(0)
	}
	for _, l := range labels {
		_ = h.WriteByte(1)
		_, _ = h.WriteString(l.Name)
		_ = h.WriteByte(0)
		_, _ = h.WriteString(l.Value)
	}
	sum := h.Sum64()
	if v, ok := s.metrics.Load(sum); ok {
		if m := v.(*libMetric); m.is(k, parts, labels) {
			return m
		}
	}
	return s.create(sum, k, parts, labels)
}

// create makes the metric of a first report, or finds the one another
// goroutine made meanwhile, or one whose hash collided.
func (s *librarySink) create(sum uint64, k metricKind, parts []string, labels []label) *libMetric {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, taken := s.metrics.Load(sum)
	if taken {
		if m := v.(*libMetric); m.is(k, parts, labels) {
			return m
		}
	}
	name := metricName(s.prefix, parts)
	full := name
	for _, l := range labels {
		full += "\x00" + l.Name + "\x00" + l.Value
	}
	full += "\x00" + string(rune('0'+k))
	if taken {
		if m, ok := s.collided[full]; ok {
			return m
		}
	}
	m := &libMetric{kind: k, parts: slices.Clone(parts), labels: slices.Clone(labels)}
	var constLabels prometheus.Labels
	if len(labels) > 0 {
		constLabels = make(prometheus.Labels, len(labels))
		for _, l := range labels {
			constLabels[l.Name] = l.Value
		}
	}
	switch k {
	case kindGauge:
		m.gauge = prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: name, ConstLabels: constLabels})
	case kindCounter:
		m.counter = prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: name, ConstLabels: constLabels})
	default:
		m.histogram = prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: name, Help: name, ConstLabels: constLabels, Buckets: sampleBuckets,
		})
	}
	if taken {
		s.collided[full] = m
	} else {
		s.metrics.Store(sum, m)
	}
	return m
}

// metricName joins prefix and a key's parts as the libraries' Prometheus
// sinks do.
func metricName(prefix string, parts []string) string {
	name := strings.Join(parts, "_")
	if prefix != "" {
		name = prefix + "_" + name
	}
	return nameReplacer.Replace(name)
}

var nameReplacer = strings.NewReplacer(" ", "_", ".", "_", "=", "_", "-", "_", "/", "_")

func (s *librarySink) setGauge(parts []string, val float64, labels []label) {
	s.find(kindGauge, parts, labels).gauge.Set(val)
}

func (s *librarySink) incrCounter(parts []string, val float32, labels []label) {
	if val < 0 {
		return // a Prometheus counter only goes up
	}
	s.find(kindCounter, parts, labels).counter.Add(float64(val))
}

func (s *librarySink) addSample(parts []string, val float32, labels []label) {
	s.find(kindSample, parts, labels).histogram.Observe(float64(val))
}

// maxLabels is how many labels a report converts without allocating; the
// libraries give at most two.
const maxLabels = 4

// hashicorpSink is the librarySink as hashicorp/go-metrics sees it.
type hashicorpSink struct{ *librarySink }

// labels converts a library's labels into buf, when they fit.
func labels[L gometrics.Label | armon.Label](buf *[maxLabels]label, ls []L) []label {
	out := buf[:0]
	for _, l := range ls {
		out = append(out, label(l))
	}
	return out
}

func (s hashicorpSink) SetGauge(key []string, val float32) { s.setGauge(key, float64(val), nil) }
func (s hashicorpSink) SetGaugeWithLabels(key []string, val float32, ls []gometrics.Label) {
	var buf [maxLabels]label
	s.setGauge(key, float64(val), labels(&buf, ls))
}
func (s hashicorpSink) SetPrecisionGauge(key []string, val float64) { s.setGauge(key, val, nil) }
func (s hashicorpSink) SetPrecisionGaugeWithLabels(key []string, val float64, ls []gometrics.Label) {
	var buf [maxLabels]label
	s.setGauge(key, val, labels(&buf, ls))
}
func (s hashicorpSink) EmitKey([]string, float32)             {}
func (s hashicorpSink) IncrCounter(key []string, val float32) { s.incrCounter(key, val, nil) }
func (s hashicorpSink) IncrCounterWithLabels(key []string, val float32, ls []gometrics.Label) {
	var buf [maxLabels]label
	s.incrCounter(key, val, labels(&buf, ls))
}
func (s hashicorpSink) AddSample(key []string, val float32) { s.addSample(key, val, nil) }
func (s hashicorpSink) AddSampleWithLabels(key []string, val float32, ls []gometrics.Label) {
	var buf [maxLabels]label
	s.addSample(key, val, labels(&buf, ls))
}

// armonSink is the librarySink as armon/go-metrics sees it.
type armonSink struct{ *librarySink }

func (s armonSink) SetGauge(key []string, val float32) { s.setGauge(key, float64(val), nil) }
func (s armonSink) SetGaugeWithLabels(key []string, val float32, ls []armon.Label) {
	var buf [maxLabels]label
	s.setGauge(key, float64(val), labels(&buf, ls))
}
func (s armonSink) EmitKey([]string, float32)             {}
func (s armonSink) IncrCounter(key []string, val float32) { s.incrCounter(key, val, nil) }
func (s armonSink) IncrCounterWithLabels(key []string, val float32, ls []armon.Label) {
	var buf [maxLabels]label
	s.incrCounter(key, val, labels(&buf, ls))
}
func (s armonSink) AddSample(key []string, val float32) { s.addSample(key, val, nil) }
func (s armonSink) AddSampleWithLabels(key []string, val float32, ls []armon.Label) {
	var buf [maxLabels]label
	s.addSample(key, val, labels(&buf, ls))
}

var (
	_ gometrics.MetricSink               = hashicorpSink{}
	_ gometrics.PrecisionGaugeMetricSink = hashicorpSink{}
	_ armon.MetricSink                   = armonSink{}
)
