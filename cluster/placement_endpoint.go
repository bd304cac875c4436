package cluster

import (
	"net/http"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/sched"
)

// placementRoutes registers the routes of the placement configuration (the
// strategy the leader places with), named scheduler on the wire:
//
//	GET /v1/operator/scheduler[?stale]  the cluster-wide configuration
//	PUT /v1/operator/scheduler          set it (a write, in the client's session)
func (s *serving) placementRoutes(mux *http.ServeMux) {
	mux.Handle("/v1/operator/scheduler", methods{
		http.MethodGet: s.handleGetPlacementConfig,
		http.MethodPut: s.leaderOnly(s.handleSetPlacementConfig, true),
	})
}

func (s *serving) handleGetPlacementConfig(w http.ResponseWriter, r *http.Request) {
	stale := boolParam(r.URL.Query(), "stale")
	if !stale && !s.c.isLeader() {
		s.forwardToLeader(w, r, false)
		return
	}
	v, err := s.view(r.Context(), stale)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.readHeaders(w, v.Index(), stale)
	writeJSON(w, http.StatusOK, apiSchedulerConfig(v.SchedulerConfig()))
}

func (s *serving) handleSetPlacementConfig(w http.ResponseWriter, r *http.Request) {
	var req api.SchedulerConfigRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	sess, err := sessionFrom(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Strategy == "" {
		s.fail(w, r, badRequest("no strategy: want %q or %q", sched.StrategySpread, sched.StrategyBinpack))
		return
	}
	strategy, err := sched.ParseStrategy(req.Strategy)
	if err != nil {
		s.fail(w, r, badRequest("%v", err))
		return
	}
	res, err := s.c.submit(r.Context(), sess, &fsm.SetSchedulerConfig{Strategy: fsm.Strategy(strategy)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if res.Err != nil {
		s.fail(w, r, domainError(res.Err))
		return
	}
	s.readHeaders(w, res.Index, false)
	// The answer is what this entry set, whatever came after it.
	writeJSON(w, http.StatusOK, api.SchedulerConfig{Strategy: string(strategy), ModifyIndex: res.Index})
}

func apiSchedulerConfig(c fsm.SchedulerConfig) api.SchedulerConfig {
	strategy := string(c.Strategy)
	if strategy == "" {
		strategy = string(sched.DefaultStrategy)
	}
	return api.SchedulerConfig{Strategy: strategy, ModifyIndex: c.ModifyIndex}
}
