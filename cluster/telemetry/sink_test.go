package telemetry

import (
	"strings"
	"testing"
	"time"

	armon "github.com/armon/go-metrics"
	gometrics "github.com/hashicorp/go-metrics"
	gmprom "github.com/hashicorp/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// family returns the metric family called name in reg, or nil.
func family(t *testing.T, reg prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

// TestLibraryMetrics: what raft, memberlist and raft-boltdb report through
// the two go-metrics globals appears under the names, types and labels
// their own Prometheus sinks give.
func TestLibraryMetrics(t *testing.T) {
	reg, err := InstallGlobalSinks()
	if err != nil {
		t.Fatal(err)
	}
	gometrics.MeasureSince([]string{"sinktest", "commitTime"}, time.Now().Add(-3*time.Millisecond))
	gometrics.AddSampleWithLabels([]string{"sinktest", "replication", "rpc"}, 7, []gometrics.Label{{Name: "peer_id", Value: "n2"}})
	gometrics.AddSampleWithLabels([]string{"sinktest", "replication", "rpc"}, 9, []gometrics.Label{{Name: "peer_id", Value: "n3"}})
	gometrics.SetGauge([]string{"sinktest", "commitNumLogs"}, 4)
	gometrics.SetGauge([]string{"sinktest", "commitNumLogs"}, 2)
	gometrics.IncrCounter([]string{"sinktest", "state", "leader"}, 1)
	gometrics.IncrCounter([]string{"sinktest", "state", "leader"}, 1)
	gometrics.IncrCounter([]string{"sinktest", "state", "leader"}, -5) // refused: counters only go up
	armon.AddSample([]string{"sinktest", "boltdb.storeLogs"}, 1.5)

	if mf := family(t, reg, "vproc_sinktest_commitTime"); mf == nil || mf.GetType() != dto.MetricType_HISTOGRAM ||
		mf.Metric[0].GetHistogram().GetSampleCount() != 1 || mf.Metric[0].GetHistogram().GetSampleSum() < 3 {
		t.Errorf("commitTime: %v", mf)
	}
	mf := family(t, reg, "vproc_sinktest_replication_rpc")
	if mf == nil || len(mf.Metric) != 2 {
		t.Fatalf("replication rpc: %v", mf)
	}
	for _, m := range mf.Metric {
		if len(m.Label) != 1 || m.Label[0].GetName() != "peer_id" || m.GetHistogram().GetSampleCount() != 1 {
			t.Errorf("replication rpc metric: %v", m)
		}
	}
	if mf := family(t, reg, "vproc_sinktest_commitNumLogs"); mf == nil || mf.GetType() != dto.MetricType_GAUGE || mf.Metric[0].GetGauge().GetValue() != 2 {
		t.Errorf("commitNumLogs: %v", mf)
	}
	if mf := family(t, reg, "vproc_sinktest_state_leader"); mf == nil || mf.GetType() != dto.MetricType_COUNTER || mf.Metric[0].GetCounter().GetValue() != 2 {
		t.Errorf("state leader: %v", mf)
	}
	// raft-boltdb's keys hold dots, which a Prometheus name may not.
	if mf := family(t, reg, "vproc_sinktest_boltdb_storeLogs"); mf == nil || mf.GetType() != dto.MetricType_HISTOGRAM {
		t.Errorf("boltdb storeLogs: %v", mf)
	}
}

// TestLibrarySinkCollision: two metrics whose hashes collide stay apart.
func TestLibrarySinkCollision(t *testing.T) {
	s := newLibrarySink("sinktest_collision", "")
	a := s.create(42, kindGauge, []string{"a"}, nil)
	b := s.create(42, kindGauge, []string{"b"}, nil)
	if a == b {
		t.Fatal("two keys with one hash share a metric")
	}
	if again := s.create(42, kindGauge, []string{"b"}, nil); again != b {
		t.Error("the collided metric was made twice")
	}
	a.gauge.Set(1)
	b.gauge.Set(2)
	reg := prometheus.NewRegistry()
	if err := reg.Register(s); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"a": 1, "b": 2} {
		if mf := family(t, reg, name); mf == nil || mf.Metric[0].GetGauge().GetValue() != want {
			t.Errorf("%s: %v", name, mf)
		}
	}
}

// TestLibrarySinkKinds: one key reported as two kinds is two metrics, as in
// the libraries' own sinks; a gather reports the clash instead of mixing
// them.
func TestLibrarySinkKinds(t *testing.T) {
	s := newLibrarySink("sinktest_kinds", "")
	s.setGauge([]string{"x"}, 1, nil)
	s.addSample([]string{"x"}, 1, nil)
	reg := prometheus.NewRegistry()
	if err := reg.Register(s); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "x") {
		t.Errorf("gather of one name as a gauge and a histogram: %v", err)
	}
}

// BenchmarkLibrarySample measures two timing samples as raft reports them
// (go-metrics' MeasureSince), through this sink as the agent installs it
// (go-metrics without a service name, the sink adding the prefix) and, as
// the baseline, through hashicorp/go-metrics' own Prometheus sink with the
// service name.
func BenchmarkLibrarySample(b *testing.B) {
	run := func(b *testing.B, service string, sink gometrics.MetricSink) {
		cfg := gometrics.DefaultConfig(service)
		cfg.EnableHostname = false
		cfg.EnableRuntimeMetrics = false
		m, err := gometrics.New(cfg, sink)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		labels := []gometrics.Label{{Name: "peer_id", Value: "n2"}}
		b.ReportAllocs()
		for b.Loop() {
			m.MeasureSince([]string{"raft", "rpc", "appendEntries", "storeLogs"}, start)
			m.MeasureSinceWithLabels([]string{"raft", "replication", "appendEntries", "rpc"}, start, labels)
		}
	}
	b.Run("vproc", func(b *testing.B) {
		run(b, "", hashicorpSink{newLibrarySink("bench_sink", "bench")})
	})
	b.Run("go-metrics-prometheus", func(b *testing.B) {
		sink, err := gmprom.NewPrometheusSinkFrom(gmprom.PrometheusOpts{Registerer: prometheus.NewRegistry(), Name: "bench_sink"})
		if err != nil {
			b.Fatal(err)
		}
		run(b, "bench", sink)
	})
}
