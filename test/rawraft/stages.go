package main

import (
	"strings"
	"time"

	metrics "github.com/hashicorp/go-metrics"
)

// Stages are raft's own timings of the commit path over one measurement,
// from the samples it reports through go-metrics (means, in ms): the
// leader's log write, a follower's log write, the append to a follower as
// the leader sees it (the follower's write, the network and both sides'
// scheduling), and the commit (the leader's write to commit). The agents
// report the same samples on /v1/metrics, so that the commit path can be
// compared stage by stage (README.md, "Replicated spawns").
type Stages struct {
	LeaderWriteMs   float64 `json:"leader_write_ms"`
	FollowerWriteMs float64 `json:"follower_write_ms"`
	AppendMs        float64 `json:"append_ms"`
	CommitMs        float64 `json:"commit_ms"`
}

// stageSamples are the sample names of each stage; a name ending in ";"
// takes every labelled series under it.
var stageSamples = []struct {
	name string
	set  func(*Stages, float64)
}{
	{"raft.leader.dispatchLog", func(s *Stages, v float64) { s.LeaderWriteMs = v }},
	{"raft.rpc.appendEntries.storeLogs", func(s *Stages, v float64) { s.FollowerWriteMs = v }},
	{"raft.replication.appendEntries.rpc;", func(s *Stages, v float64) { s.AppendMs = v }},
	{"raft.commitTime", func(s *Stages, v float64) { s.CommitMs = v }},
}

// recordStages sends raft's samples to a new in-memory sink until the
// returned function is called, which gives the stages seen meanwhile. It
// costs every sample a lock: runs that measure CPU leave it off.
func recordStages() func() *Stages {
	sink := metrics.NewInmemSink(time.Hour, time.Hour)
	cfg := metrics.DefaultConfig("")
	cfg.EnableHostname = false
	cfg.EnableRuntimeMetrics = false
	if _, err := metrics.NewGlobal(cfg, sink); err != nil {
		return func() *Stages { return nil }
	}
	return func() *Stages {
		_, _ = metrics.NewGlobal(cfg, &metrics.BlackholeSink{})
		var st Stages
		for _, s := range stageSamples {
			var sum float64
			var n int
			for _, iv := range sink.Data() {
				for k, v := range iv.Samples {
					if k == s.name || strings.HasSuffix(s.name, ";") && strings.HasPrefix(k, s.name) {
						sum += v.Sum
						n += v.Count
					}
				}
			}
			if n > 0 {
				s.set(&st, sum/float64(n))
			}
		}
		return &st
	}
}
