package cluster

import (
	"fmt"
	"net/http"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

// handleSpawnBatch serves POST /v1/spawn/batch: many spawns in one request,
// each with its own request id of the client's session, committed
// together (they share raft entries) and answered one by one. It is what
// the Go client sends when concurrent callers spawn at once: one request,
// one JSON decode and one answer for many spawns, instead of one each.
func (s *serving) handleSpawnBatch(w http.ResponseWriter, r *http.Request) {
	var req api.SpawnBatchRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	sess, err := spawnBatchSessions(r, req.Items)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	results := make([]api.SpawnBatchResult, len(req.Items))
	// Items that pass the checks go to the table together; the others are
	// answered with their error and never reach it.
	var cmds []fsm.Command
	var cmdSess []*sessionRef
	var slot []int
	now := time.Now().UnixNano()
	for i := range req.Items {
		cmd, err := spawnCommand(&req.Items[i].Spawn, s.kernel.Programs())
		if err == nil {
			cmd.Now = now
			err = checkEncodable(cmd)
		}
		if err != nil {
			results[i] = s.batchError(r, err)
			continue
		}
		cmds, slot = append(cmds, cmd), append(slot, i)
		if sess != nil {
			cmdSess = append(cmdSess, sess[i])
		}
	}
	var index uint64
	if len(cmds) > 0 {
		for j, o := range s.c.submitBatch(r.Context(), cmdSess, cmds) {
			i := slot[j]
			switch {
			case o.err != nil:
				results[i] = s.batchError(r, o.err)
			case o.res.Err != nil:
				results[i] = s.batchError(r, domainError(o.res.Err))
			default:
				results[i] = api.SpawnBatchResult{PID: o.res.PID, Index: o.res.Index}
				index = max(index, o.res.Index)
			}
		}
	}
	s.readHeaders(w, index, false)
	writeJSON(w, http.StatusOK, api.SpawnBatchResponse{Results: results, Index: index})
}

// batchError is the result of an item that failed with err.
func (s *serving) batchError(r *http.Request, err error) api.SpawnBatchResult {
	he := s.httpErrorOf(r, err)
	return api.SpawnBatchResult{Status: he.status, Error: &api.Error{Code: he.code, Message: he.msg}}
}

// spawnBatchSessions checks the batch as a whole and returns each item's
// session reference, or nil when the batch travels outside a session.
func spawnBatchSessions(r *http.Request, items []api.SpawnBatchItem) ([]*sessionRef, error) {
	switch {
	case len(items) == 0:
		return nil, badRequest("no items")
	case len(items) > api.MaxSpawnBatch:
		return nil, &httpError{http.StatusRequestEntityTooLarge, api.CodeTooLarge, fmt.Sprintf("%d items; at most %d", len(items), api.MaxSpawnBatch)}
	case r.Header.Get(api.HeaderRequest) != "":
		return nil, badRequest("%s does not go with a batch: each item has its own request id", api.HeaderRequest)
	}
	if r.Header.Get(api.HeaderSession) == "" {
		if r.Header.Get(api.HeaderAcked) != "" {
			return nil, badRequest("%s without %s", api.HeaderAcked, api.HeaderSession)
		}
		for i, it := range items {
			if it.Request != 0 {
				return nil, badRequest("item %d: a request id without %s", i, api.HeaderSession)
			}
		}
		return nil, nil
	}
	// The request id is per item: parse the session and acked headers
	// with a stand-in.
	base, err := parseSession(r.Header.Get(api.HeaderSession), "1", r.Header.Get(api.HeaderAcked))
	if err != nil {
		return nil, err
	}
	refs := make([]*sessionRef, len(items))
	seen := make(map[uint64]struct{}, len(items))
	for i, it := range items {
		switch _, dup := seen[it.Request]; {
		case it.Request == 0:
			return nil, badRequest("item %d: no request id", i)
		case dup:
			return nil, badRequest("item %d: request id %d repeated", i, it.Request)
		case it.Request < base.AckedBelow:
			return nil, badRequest("item %d: request id %d is below %s %d", i, it.Request, api.HeaderAcked, base.AckedBelow)
		}
		seen[it.Request] = struct{}{}
		refs[i] = &sessionRef{ID: base.ID, Request: it.Request, AckedBelow: base.AckedBelow}
	}
	return refs, nil
}
