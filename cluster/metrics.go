package cluster

import (
	"github.com/vproc/vproc/cluster/telemetry"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/node"
)

// newMetrics creates the agent's metrics (package telemetry). Its gauges
// read the parts open creates after it, only when /v1/metrics is scraped,
// which the HTTP server serves once open has finished.
func (a *Agent) newMetrics() error {
	m, err := telemetry.New(a.cfg.Name, telemetry.Sources{
		Raft: func() map[string]string { return a.raft.Stats() },
		View: func() *fsm.View { return a.fsm.View() },
		Kernel: func() node.Stats {
			return a.serving.kernel.Stats()
		},
		Members: func() []string {
			ms := a.gossip.Members()
			out := make([]string, len(ms))
			for i, m := range ms {
				out[i] = string(m.State.NodeStatus())
			}
			return out
		},
		Lease: func() telemetry.LeaseStats {
			st := a.serving.lease.Stats()
			return telemetry.LeaseStats{Renewals: st.Renewals, Failures: st.Failures, Freezes: st.Freezes}
		},
	})
	if err != nil {
		return err
	}
	a.metrics = m
	return nil
}

// metricsHolder is a core that has metrics: the Agent (a test's fake core
// has none).
type metricsHolder interface {
	agentMetrics() *telemetry.Metrics
}

func (a *Agent) agentMetrics() *telemetry.Metrics { return a.metrics }

// metricsOf returns c's metrics, or nil.
func metricsOf(c core) *telemetry.Metrics {
	if h, ok := c.(metricsHolder); ok {
		return h.agentMetrics()
	}
	return nil
}
