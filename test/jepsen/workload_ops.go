//go:build linux

package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// for an owner tag.
func (w *Workload) spawn(ctx context.Context, st *stream, rng *rand.Rand, command string, args []string, restart string, tag bool) Op {
	return w.spawnReq(ctx, st, rng, api.SpawnRequest{Command: command, Args: args, Restart: restart}, tag)
}

// spawnReq spawns what req asks for; tag asks for an owner tag.
func (w *Workload) spawnReq(ctx context.Context, st *stream, rng *rand.Rand, req api.SpawnRequest, tag bool) Op {
	command := req.Command
	op := Op{Kind: OpSpawn, Command: command, Args: req.Args, Restart: req.Restart != ""}
	if tag {
		op.Token = fmt.Sprintf("jepsen-%d", w.tokens.Add(1))
		req.Owner = op.Token
	}
	var res api.SpawnResponse
	w.write(ctx, st, rng, &op, http.MethodPost, "/v1/spawn", nil, req, &res)
	if op.Outcome == OutcomeOK {
		op.RetPID = res.PID
		w.remember(procRef{pid: res.PID, restart: op.Restart, heartbeat: command == "heartbeat"})
	}
	w.hist.Add(op)
	return op
}

// kill sends sig to pid.
func (w *Workload) kill(ctx context.Context, st *stream, rng *rand.Rand, pid uint64, sig int) Op {
	op := Op{Kind: OpKill, PID: pid, Signal: sig}
	var res api.KillResponse
	w.write(ctx, st, rng, &op, http.MethodPost, "/v1/kill", nil, api.KillRequest{Targets: []int64{int64(pid)}, Signal: sig}, &res)
	if op.Outcome == OutcomeOK {
		for _, r := range res.Reached {
			if r.PID == pid {
				op.Reached, op.Incarnation = true, r.Incarnation
			}
		}
		if !op.Reached && len(res.Errors) > 0 {
			op.Outcome, op.Code, op.Error = OutcomeFail, res.Errors[0].Code, res.Errors[0].Message
		}
	}
	w.hist.Add(op)
	return op
}

// get reads pid.
func (w *Workload) get(ctx context.Context, st *stream, rng *rand.Rand, pid uint64) Op {
	op := Op{Kind: OpGet, PID: pid}
	var p api.Process
	w.read(ctx, st, rng, &op, "/v1/procs/"+strconv.FormatUint(pid, 10), nil, &p, w.cfg.OpTimeout)
	if op.Outcome == OutcomeOK {
		fillProcess(&op, &p)
	}
	w.hist.Add(op)
	return op
}

// wait waits, for a bounded time, until pid has exited.
func (w *Workload) wait(ctx context.Context, st *stream, rng *rand.Rand, pid uint64) Op {
	op := Op{Kind: OpWait, PID: pid}
	var p api.Process
	limit := max(w.cfg.OpTimeout/2, 100*time.Millisecond)
	w.read(ctx, st, rng, &op, "/v1/procs/"+strconv.FormatUint(pid, 10)+"/wait",
		url.Values{"timeout": {limit.String()}}, &p, w.cfg.OpTimeout+limit)
	if op.Outcome == OutcomeOK {
		fillProcess(&op, &p)
	}
	w.hist.Add(op)
	return op
}

// fillProcess records what a read of a process showed.
func fillProcess(op *Op, p *api.Process) {
	op.State, op.Incarnation, op.Status = p.State, p.Incarnation, StatusOf(p)
}

// list reads the whole table, exited processes included.
func (w *Workload) list(ctx context.Context, st *stream, rng *rand.Rand) Op {
	op := Op{Kind: OpList}
	var l api.ProcessList
	w.read(ctx, st, rng, &op, "/v1/procs", url.Values{"all": {"true"}}, &l, w.cfg.OpTimeout)
	if op.Outcome == OutcomeOK {
		op.PIDs = make([]uint64, 0, len(l.Processes))
		for _, p := range l.Processes {
			op.PIDs = append(op.PIDs, p.PID)
		}
	}
	w.hist.Add(op)
	return op
}

// registryOp creates or unlinks name in a registry.
func (w *Workload) registryOp(ctx context.Context, st *stream, rng *rand.Rand, kind OpKind, registry, name string) Op {
	op := Op{Kind: kind, Registry: registry, Name: name}
	if kind == OpCreate {
		w.write(ctx, st, rng, &op, http.MethodPost, RegistryRoutes[registry], nil, map[string]string{RegistryKeys[registry]: name}, nil)
	} else {
		w.write(ctx, st, rng, &op, http.MethodDelete, RegistryRoutes[registry], url.Values{RegistryKeys[registry]: {name}}, nil, nil)
	}
	w.hist.Add(op)
	return op
}
