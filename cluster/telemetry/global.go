package telemetry

import (
	"fmt"
	"sync"

	armon "github.com/armon/go-metrics"
	gometrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric the agent serves, vproc's own and the
// libraries' (go-metrics' service name).
const Namespace = "vproc"

var (
	globalOnce sync.Once
	globalReg  *prometheus.Registry
	globalErr  error
)

// InstallGlobalSinks installs, once per process, a Prometheus sink
// (librarySink) as the global sink of hashicorp/go-metrics (raft,
// memberlist) and of armon/go-metrics (raft-boltdb), registered with Go's
// runtime and process collectors in the process-wide registry it returns. Later calls return
// the same registry (or the first error): several agents in one process
// share it. The sinks start no goroutine and never expire a metric; the
// runtime metrics of go-metrics, which poll on a goroutine, are off
// (Go's collector reports them).
func InstallGlobalSinks() (*prometheus.Registry, error) {
	globalOnce.Do(func() {
		reg := prometheus.NewRegistry()
		if err := reg.Register(collectors.NewGoCollector()); err != nil {
			globalErr = fmt.Errorf("telemetry: go collector: %w", err)
			return
		}
		if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: Namespace})); err != nil {
			globalErr = fmt.Errorf("telemetry: process collector: %w", err)
			return
		}
		hsink := newLibrarySink("vproc_go_metrics_sink", Namespace)
		if err := reg.Register(hsink); err != nil {
			globalErr = fmt.Errorf("telemetry: go-metrics sink: %w", err)
			return
		}
		hcfg := gometrics.DefaultConfig("") // the sink adds the prefix
		hcfg.EnableHostname = false
		hcfg.EnableRuntimeMetrics = false
		if _, err := gometrics.NewGlobal(hcfg, hashicorpSink{hsink}); err != nil {
			globalErr = fmt.Errorf("telemetry: go-metrics global: %w", err)
			return
		}
		asink := newLibrarySink("vproc_armon_metrics_sink", Namespace)
		if err := reg.Register(asink); err != nil {
			globalErr = fmt.Errorf("telemetry: armon go-metrics sink: %w", err)
			return
		}
		acfg := armon.DefaultConfig("")
		acfg.EnableHostname = false
		acfg.EnableRuntimeMetrics = false
		if _, err := armon.NewGlobal(acfg, armonSink{asink}); err != nil {
			globalErr = fmt.Errorf("telemetry: armon go-metrics global: %w", err)
			return
		}
		globalReg = reg
	})
	return globalReg, globalErr
}
