package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/logstore"
	"github.com/vproc/vproc/fsm"
)

// locate finds the node a process's logs or stdin live on. It waits, while
// ctx lasts, for a pending process to be placed when waitPlaced. It
// returns the record (ok false when the table does not have it).
func (s *Server) locate(ctx context.Context, r *http.Request, pid uint64, waitPlaced bool) (fsm.Process, bool, error) {
	if r.Header.Get(api.HeaderTarget) != "" {
		// Forwarded by a node that saw the record at this index: catch up
		// with it first (briefly; a lagging node answers what it has).
		if idx, err := strconv.ParseUint(r.Header.Get(api.HeaderIndex), 10, 64); err == nil && idx > 0 {
			cctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
			err := s.core.WaitApplied(cctx, idx-1)
			cancel()
			if err != nil && ctx.Err() != nil {
				return fsm.Process{}, false, ctx.Err()
			}
		}
	}
	// A wait for placement is bounded on the server: a request whose
	// client went away while it waited (a body not yet read shows no
	// close) ends by itself.
	wctx, wcancel := context.WithTimeout(ctx, maxPlacementWait)
	defer wcancel()
	for {
		v := s.core.LocalView()
		p, ok := v.Get(pid)
		if !ok || p.Node != "" || !p.State.Live() || !waitPlaced {
			return p, ok, nil
		}
		if err := s.core.WaitApplied(wctx, v.Index()); err != nil {
			if ctx.Err() == nil && wctx.Err() != nil {
				return p, ok, &httpError{http.StatusConflict, api.CodeConflict,
					fmt.Sprintf("pid %d is still pending after %v: %s", pid, maxPlacementWait, pendingReason(knownNodes(v), &p, time.Now()))}
			}
			return p, ok, err
		}
	}
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	pid, err := pidParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	follow := boolParam(q, "follow")
	var lf logFilter
	switch v := q.Get("stream"); v {
	case "", api.StreamBoth:
	case api.StreamStdout:
		lf.only = logstore.Stdout
	case api.StreamStderr:
		lf.only = logstore.Stderr
	default:
		s.fail(w, r, badRequest("stream %q: want stdout, stderr or both", v))
		return
	}
	switch v := q.Get("format"); v {
	case "":
	case api.LogFormatChunks:
		lf.chunks = true
	default:
		s.fail(w, r, badRequest("format %q: want chunks or none", v))
		return
	}
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
	if err := s.mayReadLogs(r, pid, &p, ok); err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case !ok && s.logs.Has(pid):
	case !ok && !toNode && !fromNode && !s.core.IsLeader():
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
	s.streamLog(ctx, w, r, pid, off, follow, lf)
}

// logFilter says what of a log an answer carries: one stream's bytes or
// both, and the bytes or LogChunks.
type logFilter struct {
	only   logstore.Stream // 0: both
	chunks bool
}

// plain reports whether the answer is the log's bytes as they are.
func (f logFilter) plain() bool { return f.only == 0 && !f.chunks }

// read reads the log from off and writes what f keeps of it to w. It
// returns where the log was read from and where the next read starts;
// next == at when there was nothing to read.
func (s *Server) readLog(w io.Writer, pid uint64, off int64, buf []byte, f logFilter) (at, next int64, err error) {
	if f.plain() {
		n, at, err := s.logs.Read(pid, off, buf)
		if err != nil || n == 0 {
			return at, at, err
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return at, at, errClientGone
		}
		return at, at + int64(n), nil
	}
	chunks, at, next, err := s.logs.ReadChunks(pid, off, buf)
	if err != nil {
		return at, at, err
	}
	enc := json.NewEncoder(w)
	for _, c := range chunks {
		if f.only != 0 && c.Stream != f.only {
			continue
		}
		if f.chunks {
			err = enc.Encode(api.LogChunk{Off: c.Off, Stream: c.Stream.String(), At: c.At, Data: c.Data})
		} else {
			_, err = w.Write(c.Data)
		}
		if err != nil {
			return at, at, errClientGone
		}
	}
	return at, next, nil
}

// errClientGone: writing the answer failed.
var errClientGone = errors.New("the client went away")

// streamLog sends pid's log from off, and with follow goes on until the
// process has ended here and everything is sent.
func (s *Server) streamLog(ctx context.Context, w http.ResponseWriter, r *http.Request, pid uint64, off int64, follow bool, f logFilter) {
	rc := http.NewResponseController(w)
	buf := make([]byte, logChunk)
	started := false
	tick := time.NewTicker(followRecheck)
	defer tick.Stop()
	var pending bytes.Buffer // the first read's answer, until the headers are out
	for {
		var out io.Writer = w
		if !started {
			pending.Reset()
			out = &pending
		}
		at, next, err := s.readLog(out, pid, off, buf, f)
		if errors.Is(err, errClientGone) {
			return
		}
		if err != nil {
			if !started {
				s.fail(w, r, err)
			}
			return
		}
		if !started {
			started = true
			if f.chunks {
				w.Header().Set("Content-Type", api.ContentTypeChunks)
			} else {
				w.Header().Set("Content-Type", "application/octet-stream")
			}
			w.Header().Set(api.HeaderOffset, strconv.FormatInt(at, 10))
			w.WriteHeader(http.StatusOK)
			if _, err := w.Write(pending.Bytes()); err != nil {
				return
			}
		}
		if next > at {
			off = next
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
			v := s.core.LocalView()
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
func (s *Server) tableChanged(ctx context.Context, index uint64) (<-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if s.core.WaitApplied(ctx, index) == nil {
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

func (s *Server) handleStdin(w http.ResponseWriter, r *http.Request) {
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
	if err := s.mayReadLogs(r, pid, &p, ok); err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case !ok && !toNode && !fromNode && !s.core.IsLeader():
		s.forwardToLeader(w, r, false)
		return
	case !ok:
		s.fail(w, r, domainError(fmt.Errorf("%w: pid %d", fsm.ErrNoSuchProcess, pid)))
		return
	case !p.Spec.Stdin:
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
	pw, err := s.node.AttachStdin(pid)
	if err != nil {
		if errors.Is(err, ErrStdinAttached) {
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
