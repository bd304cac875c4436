package runner

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/ctxutil"
)

// The reporter sends the runner's reports (started, stopped, continued,
// exited, lost, signal delivered, and SIGKILL of a child whose spawn
// failed) to the leader. Every process costs at least two of them, so they
// travel in batches: the reporter takes everything queued, sends it as one
// request (core.submitBatch on the leader itself, one POST of an fsm Batch
// to the leader's internal route otherwise), and the leader commits the
// whole batch through group commit with no goroutine per command.
//
//	runner loop ──add──▶ queue ──take all──▶ sendBatch ──▶ leader: submitBatch ──▶ raft
//	                                            ▲                 │
//	                                            └── send again ◀──┘ the commands that did not replicate,
//	                                                                and the later ones about the same PIDs
//
// One batch is in flight at a time, so the reports about one PID reach the
// log in the order they were made, retries included: when a command fails
// to replicate, it is sent again together with every later command of the
// batch about the same PID. A leader that refuses batches (an older
// release) gets the commands one by one.

const (
	// reportTimeout bounds one request.
	reportTimeout = 10 * time.Second
	// reportLinger is how long the reporter waits for more reports after
	// the first one when few are queued: a short process's started and
	// exited reports then share one request and one raft entry. A process
	// that ends at once (true) exits within microseconds of its start;
	// every microsecond more is added to a lone lifecycle.
	reportLinger = 200 * time.Microsecond
	// lingerBelow is the queue length from which the reporter sends at
	// once.
	lingerBelow = 64
)

// reporter is the runner's report queue and the goroutine that drains it.
type reporter struct {
	r    *Runner
	mu   sync.Mutex // guards q
	q    []fsm.Command
	wake chan struct{}
}

func (rp *reporter) init(r *Runner) {
	rp.r = r
	rp.wake = make(chan struct{}, 1)
}

// add queues a report; it never blocks.
func (rp *reporter) add(c fsm.Command) {
	rp.mu.Lock()
	rp.q = append(rp.q, c)
	rp.mu.Unlock()
	ctxutil.Kick(rp.wake)
}

func reportPID(c fsm.Command) uint64 {
	switch c := c.(type) {
	case *fsm.Started:
		return c.PID
	case *fsm.Stopped:
		return c.PID
	case *fsm.Continued:
		return c.PID
	case *fsm.Exited:
		return c.PID
	case *fsm.Lost:
		return c.PID
	case *fsm.SignalDelivered:
		return c.PID
	case *fsm.Signal:
		return uint64(c.Target)
	case *fsm.Reap:
		return c.PID
	case *fsm.SetGroup:
		return c.PID
	}
	return 0
}

// foldStarts folds a start into the exit that follows it: a Started whose
// next report about the same PID in batch is the same incarnation's Exited
// is dropped, and that Exited says Started instead. A short process then
// costs the table one command on every replica instead of two, and the
// table records the same start. The order of the remaining reports is kept.
func foldStarts(batch []fsm.Command) []fsm.Command {
	var open map[uint64]int // pid -> index in batch of its last report, a Started
	folded := 0
	for i, c := range batch {
		pid := reportPID(c)
		j, ok := open[pid]
		delete(open, pid)
		switch c := c.(type) {
		case *fsm.Started:
			if open == nil {
				open = make(map[uint64]int)
			}
			open[pid] = i
		case *fsm.Exited:
			if ok && batch[j].(*fsm.Started).Incarnation == c.Incarnation {
				c.Started = true
				batch[j] = nil
				folded++
			}
		}
	}
	if folded == 0 {
		return batch
	}
	out := batch[:0]
	for _, c := range batch {
		if c != nil {
			out = append(out, c)
		}
	}
	clear(batch[len(out):])
	return out
}

// run drains the queue, one batch at a time, until the runner stops.
func (rp *reporter) run() {
	r := rp.r
	defer r.wg.Done()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-rp.wake:
		}
		if !rp.linger() {
			return
		}
		for {
			rp.mu.Lock()
			batch := rp.q
			rp.q = nil
			rp.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			batch = foldStarts(batch)
			if !rp.deliver(batch) {
				return
			}
		}
	}
}

// linger waits up to reportLinger for the queue to fill, unless it holds
// lingerBelow reports already. It returns false at shutdown.
func (rp *reporter) linger() bool {
	rp.mu.Lock()
	n := len(rp.q)
	rp.mu.Unlock()
	if n >= lingerBelow {
		return true
	}
	return ctxutil.Sleep(rp.r.ctx, reportLinger)
}

// deliver sends cmds until the leader has answered each one. It returns
// false at shutdown.
func (rp *reporter) deliver(cmds []fsm.Command) bool {
	r := rp.r
	backoff := 50 * time.Millisecond
	for len(cmds) > 0 {
		ctx, cancel := context.WithTimeout(r.ctx, reportTimeout)
		outs, err := r.out.SendBatch(ctx, cmds)
		cancel()
		switch {
		case errors.Is(err, httpapi.ErrBatchRefused):
			for _, c := range cmds {
				if !rp.deliverOne(c) {
					return false
				}
			}
			return true
		case err == nil:
			if cmds, err = rp.settle(cmds, outs); len(cmds) == 0 {
				return true
			}
		}
		if r.ctx.Err() != nil {
			return false
		}
		r.log.Debug("reports not acknowledged; retrying", "reports", len(cmds), "err", err)
		if !ctxutil.Sleep(r.ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	return true
}

// settle looks at the outcomes of cmds and returns what must be sent
// again: each command that did not replicate, and every later command
// about the same PID, in order; and the first replication error.
func (rp *reporter) settle(cmds []fsm.Command, outs []commit.Outcome) ([]fsm.Command, error) {
	var again []fsm.Command
	var failed map[uint64]bool
	var first error
	for i, c := range cmds {
		pid := reportPID(c)
		if o := outs[i]; o.Err != nil || failed[pid] {
			if failed == nil {
				failed = make(map[uint64]bool)
			}
			if first == nil {
				first = o.Err
			}
			failed[pid] = true
			again = append(again, c)
			continue
		}
		if res := outs[i].Res; res != nil && res.Err != nil {
			rp.r.log.Debug("report answered with a domain error", "command", c.Type(), "pid", pid, "err", res.Err)
		}
	}
	return again, first
}

// deliverOne sends one report until the leader answers. It returns false
// at shutdown.
func (rp *reporter) deliverOne(c fsm.Command) bool {
	r := rp.r
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(r.ctx, reportTimeout)
		res, err := r.out.Send(ctx, nil, c)
		cancel()
		if err == nil {
			if res.Err != nil {
				r.log.Debug("report answered with a domain error", "command", c.Type(), "pid", reportPID(c), "err", res.Err)
			}
			return true
		}
		if r.ctx.Err() != nil {
			return false
		}
		r.log.Debug("report not acknowledged; retrying", "command", c.Type(), "pid", reportPID(c), "err", err)
		if !ctxutil.Sleep(r.ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
