// Package telemetry is the agent's metrics: GET /v1/metrics in the
// Prometheus text format.
//
// Each agent has its own registry (Metrics). vproc's own metrics are
// registered there with a constant label node, the agent's name, so that
// the agents of one process (a test cluster) never collide and each answers
// for itself. They are of three kinds: counters and histograms the agent's
// parts feed as things happen (HTTP requests, raft applies, the table's
// applied commands, placement rounds, lease renewals); and gauges computed
// at scrape time from what the parts already know (raft's indexes, the
// table's records by state, the kernel's run queue and processes, the gossip
// members). fsm and sched stay pure: nothing in them knows of metrics.
//
// raft and memberlist report through hashicorp/go-metrics and raft-boltdb
// through armon/go-metrics, both of which keep one global sink per process.
// The first agent of a process installs a Prometheus sink in each
// (InstallGlobalSinks, once, whatever the number of agents), registered in
// a process-wide registry together with Go's runtime and process collectors.
// Every agent's /v1/metrics shows that registry beside its own. In a
// deployment an agent is alone in its process, so these are its own
// metrics; in a process running several agents they add up all of them:
// the node label separates memberlist's (its metric labels carry it), while
// raft's and bolt's do not have one. All names start with vproc_, as
// Consul's start with consul_.
package telemetry
