package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
)

// handleSpawnBatch serves POST /v1/spawn/batch: many spawns in one request,
// each with its own request id of the client's session, committed
// together (they share raft entries) and answered one by one. It is what
// the Go client sends when concurrent callers spawn at once: one request,
// one JSON decode and one answer for many spawns, instead of one each.
func (s *Server) handleSpawnBatch(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.SpawnBatchRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return nil, err
	}
	sess, err := spawnBatchSessions(r, req.Items)
	if err != nil {
		return nil, err
	}
	results := make([]api.SpawnBatchResult, len(req.Items))
	// Items that pass the checks go to the table together; the others are
	// answered with their error and never reach it.
	var cmds []fsm.Command
	var cmdSess []*commit.SessionRef
	var slot []int
	now := time.Now().UnixNano()
	for i := range req.Items {
		cmd, err := spawnCommand(&req.Items[i].Spawn, s.node.Programs())
		if err == nil {
			cmd.Owner, err = s.ownerFor(r, req.Items[i].Spawn.Owner)
			if err == nil {
				err = s.checkPlaceable(&cmd.Spec)
			}
		}
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
		for j, o := range s.core.SubmitBatch(r.Context(), cmdSess, cmds) {
			i := slot[j]
			switch {
			case o.Err != nil:
				results[i] = s.batchError(r, o.Err)
			case o.Res.Err != nil:
				results[i] = s.batchError(r, domainError(o.Res.Err))
			default:
				results[i] = api.SpawnBatchResult{PID: o.Res.PID, Index: o.Res.Index}
				index = max(index, o.Res.Index)
			}
		}
	}
	s.readHeaders(w, index, false)
	return api.SpawnBatchResponse{Results: results, Index: index}, nil
}

// batchError is the result of an item that failed with err.
func (s *Server) batchError(r *http.Request, err error) api.SpawnBatchResult {
	he := s.httpErrorOf(r, err)
	return api.SpawnBatchResult{Status: he.status, Error: &api.Error{Code: he.code, Message: he.msg}}
}

// spawnBatchSessions checks the batch as a whole and returns each item's
// session reference, or nil when the batch travels outside a session.
func spawnBatchSessions(r *http.Request, items []api.SpawnBatchItem) ([]*commit.SessionRef, error) {
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
	refs := make([]*commit.SessionRef, len(items))
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
		refs[i] = &commit.SessionRef{ID: base.ID, Request: it.Request, AckedBelow: base.AckedBelow}
	}
	return refs, nil
}

func (s *Server) handleSpawn(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.SpawnRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return nil, err
	}
	sess, err := sessionFrom(r)
	if err != nil {
		return nil, err
	}
	cmd, err := spawnCommand(&req, s.node.Programs())
	if err != nil {
		return nil, err
	}
	if cmd.Owner, err = s.ownerFor(r, req.Owner); err != nil {
		return nil, err
	}
	if err := s.checkPlaceable(&cmd.Spec); err != nil {
		return nil, err
	}
	cmd.Now = time.Now().UnixNano()
	if err := checkEncodable(cmd); err != nil {
		return nil, err
	}
	res, err := s.core.Submit(r.Context(), sess, cmd)
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return nil, domainError(res.Err)
	}
	s.readHeaders(w, res.Index, false)
	return api.SpawnResponse{PID: res.PID, Index: res.Index}, nil
}

// signalID returns the request id of the i-th target of a kill: derived
// from the session and request id, so that a retry reuses it, or random.
// Either way it is non-zero with the high bit clear (the table's own ids
// have it set).
func signalID(sess *commit.SessionRef, i int) uint64 {
	var b [8]byte
	if sess != nil {
		var in [24]byte
		binary.BigEndian.PutUint64(in[0:], sess.ID)
		binary.BigEndian.PutUint64(in[8:], sess.Request)
		binary.BigEndian.PutUint64(in[16:], uint64(i))
		sum := sha256.Sum256(in[:])
		copy(b[:], sum[:8])
	} else {
		_, _ = rand.Read(b[:])
	}
	id := binary.BigEndian.Uint64(b[:]) &^ (1 << 63)
	if id == 0 {
		id = 1
	}
	return id
}

func (s *Server) handleKill(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.KillRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return nil, err
	}
	sess, err := sessionFrom(r)
	if err != nil {
		return nil, err
	}
	if len(req.Targets) == 0 {
		return nil, badRequest("no targets")
	}
	if len(req.Targets) > api.MaxKillTargets {
		return nil, tooLarge("%d targets; the limit is %d per kill request", len(req.Targets), api.MaxKillTargets)
	}
	if req.Signal < 0 || req.Signal >= fsm.NSIG {
		return nil, badRequest("bad signal %d: want 0..%d", req.Signal, fsm.NSIG-1)
	}
	for _, t := range req.Targets {
		if t == 0 || t == -1 {
			return nil, badRequest("bad target %d: want a PID or -PGID", t)
		}
	}
	if err := s.mayKill(r, req.Targets); err != nil {
		return nil, err
	}
	// One target travels in the session envelope. Several cannot share
	// one request id: each gets a request id derived from it instead, and
	// the session must still be alive.
	envelope := sess
	if len(req.Targets) > 1 {
		envelope = nil
		if sess != nil {
			if _, ok := s.core.LocalView().Session(sess.ID); !ok {
				return nil, domainError(fsm.ErrSessionExpired)
			}
		}
	}
	// The targets are independent: commit them concurrently (they share
	// group commits), and answer in the request's order.
	type outcome struct {
		res *fsm.Result
		err error
	}
	outs := make([]outcome, len(req.Targets))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i, t := range req.Targets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() {
				<-sem
				wg.Done()
			}()
			cmd := &fsm.Signal{ID: signalID(sess, i), Target: t, Signal: req.Signal, Now: time.Now().UnixNano(), Unstarted: true}
			outs[i].res, outs[i].err = s.core.Submit(r.Context(), envelope, cmd)
		}()
	}
	wg.Wait()
	out := api.KillResponse{Reached: []api.Target{}}
	var firstErr error
	for i, o := range outs {
		if o.err != nil {
			// Other targets may have been signalled: a retry reuses
			// their ids.
			return nil, o.err
		}
		out.Index = max(out.Index, o.res.Index)
		if o.res.Err != nil {
			if firstErr == nil {
				firstErr = o.res.Err
			}
			out.Errors = append(out.Errors, api.TargetError{Target: req.Targets[i], Code: fsm.Code(o.res.Err), Message: o.res.Err.Error()})
			continue
		}
		for _, tg := range o.res.Targets {
			out.Reached = append(out.Reached, api.Target{PID: tg.PID, Incarnation: tg.Incarnation})
		}
	}
	if len(out.Errors) == len(req.Targets) {
		return nil, domainError(firstErr)
	}
	s.readHeaders(w, out.Index, false)
	return out, nil
}

// enrich fills in micro-states, CPU times and the program running now
// (which an exec changes; the table keeps the spec a restart runs): from
// the local kernel for the processes assigned here, and, unless localOnly,
// from the other nodes (GET /v1/procs?stale&local) within fanoutTimeout.
// A process whose node cannot be reached shows the command it was spawned
// with.
func (s *Server) enrich(ctx context.Context, procs []api.Process, localOnly bool) {
	remote := make(map[string][]int)
	var local []int
	var refs []ProcRef
	for i := range procs {
		p := &procs[i]
		switch {
		case p.Node == "":
		case p.Node == s.name:
			local = append(local, i)
			refs = append(refs, ProcRef{PID: p.PID, Inc: p.Incarnation})
		case !localOnly:
			remote[p.Node] = append(remote[p.Node], i)
		}
	}
	for j, info := range s.node.LocalInfos(refs) {
		if info.OK {
			p := &procs[local[j]]
			p.MicroState, p.CPUMillis = info.Micro, info.CPU.Milliseconds()
			if info.Command != "" {
				p.Command, p.Args = info.Command, nonNilArgs(info.Args)
			}
		}
	}
	if len(remote) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, fanoutTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for nodeName, idxs := range remote {
		addr, ok := s.core.NodeHTTPAddr(nodeName)
		if !ok || addr == "" {
			continue
		}
		route := "/v1/procs?stale&local&all"
		if len(idxs) == 1 {
			route = "/v1/procs/" + strconv.FormatUint(procs[idxs[0]].PID, 10) + "?stale&local"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := s.fetchLocal(ctx, addr, route)
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, i := range idxs {
				p := &procs[i]
				if q, ok := info[p.PID]; ok && q.Incarnation == p.Incarnation {
					p.MicroState, p.CPUMillis = q.MicroState, q.CPUMillis
					if q.Command != "" {
						p.Command, p.Args = q.Command, nonNilArgs(q.Args)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// nonNilArgs returns args, or an empty list for nil, so that the API
// answers [] rather than null.
func nonNilArgs(args []string) []string {
	if args == nil {
		return []string{}
	}
	return args
}

// fetchLocal asks another node for its local view of its processes.
func (s *Server) fetchLocal(ctx context.Context, addr, route string) (map[uint64]api.Process, error) {
	base, err := BaseURL(addr)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.String()+route, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(api.HeaderFwd, s.name)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, 64<<20))
	out := make(map[uint64]api.Process)
	if strings.HasPrefix(route, "/v1/procs?") {
		var l api.ProcessList
		if err := dec.Decode(&l); err != nil {
			return nil, err
		}
		for _, p := range l.Processes {
			out[p.PID] = p
		}
		return out, nil
	}
	var p api.Process
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	out[p.PID] = p
	return out, nil
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	local := boolParam(q, "local")
	stale := boolParam(q, "stale") || local
	all := boolParam(q, "all")
	var index uint64
	blocking := q.Has("index")
	if blocking {
		var err error
		if index, err = strconv.ParseUint(q.Get("index"), 10, 64); err != nil {
			return nil, badRequest("bad index %q", q.Get("index"))
		}
	}
	wait, ok, err := durationParam(q, "wait")
	if err != nil {
		return nil, err
	}
	if !ok || wait > maxBlockingWait {
		wait = maxBlockingWait
	}
	limit, after, err := pageParams(q)
	if err != nil {
		return nil, err
	}
	rows, err := formatParam(q)
	if err != nil {
		return nil, err
	}
	fields, err := api.ParseFields(q.Get("fields"))
	switch {
	case err != nil:
		return nil, badRequest("bad fields: %v", err)
	case fields != api.AllFields && !rows:
		return nil, badRequest("fields= needs format=%s", api.FormatNDJSON)
	}
	pf, err := parseProcFilter(q)
	if err != nil {
		return nil, err
	}
	if !stale && !s.core.IsLeader() {
		s.forwardToLeader(w, r, false)
		return nil, nil
	}
	ctx, cancel := s.reqCtx(r)
	defer cancel()
	v, err := s.view(ctx, stale)
	if err != nil {
		return nil, err
	}
	if blocking && v.Index() <= index {
		wctx, wcancel := context.WithTimeout(ctx, wait)
		for v.Index() <= index {
			if err := s.core.WaitApplied(wctx, v.Index()); err != nil {
				break // the wait is over: answer what there is
			}
			nv, err := s.view(wctx, stale)
			if err != nil {
				if wctx.Err() != nil {
					break
				}
				wcancel()
				return nil, err
			}
			v = nv
		}
		wcancel()
		if ctx.Err() != nil {
			s.stopping(w, r)
			return nil, nil
		}
	}
	filter := fsm.Filter{LiveOnly: !all && !pf.wantsEnded(), After: after}
	if local {
		filter.Node = s.name
	}
	pf.resolve(v)
	list := api.ProcessList{Index: v.Index()}
	if rows {
		// The page is written before this returns: its array is
		// reused by the next page, of this listing or another.
		page := rowPages.Get().(*[]api.Process)
		defer func() {
			clear(list.Processes)
			*page = list.Processes[:0]
			rowPages.Put(page)
		}()
		list.Processes = (*page)[:0]
	}
	if cap(list.Processes) < listCap(limit) {
		list.Processes = make([]api.Process, 0, listCap(limit))
	}
	now := time.Now()
	var nodes []fsm.Node
	v.Walk(filter, func(p *fsm.Process) bool {
		if !pf.match(p) {
			return true
		}
		if limit > 0 && len(list.Processes) == limit {
			list.Next = list.Processes[limit-1].PID
			return false
		}
		ap := apiProcess(p)
		if p.State == fsm.StatePending {
			if nodes == nil {
				nodes = knownNodes(v)
			}
			ap.PendingReason = pendingReason(nodes, p, now)
		}
		list.Processes = append(list.Processes, ap)
		return true
	})
	s.enrich(ctx, list.Processes, local)
	s.readHeaders(w, v.Index(), stale)
	if rows {
		writeRows(w, &list, fields)
		return nil, nil
	}
	return list, nil
}

// rowPages holds the arrays of pages answered in rows, for reuse: a
// listing of a large table asks for page after page, and a fresh array
// each time costs more than the page's encoding.
var rowPages = sync.Pool{New: func() any { return new([]api.Process) }}

// rowBufs holds the write buffers of pages answered in rows.
var rowBufs = sync.Pool{New: func() any { b := make([]byte, 0, rowBuf); return &b }}

// rowBuf is the size of the writes of a page in rows.
const rowBuf = 256 << 10

// listCap is the capacity to start a listing of at most limit processes
// with (0: no limit): a page is allocated once.
func listCap(limit int) int {
	if limit > 0 {
		return limit + 1
	}
	return 256
}

// formatParam parses the format= of a listing: json (the default) or
// ndjson, the listing in rows (api.FormatNDJSON).
func formatParam(q url.Values) (rows bool, err error) {
	switch f := q.Get("format"); f {
	case "", "json":
		return false, nil
	case api.FormatNDJSON:
		return true, nil
	default:
		return false, badRequest("bad format %q: want json or %s", f, api.FormatNDJSON)
	}
}

// writeRows writes a listing in rows: a process a line, its fields f,
// encoded without reflection, the next page's after= in api.HeaderNext.
func writeRows(w http.ResponseWriter, list *api.ProcessList, f api.Fields) {
	if list.Next != 0 {
		w.Header().Set(api.HeaderNext, strconv.FormatUint(list.Next, 10))
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	bp := rowBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= 4*rowBuf { // not one grown by a huge process
			*bp = buf[:0]
			rowBufs.Put(bp)
		}
	}()
	for i := range list.Processes {
		buf = api.AppendProcessFields(buf, &list.Processes[i], f)
		buf = append(buf, '\n')
		if len(buf) >= rowBuf-4<<10 {
			if _, err := w.Write(buf); err != nil {
				return // the client went away
			}
			buf = buf[:0]
		}
	}
	_, _ = w.Write(buf)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) (any, error) {
	pid, err := pidParam(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	local := boolParam(q, "local")
	stale := boolParam(q, "stale") || local
	if !stale && !s.core.IsLeader() {
		s.forwardToLeader(w, r, false)
		return nil, nil
	}
	v, err := s.view(r.Context(), stale)
	if err != nil {
		return nil, err
	}
	p, ok := v.Get(pid)
	if !ok {
		return nil, domainError(fmt.Errorf("%w: pid %d", fsm.ErrNoSuchProcess, pid))
	}
	out := []api.Process{apiProcess(&p)}
	if s.acl.Enabled && s.mayAccess(r, &p) == nil {
		out[0].Env = p.Spec.Env // with ACLs off the API shows no env, as before
	}
	if p.State == fsm.StatePending {
		out[0].PendingReason = pendingReason(knownNodes(v), &p, time.Now())
	}
	s.enrich(r.Context(), out, local)
	s.readHeaders(w, v.Index(), stale)
	return out[0], nil
}

func (s *Server) handleWait(w http.ResponseWriter, r *http.Request) (any, error) {
	pid, err := pidParam(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	stale := boolParam(q, "stale")
	timeout, hasTimeout, err := durationParam(q, "timeout")
	if err != nil {
		return nil, err
	}
	if !stale && !s.core.IsLeader() {
		s.forwardToLeader(w, r, false)
		return nil, nil
	}
	ctx, cancel := s.reqCtx(r)
	defer cancel()
	wctx := ctx
	if hasTimeout {
		var wcancel context.CancelFunc
		wctx, wcancel = context.WithTimeout(ctx, timeout)
		defer wcancel()
	}
	// Only the first look needs the read recipe (Guarantee 6). After it,
	// the leader's own table only ever shows committed entries, and an exit
	// or a reap seen there was committed during this call: returning it is
	// linearizable. A node that stops leading hands the wait back to the
	// client, which retries on the new leader.
	consistent := !stale
	if !stale {
		defer s.core.Await(pid)()
	}
	for {
		if !consistent && !stale && !s.core.IsLeader() {
			return nil, commit.ErrNotLeader
		}
		v, err := s.view(wctx, !consistent)
		consistent = false
		if err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				return nil, &httpError{http.StatusRequestTimeout, api.CodeTimeout, fmt.Sprintf("pid %d has not exited after %v", pid, timeout)}
			}
			return nil, err
		}
		p, ok := v.Get(pid)
		if !ok {
			return nil, domainError(fmt.Errorf("%w: pid %d", fsm.ErrNoSuchProcess, pid))
		}
		if err := s.mayAccess(r, &p); err != nil {
			return nil, err
		}
		if !p.State.Live() {
			out := []api.Process{apiProcess(&p)}
			// The status is the table's; cpu_ms only where it costs no
			// round trip to another node.
			s.enrich(ctx, out, true)
			s.readHeaders(w, v.Index(), stale)
			return out[0], nil
		}
		if err := s.core.WaitApplied(wctx, v.Index()); err != nil {
			if ctx.Err() != nil {
				s.stopping(w, r)
				return nil, nil
			}
			if wctx.Err() != nil {
				return nil, &httpError{http.StatusRequestTimeout, api.CodeTimeout, fmt.Sprintf("pid %d has not exited after %v", pid, timeout)}
			}
			return nil, err
		}
	}
}

// pageParams parses the limit= and after= of a listing: limit 0 is no
// limit, at most api.MaxListPage.
func pageParams(q url.Values) (limit int, after uint64, err error) {
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > api.MaxListPage {
			return 0, 0, badRequest("bad limit %q: want 0..%d", v, api.MaxListPage)
		}
		limit = n
	}
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			return 0, 0, badRequest("bad after %q: want a PID", v)
		}
	}
	return limit, after, nil
}

// procFilter is what a listing's node=, state= and owner= keep: the
// processes assigned to a node (its ID or name), in one of the states
// (a comma-separated list), or of one owner. Each left empty keeps all.
type procFilter struct {
	node   string
	nodes  []string // node's IDs: itself and the IDs of nodes of that name
	states []fsm.State
	owner  string
}

var allStates = []fsm.State{fsm.StatePending, fsm.StatePlaced, fsm.StateRunning, fsm.StateStopped, fsm.StateExited, fsm.StateLost}

func parseProcFilter(q url.Values) (procFilter, error) {
	f := procFilter{node: q.Get("node"), owner: q.Get("owner")}
	if v := q.Get("state"); v != "" {
		for _, name := range strings.Split(v, ",") {
			st := fsm.State(strings.TrimSpace(name))
			if !slices.Contains(allStates, st) {
				return f, badRequest("bad state %q: want one or more of pending, placed, running, stopped, exited, lost", name)
			}
			f.states = append(f.states, st)
		}
	}
	return f, nil
}

// wantsEnded reports whether the filter asks for exited or lost
// processes, which a listing then includes without all=.
func (f *procFilter) wantsEnded() bool {
	return slices.ContainsFunc(f.states, func(st fsm.State) bool { return !st.Live() })
}

// resolve finds the IDs of the nodes named by f.node in v.
func (f *procFilter) resolve(v *fsm.View) {
	if f.node == "" {
		return
	}
	f.nodes = []string{f.node}
	for _, n := range v.Nodes() {
		if n.Name == f.node && n.ID != f.node {
			f.nodes = append(f.nodes, n.ID)
		}
	}
}

func (f *procFilter) match(p *fsm.Process) bool {
	return (f.node == "" || slices.Contains(f.nodes, p.Node)) &&
		(len(f.states) == 0 || slices.Contains(f.states, p.State)) &&
		(f.owner == "" || p.Owner == f.owner)
}
