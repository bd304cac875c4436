package httpapi

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
func (s *Server) placementRoutes(mux *http.ServeMux) {
	mux.Handle("/v1/operator/scheduler", methods{
		http.MethodGet: s.wrap(s.handleGetPlacementConfig),
		http.MethodPut: s.leaderOnly(s.wrap(s.handleSetPlacementConfig), true),
	})
}

func (s *Server) handleGetPlacementConfig(w http.ResponseWriter, r *http.Request) (any, error) {
	stale := boolParam(r.URL.Query(), "stale")
	if !stale && !s.core.IsLeader() {
		s.forwardToLeader(w, r, false)
		return nil, nil
	}
	v, err := s.view(r.Context(), stale)
	if err != nil {
		return nil, err
	}
	s.readHeaders(w, v.Index(), stale)
	return apiSchedulerConfig(v.SchedulerConfig()), nil
}

func (s *Server) handleSetPlacementConfig(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.SchedulerConfigRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return nil, err
	}
	sess, err := sessionFrom(r)
	if err != nil {
		return nil, err
	}
	if req.Strategy == "" {
		return nil, badRequest("no strategy: want %q or %q", sched.StrategySpread, sched.StrategyBinpack)
	}
	strategy, err := sched.ParseStrategy(req.Strategy)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	res, err := s.core.Submit(r.Context(), sess, &fsm.SetSchedulerConfig{Strategy: fsm.Strategy(strategy)})
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return nil, domainError(res.Err)
	}
	s.readHeaders(w, res.Index, false)
	// The answer is what this entry set, whatever came after it.
	return api.SchedulerConfig{Strategy: string(strategy), ModifyIndex: res.Index}, nil
}

func apiSchedulerConfig(c fsm.SchedulerConfig) api.SchedulerConfig {
	strategy := string(c.Strategy)
	if strategy == "" {
		strategy = string(sched.DefaultStrategy)
	}
	return api.SchedulerConfig{Strategy: strategy, ModifyIndex: c.ModifyIndex}
}
