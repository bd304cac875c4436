//go:build linux

package jepsen

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/internal/ctxutil"
)

// spawnHeartbeat spawns one heartbeat process, with restart policy always,
// and follows its output.
func (w *Workload) spawnHeartbeat(ctx context.Context, st *stream, rng *rand.Rand) Op {
	op := w.spawn(ctx, st, rng, "heartbeat", []string{w.cfg.HeartbeatInterval.String()}, "always", w.tagging())
	if op.Outcome == OutcomeOK {
		w.watchBeat(op.RetPID)
	}
	return op
}

// watchBeat counts pid among the live heartbeats and follows its output.
func (w *Workload) watchBeat(pid uint64) {
	w.mu.Lock()
	w.beating[pid] = true
	w.mu.Unlock()
	w.follow(pid)
}

// keepHeartbeats keeps cfg.Heartbeats heartbeat processes alive, within
// cfg.MaxHeartbeats for the run, and about every cfg.HeartbeatLife kills
// one with SIGKILL, so that kill-is-final has heartbeats to check.
func (w *Workload) keepHeartbeats(ctx context.Context) {
	rng := rand.New(rand.NewPCG(w.cfg.Seed, streamBeats))
	st := w.newStream(-2)
	defer st.close()
	tick := min(max(w.cfg.HeartbeatLife/4, 10*time.Millisecond), time.Second)
	nextKill := time.Now().Add(between(rng, w.cfg.HeartbeatLife/2, w.cfg.HeartbeatLife*3/2))
	spawned := 1 // the probe's
	for i := 0; i < 1_000_000 && ctx.Err() == nil; i++ {
		if time.Now().After(nextKill) {
			nextKill = time.Now().Add(between(rng, w.cfg.HeartbeatLife/2, w.cfg.HeartbeatLife*3/2))
			if ref, ok := w.pick(rng, pickBeat); ok {
				op := w.kill(ctx, st, rng, ref.pid, 9)
				if op.Outcome != OutcomeFail {
					w.mu.Lock()
					w.beating[ref.pid] = false
					w.mu.Unlock()
				}
			}
		}
		w.mu.Lock()
		alive := 0
		for _, a := range w.beating {
			if a {
				alive++
			}
		}
		w.mu.Unlock()
		if alive < w.cfg.Heartbeats && spawned < w.cfg.MaxHeartbeats {
			w.spawnHeartbeat(ctx, st, rng)
			spawned++
			continue
		}
		ctxutil.Sleep(ctx, tick)
	}
}

// follow starts following a heartbeat PID's output, once.
func (w *Workload) follow(pid uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.followers[pid] {
		return
	}
	w.followers[pid] = true
	ctx := w.followCtx
	w.followWG.Add(1)
	go func() {
		defer w.followWG.Done()
		w.followLoop(ctx, pid)
	}()
}

// followLoop reads a heartbeat PID's log, following it from where it left
// off, from random nodes, until ctx is done or the process is final.
func (w *Workload) followLoop(ctx context.Context, pid uint64) {
	rng := rand.New(rand.NewPCG(pid, streamBeats))
	hc := &http.Client{Transport: clientTransport(w.endpoints())}
	defer hc.CloseIdleConnections()
	idle := 0 // reads in a row that brought nothing
	for i := 0; i < 100000 && ctx.Err() == nil; i++ {
		eps := w.endpoints()
		if len(eps) == 0 {
			return
		}
		ep := eps[rng.IntN(len(eps))]
		clean, n := w.readLog(ctx, hc, ep, pid, true, false)
		if clean && w.isFinal(ctx, hc, ep, pid) {
			return
		}
		if idle = idle + 1; n > 0 {
			idle = 0
		}
		if idle >= 4 {
			// The log may have started afresh on another node: read it
			// all again (the history drops the lines it has).
			w.setOffset(pid, 0)
			idle = 0
		}
		ctxutil.Sleep(ctx, 250*time.Millisecond+time.Duration(rng.Int64N(int64(250*time.Millisecond))))
	}
}

// readLog reads a heartbeat PID's log from the recorded offset, following
// it or not, and records its lines. It reports whether the stream ended
// without error, and how many bytes of whole lines it read.
// With local, the node answers from its own copy of the log, whoever runs
// the process now: an earlier incarnation's output stays on the node that
// ran it.
func (w *Workload) readLog(ctx context.Context, hc *http.Client, ep Endpoint, pid uint64, follow, local bool) (clean bool, n int64) {
	w.mu.Lock()
	off := w.offsets[pid]
	w.mu.Unlock()
	q := url.Values{"offset": {strconv.FormatInt(off, 10)}}
	if follow {
		q.Set("follow", "true")
	}
	rctx := ctx
	if !follow {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, ep.URL+"/v1/procs/"+strconv.FormatUint(pid, 10)+"/logs?"+q.Encode(), nil)
	if err != nil {
		return false, 0
	}
	if local {
		req.Header.Set(api.HeaderTarget, ep.Name)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, 0
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return false, 0
	}
	if s := resp.Header.Get(api.HeaderOffset); s != "" {
		if start, err := strconv.ParseInt(s, 10, 64); err == nil && start != off {
			off = start // older output was dropped, or the log restarted
		}
	}
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			// A partial line is read again next time, from off.
			w.setOffset(pid, off)
			return errors.Is(err, io.EOF) && line == "", n
		}
		off += int64(len(line))
		n += int64(len(line))
		if b, d, ok := ParseLogLine(strings.TrimRight(line, "\r\n")); ok {
			if b != nil {
				w.hist.AddBeat(*b)
			} else {
				w.hist.AddDelivery(*d)
			}
		}
	}
}

func (w *Workload) setOffset(pid uint64, off int64) {
	w.mu.Lock()
	w.offsets[pid] = off
	w.mu.Unlock()
}

// isFinal reports whether a PID has reached a final state, from a stale
// read of the node.
func (w *Workload) isFinal(ctx context.Context, hc *http.Client, ep Endpoint, pid uint64) bool {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	defer cancel()
	var p api.Process
	res := callAPI(ctx, hc, ep, http.MethodGet, "/v1/procs/"+strconv.FormatUint(pid, 10), url.Values{"stale": {"true"}}, nil, &p, nil)
	return res.kind == answered && res.code == "" && p.State == "exited"
}

// StopFollowers reads the whole output of every heartbeat PID once more,
// through the node that runs it and from every node's own copy, bounded by
// ctx, and then stops the followers and waits for them.
func (w *Workload) StopFollowers(ctx context.Context) {
	w.mu.Lock()
	pids := sortedKeys(w.followers)
	w.mu.Unlock()
	hc := &http.Client{Transport: clientTransport(w.endpoints())}
	defer hc.CloseIdleConnections()
	for _, pid := range pids {
		eps := w.endpoints()
		for _, ep := range eps {
			if ctx.Err() != nil {
				break
			}
			w.setOffset(pid, 0)
			if clean, _ := w.readLog(ctx, hc, ep, pid, false, false); clean {
				break
			}
		}
		// Every node's own copy: the output of incarnations that ran
		// elsewhere (the history drops the lines it has).
		for _, ep := range eps {
			if ctx.Err() != nil {
				break
			}
			w.setOffset(pid, 0)
			w.readLog(ctx, hc, ep, pid, false, true)
		}
	}
	w.halt()
}

// halt stops the log followers and waits for them.
func (w *Workload) halt() {
	w.mu.Lock()
	w.followStop()
	w.mu.Unlock()
	w.followWG.Wait()
}
