package cluster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"net/url"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/logstore"
	"github.com/vproc/vproc/fsm"
)

// The HTTP API (package api documents the routes). Every node serves every
// route; see forward.go for what goes to the leader.

const (
	// maxBlockingWait caps (and is the default of) a blocking list's wait.
	maxBlockingWait = 5 * time.Minute
	// fanoutTimeout bounds asking other nodes for micro-states and CPU times.
	fanoutTimeout = 500 * time.Millisecond
	// logChunk is the most a log stream reads at once.
	logChunk = 32 << 10
	// catchUpTimeout bounds how long a node waits to apply what the node
	// that forwarded a logs or stdin request had seen.
	catchUpTimeout = 5 * time.Second
	// followRecheck is how often a follow stream rechecks the table while no
	// output arrives.
	followRecheck = time.Second
)

// methods dispatches a route by method, answering 405 with a JSON body.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	allow := make([]string, 0, len(m))
	for k := range m {
		allow = append(allow, k)
	}
	sort.Strings(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeJSON(w, http.StatusMethodNotAllowed, api.Error{Code: api.CodeNotAllowed, Message: "method " + r.Method + " not allowed; use " + strings.Join(allow, ", ")})
}

func (s *serving) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/session", methods{http.MethodPost: s.leaderOnly(s.handleSession, true)})
	mux.Handle("/v1/spawn", methods{http.MethodPost: s.leaderOnly(s.handleSpawn, true)})
	mux.Handle("/v1/spawn/batch", methods{http.MethodPost: s.leaderOnly(s.handleSpawnBatch, true)})
	mux.Handle("/v1/kill", methods{http.MethodPost: s.leaderOnly(s.handleKill, true)})
	mux.Handle("/v1/procs", methods{http.MethodGet: s.handleList})
	mux.Handle("/v1/procs/{pid}", methods{http.MethodGet: s.handleGet})
	mux.Handle("/v1/procs/{pid}/wait", methods{http.MethodGet: s.handleWait})
	mux.Handle("/v1/procs/{pid}/logs", methods{http.MethodGet: s.handleLogs})
	mux.Handle("/v1/procs/{pid}/stdin", methods{http.MethodPost: s.handleStdin})
	mux.Handle("/v1/nodes", methods{http.MethodGet: s.handleNodes})
	mux.Handle("/v1/health", methods{http.MethodGet: s.handleHealth})
	mux.Handle("/v1/operator/raft/peers", methods{http.MethodGet: s.handlePeers})
	s.schedulerRoutes(mux)
	mux.Handle("/v1/snapshot", methods{
		http.MethodGet: s.leaderOnly(s.handleSnapshotSave, false),
		http.MethodPut: s.leaderOnly(s.handleSnapshotRestore, true),
	})
	mux.Handle("/v1/state", methods{http.MethodGet: s.handleState})
	mux.Handle("/v1/internal/command", methods{http.MethodPost: s.leaderOnly(s.handleCommand, true)})
	mux.Handle("/v1/internal/lease", methods{http.MethodPost: s.handleLease})
	mux.Handle("/v1/internal/readindex", methods{http.MethodPost: s.handleReadIndex})
	s.ipcRoutes(mux)
	if s.cfg.EnableDebug {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, &httpError{http.StatusNotFound, api.CodeNotFound, "no route " + r.URL.Path})
	})
	return s.recoverer(s.common(mux))
}

// common sets the headers every answer carries.
func (s *serving) common(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.HeaderNode, s.name)
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic into a 500 internal answer (or, once the answer
// has started, a cut connection), logged with its stack; the client never
// sees a stack trace.
func (s *serving) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving a request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			if tw.wrote {
				panic(http.ErrAbortHandler)
			}
			writeJSON(tw, http.StatusInternalServerError, api.Error{Code: api.CodeInternal, Message: "internal error"})
		}()
		next.ServeHTTP(tw, r)
	})
}

// trackWriter remembers whether the answer has started.
type trackWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackWriter) WriteHeader(code int) {
	if code >= 200 {
		t.wrote = true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

func (t *trackWriter) Flush() {
	t.wrote = true
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *trackWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// leaderOnly serves h on the leader and forwards the request elsewhere.
func (s *serving) leaderOnly(h http.HandlerFunc, write bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.c.isLeader() {
			s.forwardToLeader(w, r, write)
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// fail writes the error answer for err.
func (s *serving) fail(w http.ResponseWriter, r *http.Request, err error) {
	he := s.httpErrorOf(r, err)
	if he.status == http.StatusServiceUnavailable && w.Header().Get(api.HeaderLeader) == "" {
		if _, addr, ok := s.c.leader(); ok && addr != "" {
			w.Header().Set(api.HeaderLeader, addr)
		}
	}
	writeJSON(w, he.status, api.Error{Code: he.code, Message: he.msg})
}

// httpErrorOf maps err, met while serving r, to its status and code.
func (s *serving) httpErrorOf(r *http.Request, err error) *httpError {
	var he *httpError
	switch {
	case errors.As(err, &he):
	case errors.Is(err, errNotLeader):
		he = &httpError{http.StatusServiceUnavailable, api.CodeNotLeader, err.Error()}
	case errors.Is(err, errNoLeader):
		he = &httpError{http.StatusServiceUnavailable, api.CodeNoLeader, err.Error()}
	case errors.Is(err, errUnknownOutcome):
		he = &httpError{http.StatusServiceUnavailable, api.CodeUnknownOutcome, err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, logstore.ErrClosed), errors.Is(err, errStopping):
		he = &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, err.Error()}
	case fsm.Code(err) != fsm.CodeUnknown:
		he = domainError(err)
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		he = &httpError{http.StatusInternalServerError, api.CodeInternal, err.Error()}
	}
	return he
}

// decodeBody decodes a JSON request body into v: at most MaxBodyBytes,
// no unknown fields, nothing after the value. An empty body is allowed
// only when emptyOK.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) error {
	r.Body = http.MaxBytesReader(w, r.Body, api.MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return &httpError{http.StatusRequestEntityTooLarge, api.CodeTooLarge, fmt.Sprintf("request body is over %d bytes", api.MaxBodyBytes)}
		case errors.Is(err, io.EOF):
			if emptyOK {
				return nil
			}
			return badRequest("empty request body")
		}
		return badRequest("bad JSON body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{http.StatusRequestEntityTooLarge, api.CodeTooLarge, fmt.Sprintf("request body is over %d bytes", api.MaxBodyBytes)}
		}
		return badRequest("bad JSON body: data after the value")
	}
	return nil
}

// sessionFrom reads the session headers. Both HeaderSession and
// HeaderRequest, or neither, must be given.
func sessionFrom(r *http.Request) (*sessionRef, error) {
	return parseSession(r.Header.Get(api.HeaderSession), r.Header.Get(api.HeaderRequest), r.Header.Get(api.HeaderAcked))
}

// parseSession parses the values of the session headers.
func parseSession(sid, rid, acked string) (*sessionRef, error) {
	if sid == "" && rid == "" {
		if acked != "" {
			return nil, badRequest("%s without %s and %s", api.HeaderAcked, api.HeaderSession, api.HeaderRequest)
		}
		return nil, nil
	}
	if sid == "" || rid == "" {
		return nil, badRequest("%s and %s go together", api.HeaderSession, api.HeaderRequest)
	}
	var ref sessionRef
	var err error
	if ref.ID, err = strconv.ParseUint(sid, 10, 64); err != nil || ref.ID == 0 {
		return nil, badRequest("bad %s %q", api.HeaderSession, sid)
	}
	if ref.Request, err = strconv.ParseUint(rid, 10, 64); err != nil || ref.Request == 0 {
		return nil, badRequest("bad %s %q", api.HeaderRequest, rid)
	}
	if acked != "" {
		if ref.AckedBelow, err = strconv.ParseUint(acked, 10, 64); err != nil {
			return nil, badRequest("bad %s %q", api.HeaderAcked, acked)
		}
	}
	return &ref, nil
}

// boolParam reports whether a query flag is set: present, and not "false"
// or "0".
func boolParam(q url.Values, name string) bool {
	if !q.Has(name) {
		return false
	}
	v := strings.ToLower(q.Get(name))
	return v != "false" && v != "0"
}

func durationParam(q url.Values, name string) (time.Duration, bool, error) {
	v := q.Get(name)
	if v == "" {
		return 0, false, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		// A bare number is seconds.
		n, err2 := strconv.ParseUint(v, 10, 32)
		if err2 != nil {
			return 0, false, badRequest("bad %s %q: want a duration such as 30s", name, v)
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 {
		return 0, false, badRequest("bad %s %q: negative", name, v)
	}
	return d, true, nil
}

func pidParam(r *http.Request) (uint64, error) {
	v := r.PathValue("pid")
	pid, err := strconv.ParseUint(v, 10, 64)
	if err != nil || pid == 0 {
		return 0, badRequest("bad pid %q", v)
	}
	return pid, nil
}

// reqCtx returns the context of a long request: it ends when the client
// goes away or the agent stops.
func (s *serving) reqCtx(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// stopping answers a long request cut short: if the client is still
// there, the agent is stopping.
func (s *serving) stopping(w http.ResponseWriter, r *http.Request) {
	if r.Context().Err() == nil {
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, "the agent is stopping"})
	}
}

// view returns the table view a read answers from: this node's own when
// stale, else a linearizable one (on the leader).
func (s *serving) view(ctx context.Context, stale bool) (*fsm.View, error) {
	if stale {
		return s.c.localView(), nil
	}
	return s.c.consistentView(ctx)
}

// readHeaders sets the headers of a table answer.
func (s *serving) readHeaders(w http.ResponseWriter, index uint64, stale bool) {
	w.Header().Set(api.HeaderIndex, strconv.FormatUint(index, 10))
	if stale {
		w.Header().Set(api.HeaderStale, "true")
	}
	if _, addr, ok := s.c.leader(); ok && addr != "" {
		w.Header().Set(api.HeaderLeader, addr)
	}
}

// ---- writes ----

func (s *serving) handleSession(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if err := decodeBody(w, r, &body, true); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := s.c.registerSession(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Session{ID: id})
}

func (s *serving) handleSpawn(w http.ResponseWriter, r *http.Request) {
	var req api.SpawnRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	sess, err := sessionFrom(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cmd, err := spawnCommand(&req, s.kernel.Programs())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cmd.Now = time.Now().UnixNano()
	if err := checkEncodable(cmd); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.c.submit(r.Context(), sess, cmd)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if res.Err != nil {
		s.fail(w, r, domainError(res.Err))
		return
	}
	s.readHeaders(w, res.Index, false)
	writeJSON(w, http.StatusOK, api.SpawnResponse{PID: res.PID, Index: res.Index})
}

// signalID returns the request id of the i-th target of a kill: derived
// from the session and request id, so that a retry reuses it, or random.
// Either way it is non-zero with the high bit clear (the table's own ids
// have it set).
func signalID(sess *sessionRef, i int) uint64 {
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

func (s *serving) handleKill(w http.ResponseWriter, r *http.Request) {
	var req api.KillRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		s.fail(w, r, err)
		return
	}
	sess, err := sessionFrom(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(req.Targets) == 0 {
		s.fail(w, r, badRequest("no targets"))
		return
	}
	if req.Signal < 0 || req.Signal >= fsm.NSIG {
		s.fail(w, r, badRequest("bad signal %d: want 0..%d", req.Signal, fsm.NSIG-1))
		return
	}
	for _, t := range req.Targets {
		if t == 0 || t == -1 {
			s.fail(w, r, badRequest("bad target %d: want a PID or -PGID", t))
			return
		}
	}
	// One target travels in the session envelope. Several cannot share
	// one request id: each gets a request id derived from it instead, and
	// the session must still be alive.
	envelope := sess
	if len(req.Targets) > 1 {
		envelope = nil
		if sess != nil {
			if _, ok := s.c.localView().Session(sess.ID); !ok {
				s.fail(w, r, domainError(fsm.ErrSessionExpired))
				return
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
			cmd := &fsm.Signal{ID: signalID(sess, i), Target: t, Signal: req.Signal, Now: time.Now().UnixNano()}
			outs[i].res, outs[i].err = s.c.submit(r.Context(), envelope, cmd)
		}()
	}
	wg.Wait()
	out := api.KillResponse{Reached: []api.Target{}}
	var firstErr error
	for i, o := range outs {
		if o.err != nil {
			// Other targets may have been signalled: a retry reuses
			// their ids.
			s.fail(w, r, o.err)
			return
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
		s.fail(w, r, domainError(firstErr))
		return
	}
	s.readHeaders(w, out.Index, false)
	writeJSON(w, http.StatusOK, out)
}

// ---- reads ----

// enrich fills in micro-states and CPU times: from the local kernel for the
// processes assigned here, and, unless localOnly, from the other nodes
// (GET /v1/procs?stale&local) within fanoutTimeout.
func (s *serving) enrich(ctx context.Context, procs []api.Process, localOnly bool) {
	remote := make(map[string][]int)
	var local []int
	var refs []procRef
	for i := range procs {
		p := &procs[i]
		switch {
		case p.Node == "":
		case p.Node == s.name:
			local = append(local, i)
			refs = append(refs, procRef{p.PID, p.Incarnation})
		case !localOnly:
			remote[p.Node] = append(remote[p.Node], i)
		}
	}
	for j, info := range s.runner.localInfos(refs) {
		if info.ok {
			p := &procs[local[j]]
			p.MicroState, p.CPUMillis = info.micro, info.cpu.Milliseconds()
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
		addr, ok := s.c.nodeHTTPAddr(nodeName)
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
				}
			}
		}()
	}
	wg.Wait()
}

// fetchLocal asks another node for its local view of its processes.
func (s *serving) fetchLocal(ctx context.Context, addr, route string) (map[uint64]api.Process, error) {
	base, err := baseURL(addr)
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

func (s *serving) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	local := boolParam(q, "local")
	stale := boolParam(q, "stale") || local
	all := boolParam(q, "all")
	var index uint64
	blocking := q.Has("index")
	if blocking {
		var err error
		if index, err = strconv.ParseUint(q.Get("index"), 10, 64); err != nil {
			s.fail(w, r, badRequest("bad index %q", q.Get("index")))
			return
		}
	}
	wait, ok, err := durationParam(q, "wait")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok || wait > maxBlockingWait {
		wait = maxBlockingWait
	}
	if !stale && !s.c.isLeader() {
		s.forwardToLeader(w, r, false)
		return
	}
	ctx, cancel := s.reqCtx(r)
	defer cancel()
	v, err := s.view(ctx, stale)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if blocking && v.Index() <= index {
		wctx, wcancel := context.WithTimeout(ctx, wait)
		for v.Index() <= index {
			if err := s.c.waitApplied(wctx, v.Index()); err != nil {
				break // the wait is over: answer what there is
			}
			nv, err := s.view(wctx, stale)
			if err != nil {
				if wctx.Err() != nil {
					break
				}
				wcancel()
				s.fail(w, r, err)
				return
			}
			v = nv
		}
		wcancel()
		if ctx.Err() != nil {
			s.stopping(w, r)
			return
		}
	}
	filter := fsm.Filter{LiveOnly: !all}
	if local {
		filter.Node = s.name
	}
	list := api.ProcessList{Processes: []api.Process{}, Index: v.Index()}
	v.Walk(filter, func(p *fsm.Process) bool {
		list.Processes = append(list.Processes, apiProcess(p))
		return true
	})
	s.enrich(ctx, list.Processes, local)
	s.readHeaders(w, v.Index(), stale)
	writeJSON(w, http.StatusOK, list)
}

func (s *serving) handleGet(w http.ResponseWriter, r *http.Request) {
	pid, err := pidParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	local := boolParam(q, "local")
	stale := boolParam(q, "stale") || local
	if !stale && !s.c.isLeader() {
		s.forwardToLeader(w, r, false)
		return
	}
	v, err := s.view(r.Context(), stale)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, ok := v.Get(pid)
	if !ok {
		s.fail(w, r, domainError(fmt.Errorf("%w: pid %d", fsm.ErrNoSuchProcess, pid)))
		return
	}
	out := []api.Process{apiProcess(&p)}
	s.enrich(r.Context(), out, local)
	s.readHeaders(w, v.Index(), stale)
	writeJSON(w, http.StatusOK, out[0])
}

func (s *serving) handleWait(w http.ResponseWriter, r *http.Request) {
	pid, err := pidParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	stale := boolParam(q, "stale")
	timeout, hasTimeout, err := durationParam(q, "timeout")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !stale && !s.c.isLeader() {
		s.forwardToLeader(w, r, false)
		return
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
	for {
		if !consistent && !stale && !s.c.isLeader() {
			s.fail(w, r, errNotLeader)
			return
		}
		v, err := s.view(wctx, !consistent)
		consistent = false
		if err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				s.fail(w, r, &httpError{http.StatusRequestTimeout, api.CodeTimeout, fmt.Sprintf("pid %d has not exited after %v", pid, timeout)})
				return
			}
			s.fail(w, r, err)
			return
		}
		p, ok := v.Get(pid)
		if !ok {
			s.fail(w, r, domainError(fmt.Errorf("%w: pid %d", fsm.ErrNoSuchProcess, pid)))
			return
		}
		if !p.State.Live() {
			out := []api.Process{apiProcess(&p)}
			// The status is the table's; cpu_ms only where it costs no
			// round trip to another node.
			s.enrich(ctx, out, true)
			s.readHeaders(w, v.Index(), stale)
			writeJSON(w, http.StatusOK, out[0])
			return
		}
		if err := s.c.waitApplied(wctx, v.Index()); err != nil {
			if ctx.Err() != nil {
				s.stopping(w, r)
				return
			}
			if wctx.Err() != nil {
				s.fail(w, r, &httpError{http.StatusRequestTimeout, api.CodeTimeout, fmt.Sprintf("pid %d has not exited after %v", pid, timeout)})
				return
			}
			s.fail(w, r, err)
			return
		}
	}
}

// locate finds the node a process's logs or stdin live on. It waits, while
// ctx lasts, for a pending process to be placed when waitPlaced. It
// returns the record (ok false when the table does not have it).
func (s *serving) locate(ctx context.Context, r *http.Request, pid uint64, waitPlaced bool) (fsm.Process, bool, error) {
	if r.Header.Get(api.HeaderTarget) != "" {
		// Forwarded by a node that saw the record at this index: catch up
		// with it first (briefly; a lagging node answers what it has).
		if idx, err := strconv.ParseUint(r.Header.Get(api.HeaderIndex), 10, 64); err == nil && idx > 0 {
			cctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
			err := s.c.waitApplied(cctx, idx-1)
			cancel()
			if err != nil && ctx.Err() != nil {
				return fsm.Process{}, false, ctx.Err()
			}
		}
	}
	for {
		v := s.c.localView()
		p, ok := v.Get(pid)
		if !ok || p.Node != "" || !p.State.Live() || !waitPlaced {
			return p, ok, nil
		}
		if err := s.c.waitApplied(ctx, v.Index()); err != nil {
			return p, ok, err
		}
	}
}

func (s *serving) handleLogs(w http.ResponseWriter, r *http.Request) {
	pid, err := pidParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	follow := boolParam(q, "follow")
	var off int64
	if v := q.Get("offset"); v != "" {
		if off, err = strconv.ParseInt(v, 10, 64); err != nil || off < 0 {
			s.fail(w, r, badRequest("bad offset %q", v))
			return
		}
	}
	ctx, cancel := s.reqCtx(r)
	defer cancel()
	// toNode: forwarded here as the node that runs the process; serve
	// what is here. fromNode: forwarded to this node as the leader.
	toNode := r.Header.Get(api.HeaderTarget) != ""
	fromNode := r.Header.Get(api.HeaderFwd) != ""
	p, ok, err := s.locate(ctx, r, pid, follow && !toNode)
	if err != nil {
		if ctx.Err() == nil {
			s.fail(w, r, err)
		} else {
			s.stopping(w, r)
		}
		return
	}
	switch {
	case !ok && s.logs.Has(pid):
	case !ok && !toNode && !fromNode && !s.c.isLeader():
		// This node may lag behind: the leader knows.
		s.forwardToLeader(w, r, false)
		return
	case !ok:
		s.fail(w, r, domainError(fmt.Errorf("%w: pid %d", fsm.ErrNoSuchProcess, pid)))
		return
	case p.Node != "" && p.Node != s.name && !toNode:
		s.forwardToNode(w, r, p.Node, p.ModifyIndex)
		return
	}
	s.streamLog(ctx, w, r, pid, off, follow)
}

// streamLog sends pid's log from off, and with follow goes on until the
// process has ended here and everything is sent.
func (s *serving) streamLog(ctx context.Context, w http.ResponseWriter, r *http.Request, pid uint64, off int64, follow bool) {
	rc := http.NewResponseController(w)
	buf := make([]byte, logChunk)
	started := false
	tick := time.NewTicker(followRecheck)
	defer tick.Stop()
	for {
		n, at, err := s.logs.Read(pid, off, buf)
		if err != nil {
			if !started {
				s.fail(w, r, err)
			}
			return
		}
		if !started {
			started = true
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set(api.HeaderOffset, strconv.FormatInt(at, 10))
			w.WriteHeader(http.StatusOK)
		}
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return
			}
			off = at + int64(n)
			if follow {
				_ = rc.Flush()
			}
			continue
		}
		off = at
		if !follow {
			return
		}
		_ = rc.Flush()
		wake, atEnd := s.logs.WaitChan(pid, off)
		var table <-chan struct{}
		stopTable := func() {}
		if atEnd {
			v := s.c.localView()
			if logEnded(v, pid, s.name) {
				return
			}
			table, stopTable = s.tableChanged(ctx, v.Index())
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-table:
		case <-tick.C:
		}
		stopTable()
		if ctx.Err() != nil {
			return
		}
	}
}

// tableChanged returns a channel closed once the applied index is above
// index, and the function that stops watching.
func (s *serving) tableChanged(ctx context.Context, index uint64) (<-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if s.c.waitApplied(ctx, index) == nil {
			close(ch)
		}
	}()
	return ch, func() {
		cancel()
		wg.Wait()
	}
}

// logEnded reports whether nothing more will be written to pid's log here:
// the process has exited, is lost, was reaped, or runs elsewhere.
func logEnded(v *fsm.View, pid uint64, self string) bool {
	p, ok := v.Get(pid)
	return !ok || !p.State.Live() || (p.Node != "" && p.Node != self)
}

func (s *serving) handleStdin(w http.ResponseWriter, r *http.Request) {
	pid, err := pidParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := s.reqCtx(r)
	defer cancel()
	toNode := r.Header.Get(api.HeaderTarget) != ""
	fromNode := r.Header.Get(api.HeaderFwd) != ""
	p, ok, err := s.locate(ctx, r, pid, !toNode)
	if err != nil {
		if ctx.Err() == nil {
			s.fail(w, r, err)
		} else {
			s.stopping(w, r)
		}
		return
	}
	switch {
	case !ok && !toNode && !fromNode && !s.c.isLeader():
		s.forwardToLeader(w, r, false)
		return
	case !ok:
		s.fail(w, r, domainError(fmt.Errorf("%w: pid %d", fsm.ErrNoSuchProcess, pid)))
		return
	case !wantsStdin(p.Spec):
		s.fail(w, r, badRequest("pid %d was not spawned with stdin", pid))
		return
	case !p.State.Live():
		s.fail(w, r, &httpError{http.StatusConflict, api.CodeConflict, fmt.Sprintf("pid %d has exited", pid)})
		return
	case p.Node != "" && p.Node != s.name && !toNode:
		s.forwardToNode(w, r, p.Node, p.ModifyIndex)
		return
	case p.Node != s.name:
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, fmt.Sprintf("pid %d does not run on node %s", pid, s.name)})
		return
	}
	pw, err := s.runner.attachStdin(pid)
	if err != nil {
		if errors.Is(err, errStdinAttached) {
			s.fail(w, r, &httpError{http.StatusConflict, api.CodeConflict, err.Error()})
			return
		}
		s.fail(w, r, err)
		return
	}
	_, err = io.Copy(pw, r.Body)
	if err != nil && !errors.Is(err, io.ErrClosedPipe) {
		// The client went away: its input ends here.
		s.log.Debug("stdin stream ended early", "pid", pid, "err", err)
	}
	pw.Close()
	w.WriteHeader(http.StatusNoContent)
}

func (s *serving) handleNodes(w http.ResponseWriter, r *http.Request) {
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
	nodes := s.c.nodes(v)
	if nodes == nil {
		nodes = []api.Node{}
	}
	s.readHeaders(w, v.Index(), stale)
	writeJSON(w, http.StatusOK, api.NodeList{Nodes: nodes, Index: v.Index()})
}

func (s *serving) handleHealth(w http.ResponseWriter, r *http.Request) {
	name, addr, ok := s.c.leader()
	h := api.Health{Node: s.name, Leader: name, OK: ok && name != ""}
	if addr != "" {
		w.Header().Set(api.HeaderLeader, addr)
	}
	status := http.StatusOK
	if !h.OK {
		h.Leader = ""
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
}

func (s *serving) handlePeers(w http.ResponseWriter, r *http.Request) {
	peers, err := s.c.peers()
	if err != nil {
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, err.Error()})
		return
	}
	if peers == nil {
		peers = []api.Peer{}
	}
	writeJSON(w, http.StatusOK, api.PeerList{Peers: peers})
}

func (s *serving) handleSnapshotSave(w http.ResponseWriter, r *http.Request) {
	tw := &trackWriter{ResponseWriter: w}
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := s.c.snapshotSave(r.Context(), tw); err != nil {
		if tw.wrote {
			// Cut the stream: its checksum will not verify.
			panic(http.ErrAbortHandler)
		}
		w.Header().Del("Content-Type")
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, "snapshot: " + err.Error()})
	}
}

func (s *serving) handleSnapshotRestore(w http.ResponseWriter, r *http.Request) {
	body := http.MaxBytesReader(w, r.Body, api.MaxSnapshotBytes)
	if err := s.c.snapshotRestore(r.Context(), body); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			s.fail(w, r, &httpError{http.StatusRequestEntityTooLarge, api.CodeTooLarge, fmt.Sprintf("snapshot is over %d bytes", int64(api.MaxSnapshotBytes))})
		case errors.Is(err, errNotLeader), errors.Is(err, errNoLeader), errors.Is(err, errUnknownOutcome):
			s.fail(w, r, err)
		case errors.Is(err, fsm.ErrBadSnapshot):
			s.fail(w, r, badRequest("snapshot: %v", err))
		default:
			s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, "restore: " + err.Error()})
		}
		return
	}
	writeJSON(w, http.StatusOK, s.c.stateInfo())
}

func (s *serving) handleState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.c.stateInfo())
}

// handleCommand takes a command a node reports (POST /v1/internal/command).
func (s *serving) handleCommand(w http.ResponseWriter, r *http.Request) {
	from := r.Header.Get(api.HeaderNode)
	if !isMember(s.c.localView(), from) {
		s.fail(w, r, &httpError{http.StatusForbidden, "permission", fmt.Sprintf("%q is not a node of the cluster", from)})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, api.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(w, r, &httpError{http.StatusRequestEntityTooLarge, api.CodeTooLarge, "command too large"})
			return
		}
		s.fail(w, r, badRequest("reading the command: %v", err))
		return
	}
	cmd, err := fsm.Decode(body)
	if err != nil {
		s.fail(w, r, badRequest("bad command: %v", err))
		return
	}
	if b, ok := cmd.(*fsm.Batch); ok {
		s.handleCommandBatch(w, r, from, b.Commands)
		return
	}
	if err := nodeMayReport(s.c.localView(), cmd, from); err != nil {
		s.fail(w, r, err)
		return
	}
	sess, err := sessionFrom(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	stampNow(cmd, time.Now().UnixNano())
	res, err := s.c.submit(r.Context(), sess, cmd)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := api.CommandResult{Index: res.Index, PID: res.PID, Incarnation: res.Incarnation, State: string(res.State)}
	if res.Err != nil {
		out.Code, out.Message = fsm.Code(res.Err), res.Err.Error()
	}
	s.readHeaders(w, res.Index, false)
	writeJSON(w, http.StatusOK, out)
}

// handleCommandBatch takes the commands a node reports together, as one
// fsm Batch: it checks every one first (the whole batch is refused if one
// may not be sent), commits them in order through group commit, and
// answers a CommandResults with one result per command. Commands that
// failed to replicate carry Failure; the node sends those again.
func (s *serving) handleCommandBatch(w http.ResponseWriter, r *http.Request, from string, cmds []fsm.Command) {
	if r.Header.Get(api.HeaderSession) != "" || r.Header.Get(api.HeaderRequest) != "" {
		s.fail(w, r, badRequest("a batch of commands travels outside sessions"))
		return
	}
	if len(cmds) > maxReportBatch {
		s.fail(w, r, &httpError{http.StatusRequestEntityTooLarge, api.CodeTooLarge, fmt.Sprintf("%d commands in a batch; at most %d", len(cmds), maxReportBatch)})
		return
	}
	v := s.c.localView()
	for _, c := range cmds {
		if err := nodeMayReport(v, c, from); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	now := time.Now().UnixNano()
	for _, c := range cmds {
		stampNow(c, now)
	}
	outs := s.c.submitBatch(r.Context(), nil, cmds)
	res := api.CommandResults{Results: make([]api.CommandResult, len(outs))}
	for i, o := range outs {
		res.Results[i] = commandResult(o.res, o.err)
		res.Index = max(res.Index, res.Results[i].Index)
	}
	s.readHeaders(w, res.Index, false)
	writeJSON(w, http.StatusOK, res)
}

// commandResult is the answer for one command of a batch.
func commandResult(res *fsm.Result, err error) api.CommandResult {
	switch {
	case err == nil:
		out := api.CommandResult{Index: res.Index, PID: res.PID, Incarnation: res.Incarnation, State: string(res.State)}
		if res.Err != nil {
			out.Code, out.Message = fsm.Code(res.Err), res.Err.Error()
		}
		return out
	case errors.Is(err, errNotLeader):
		return api.CommandResult{Failure: api.CodeNotLeader, Message: err.Error()}
	case errors.Is(err, errNoLeader):
		return api.CommandResult{Failure: api.CodeNoLeader, Message: err.Error()}
	}
	return api.CommandResult{Failure: api.CodeUnknownOutcome, Message: err.Error()}
}

// runsOn reports whether the table assigns pid to node (it may have
// ended there since).
func runsOn(v *fsm.View, pid uint64, node string) bool {
	if v == nil {
		return false
	}
	p, ok := v.Get(pid)
	return ok && p.Node == node
}

func isMember(v *fsm.View, name string) bool {
	if name == "" || v == nil {
		return false
	}
	for _, n := range v.Nodes() {
		if n.ID == name || n.Name == name {
			return true
		}
	}
	return false
}

// eventNode returns the node named by a lifecycle event of an incarnation.
func eventNode(c fsm.Command) (string, bool) {
	switch c := c.(type) {
	case *fsm.Started:
		return c.Node, true
	case *fsm.Stopped:
		return c.Node, true
	case *fsm.Continued:
		return c.Node, true
	case *fsm.Exited:
		return c.Node, true
	case *fsm.Lost:
		return c.Node, true
	}
	return "", false
}

// nodeMayReport checks that a node reports only what a node may: events
// of its own incarnations, delivered signals, the children of its
// processes (spawned and placed on itself, spawned on the node they name,
// killed when their spawn failed, reaped when their parent waited for
// them), and the signals its processes send. v is the leader's table, in
// which the parent or the sender must run on the node.
func nodeMayReport(v *fsm.View, c fsm.Command, from string) error {
	deny := func(why string) error {
		return &httpError{http.StatusForbidden, "permission", fmt.Sprintf("node %q may not send %v: %s", from, c.Type(), why)}
	}
	if node, ok := eventNode(c); ok {
		if node != from {
			return deny("another node's event")
		}
		return nil
	}
	switch c := c.(type) {
	case *fsm.SignalDelivered, *fsm.RegistryUnlink:
	case *fsm.Reap:
		// A local parent reaped the child: the table checks that it has
		// exited.
	case *fsm.RegistryCreate:
		if c.Node != from {
			return deny("only a name held by itself")
		}
	case *fsm.RegistryLost:
		if c.Node != from {
			return deny("only a name held by itself")
		}
	case *fsm.Spawn:
		// Place is the leader's: a spawn that reached an earlier leader
		// on this node and is sent again carries that leader's choice,
		// which the spec binds to its node.
		if c.Place != "" && c.Place != from && c.Place != c.Spec.Node {
			return deny("only a child placed on itself or on the node it names")
		}
		if c.Parent > fsm.InitPID && c.Spec.Node == from && c.Spec.InheritsPipesFrom == c.Parent {
			return nil // a child on the parent's node
		}
		if c.Parent <= fsm.InitPID || c.Spec.Node == "" || c.Spec.InheritsPipesFrom != 0 || !runsOn(v, c.Parent, from) {
			return deny("only a child of a local process, bound to a node")
		}
	case *fsm.Place:
		if c.Node != from || c.ExpectState != fsm.StatePending {
			return deny("only a placement on itself")
		}
	case *fsm.Signal:
		if c.Sender > fsm.InitPID && c.ID != 0 && runsOn(v, c.Sender, from) {
			return nil // a local process's kill
		}
		if c.Signal != fsm.SIGKILL || c.Target <= int64(fsm.InitPID) || c.ID != 0 {
			return deny("only SIGKILL of a child, or a signal from a local process")
		}
	default:
		return deny("not a node's command")
	}
	return nil
}
