package httpapi

import (
	"context"
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
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/cluster/logstore"
	"github.com/vproc/vproc/fsm"
)

// The HTTP API (package api documents the routes). Every node serves every
// route; see forward.go for what goes to the leader.

const (
	// maxBlockingWait caps (and is the default of) a blocking list's wait.
	maxBlockingWait = 5 * time.Minute
	// maxPlacementWait bounds how long a logs or stdin request waits for
	// its pending process to be placed.
	maxPlacementWait = maxBlockingWait
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

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/session", methods{http.MethodPost: s.leaderOnly(s.wrap(s.handleSession), true)})
	mux.Handle("/v1/spawn", methods{http.MethodPost: s.leaderOnly(s.wrap(s.handleSpawn), true)})
	mux.Handle("/v1/spawn/batch", methods{http.MethodPost: s.leaderOnly(s.wrap(s.handleSpawnBatch), true)})
	mux.Handle("/v1/kill", methods{http.MethodPost: s.leaderOnly(s.wrap(s.handleKill), true)})
	mux.Handle("/v1/procs", methods{http.MethodGet: s.wrap(s.handleList)})
	mux.Handle("/v1/procs/{pid}", methods{http.MethodGet: s.wrap(s.handleGet)})
	mux.Handle("/v1/procs/{pid}/wait", methods{http.MethodGet: s.wrap(s.handleWait)})
	mux.Handle("/v1/procs/{pid}/logs", methods{http.MethodGet: s.handleLogs})
	mux.Handle("/v1/procs/{pid}/stdin", methods{http.MethodPost: s.handleStdin})
	mux.Handle("/v1/nodes", methods{http.MethodGet: s.wrap(s.handleNodes)})
	mux.Handle("/v1/health", methods{http.MethodGet: s.wrap(s.handleHealth)})
	mux.Handle("/v1/operator/raft/peers", methods{http.MethodGet: s.wrap(s.handlePeers)})
	s.placementRoutes(mux)
	mux.Handle("/v1/snapshot", methods{
		http.MethodGet: s.leaderOnly(s.handleSnapshotSave, false),
		http.MethodPut: s.leaderOnly(s.wrap(s.handleSnapshotRestore), true),
	})
	mux.Handle("/v1/state", methods{http.MethodGet: s.wrap(s.handleState)})
	mux.Handle("/v1/internal/command", methods{http.MethodPost: s.nodeLeaderOnly(s.wrap(s.handleCommand))})
	mux.Handle("/v1/internal/lease", methods{http.MethodPost: s.wrap(s.handleLease)})
	mux.Handle("/v1/internal/readindex", methods{http.MethodPost: s.wrap(s.handleReadIndex)})
	s.ipcRoutes(mux)
	s.aclRoutes(mux)
	if s.programs != nil {
		mux.Handle(api.ProgramsPath, s.programs)
		mux.Handle(api.ProgramsPath+"/", s.programs)
		mux.Handle(api.ProgramBlobsPath+"/", s.programs)
	}
	s.keyringRoutes(mux)
	if s.metrics != nil {
		mux.Handle("/v1/metrics", methods{http.MethodGet: s.metrics.ServeHTTP})
	}
	if s.events != nil {
		mux.Handle(api.EventsPath, methods{http.MethodGet: s.handleEvents})
	}
	if s.debug {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, &httpError{http.StatusNotFound, api.CodeNotFound, "no route " + r.URL.Path})
	})
	return s.instrument(mux, s.recoverer(s.common(s.peerIdentity(s.authorize(mux)))))
}

// common sets the headers every answer carries.
func (s *Server) common(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.HeaderNode, s.name)
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic into a 500 internal answer (or, once the answer
// has started, a cut connection), logged with its stack; the client never
// sees a stack trace.
func (s *Server) recoverer(next http.Handler) http.Handler {
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
func (s *Server) leaderOnly(h http.HandlerFunc, write bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.core.IsLeader() {
			s.forwardToLeader(w, r, write)
			return
		}
		h(w, r)
	}
}

// endpoint is the handler of a JSON route. It returns the value to answer
// with, as JSON with status 200 (a *reply sets another status), or the error
// to answer with, which wrap maps to its status and code. It returns neither
// when it has answered itself: a request forwarded to another node.
// Streaming routes (logs, stdin, snapshots, IPC streams) are plain
// http.HandlerFuncs that answer their errors with fail, the same mapping.
type endpoint func(w http.ResponseWriter, r *http.Request) (any, error)

// reply is an answer whose status is not 200.
type reply struct {
	status int
	body   any
}

// wrap serves an endpoint: it writes the endpoint's value or error once for
// every JSON route.
func (s *Server) wrap(h endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := h(w, r)
		switch {
		case err != nil:
			s.fail(w, r, err)
		case v == nil:
		default:
			if rp, ok := v.(*reply); ok {
				writeJSON(w, rp.status, rp.body)
				return
			}
			writeJSON(w, http.StatusOK, v)
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// fail writes the error answer for err.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ee *errnoErr
	if errors.As(err, &ee) {
		if status, code, ok := errnoStatus(ee.err); ok {
			writeJSON(w, status, api.Error{Code: code, Message: ee.err.Error()})
			return
		}
		err = ee.err
	}
	he := s.httpErrorOf(r, err)
	if he.status == http.StatusServiceUnavailable && w.Header().Get(api.HeaderLeader) == "" {
		if _, addr, ok := s.core.Leader(); ok && addr != "" {
			w.Header().Set(api.HeaderLeader, addr)
		}
	}
	writeJSON(w, he.status, api.Error{Code: he.code, Message: he.msg})
}

// httpErrorOf maps err, met while serving r, to its status and code.
func (s *Server) httpErrorOf(r *http.Request, err error) *httpError {
	var he *httpError
	switch {
	case errors.As(err, &he):
	case errors.Is(err, commit.ErrNotLeader):
		he = &httpError{http.StatusServiceUnavailable, api.CodeNotLeader, err.Error()}
	case errors.Is(err, commit.ErrNoLeader):
		he = &httpError{http.StatusServiceUnavailable, api.CodeNoLeader, err.Error()}
	case errors.Is(err, commit.ErrUnknownOutcome):
		he = &httpError{http.StatusServiceUnavailable, api.CodeUnknownOutcome, err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, logstore.ErrClosed), errors.Is(err, ErrStopping):
		he = &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, err.Error()}
	case fsm.Code(err) != fsm.CodeUnknown:
		he = domainError(err)
	default:
		if disk := s.diskError(); disk != nil {
			return noSpace(disk, err)
		}
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		he = &httpError{http.StatusInternalServerError, api.CodeInternal, err.Error()}
	}
	if he.status == http.StatusServiceUnavailable {
		// A replication failure while this node's disk is full is the
		// disk's doing: say so rather than no_leader. An unknown outcome
		// stays one (a retry with the same request id is still due), and
		// names the disk.
		if disk := s.diskError(); disk != nil {
			if he.code == api.CodeUnknownOutcome {
				return &httpError{he.status, he.code, he.msg + "; " + disk.Error()}
			}
			return noSpace(disk, err)
		}
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
func sessionFrom(r *http.Request) (*commit.SessionRef, error) {
	return parseSession(r.Header.Get(api.HeaderSession), r.Header.Get(api.HeaderRequest), r.Header.Get(api.HeaderAcked))
}

// parseSession parses the values of the session headers.
func parseSession(sid, rid, acked string) (*commit.SessionRef, error) {
	if sid == "" && rid == "" {
		if acked != "" {
			return nil, badRequest("%s without %s and %s", api.HeaderAcked, api.HeaderSession, api.HeaderRequest)
		}
		return nil, nil
	}
	if sid == "" || rid == "" {
		return nil, badRequest("%s and %s go together", api.HeaderSession, api.HeaderRequest)
	}
	var ref commit.SessionRef
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
func (s *Server) reqCtx(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// stopping answers a long request cut short: if the client is still
// there, the agent is stopping.
func (s *Server) stopping(w http.ResponseWriter, r *http.Request) {
	if r.Context().Err() == nil {
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, "the agent is stopping"})
	}
}

// view returns the table view a read answers from: this node's own when
// stale, else a linearizable one (on the leader).
func (s *Server) view(ctx context.Context, stale bool) (*fsm.View, error) {
	if stale {
		return s.core.LocalView(), nil
	}
	return s.core.ConsistentView(ctx)
}

// readHeaders sets the headers of a table answer.
func (s *Server) readHeaders(w http.ResponseWriter, index uint64, stale bool) {
	w.Header().Set(api.HeaderIndex, strconv.FormatUint(index, 10))
	if stale {
		w.Header().Set(api.HeaderStale, "true")
	}
	if _, addr, ok := s.core.Leader(); ok && addr != "" {
		w.Header().Set(api.HeaderLeader, addr)
	}
}
