//go:build linux

package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/vproc/vproc/internal/ctxutil"
)

// opKinds are the choices of a client, with their weights.
type choice int

const (
	chSpawnSleep choice = iota
	chSpawnTrue
	chGet
	chWait
	chKill
	chList
	chRegistry
	chSignalBeat
	chGetBeat
	chSpawnModule
)

var weights = []struct {
	c choice
	w int
}{
	{chSpawnSleep, 18}, {chSpawnTrue, 6}, {chGet, 24}, {chWait, 8}, {chKill, 10}, {chList, 5},
	{chRegistry, 16}, {chSignalBeat, 3}, {chGetBeat, 5}, {chSpawnModule, 4},
}

// choose draws a client's next operation among the enabled ones.
func (w *Workload) choose(rng *rand.Rand) choice {
	w.mu.Lock()
	regs, beats, module := len(w.registries) > 0, w.heartbeat, w.module
	w.mu.Unlock()
	total := 0
	for _, x := range weights {
		total += x.w
	}
	for {
		n := rng.IntN(total)
		for _, x := range weights {
			if n -= x.w; n >= 0 {
				continue
			}
			switch {
			case x.c == chRegistry && !regs, (x.c == chSignalBeat || x.c == chGetBeat) && !beats, x.c == chSpawnModule && !module:
			default:
				return x.c
			}
			break
		}
	}
}

// client is one client's loop.
func (w *Workload) client(ctx context.Context, id int) {
	rng := rand.New(rand.NewPCG(w.cfg.Seed, streamWorkload+uint64(id)+1))
	st := w.newStream(id)
	defer st.close()
	for ctx.Err() == nil && w.ops.Add(1) <= int64(w.cfg.MaxOps) {
		c := w.choose(rng)
		switch c {
		case chSpawnSleep:
			w.spawn(ctx, st, rng, "sleep", []string{strconv.Itoa(1 + rng.IntN(w.cfg.SleepMax))}, "", w.tagging())
		case chSpawnTrue:
			w.spawn(ctx, st, rng, "true", nil, "", w.tagging())
		case chSpawnModule:
			w.spawnModule(ctx, st, rng)
		case chGet, chWait, chKill:
			ref, ok := w.pick(rng, pickPlain)
			if !ok {
				w.spawn(ctx, st, rng, "true", nil, "", w.tagging())
				break
			}
			switch c {
			case chGet:
				w.get(ctx, st, rng, ref.pid)
			case chWait:
				w.wait(ctx, st, rng, ref.pid)
			default:
				sig := 9
				if rng.IntN(10) < 3 {
					sig = 15
				}
				w.kill(ctx, st, rng, ref.pid, sig)
			}
		case chList:
			w.list(ctx, st, rng)
		case chRegistry:
			w.mu.Lock()
			kind := w.registries[rng.IntN(len(w.registries))]
			w.mu.Unlock()
			name := fmt.Sprintf("/jepsen-%d", rng.IntN(w.cfg.RegistryNames))
			k := OpCreate
			if rng.IntN(2) == 0 {
				k = OpUnlink
			}
			w.registryOp(ctx, st, rng, k, kind, name)
		case chSignalBeat, chGetBeat:
			ref, ok := w.pick(rng, pickBeat)
			if !ok {
				w.list(ctx, st, rng)
				break
			}
			if c == chSignalBeat {
				w.kill(ctx, st, rng, ref.pid, CountedSignals[rng.IntN(len(CountedSignals))])
			} else {
				w.get(ctx, st, rng, ref.pid)
			}
		}
		if w.cfg.ThinkTime > 0 {
			ctxutil.Sleep(ctx, time.Duration(rng.Int64N(int64(w.cfg.ThinkTime))))
		}
	}
}

func (w *Workload) tagging() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.useTokens
}

// Which PIDs pick chooses from.
const (
	pickPlain = iota // not a heartbeat: heartbeats die only of SIGKILL, on purpose
	pickBeat         // a live heartbeat
)

// pick chooses a PID from the pool.
func (w *Workload) pick(rng *rand.Rand, which int) (procRef, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var cands []procRef
	for _, r := range w.pool {
		if which == pickPlain && !r.heartbeat || which == pickBeat && r.heartbeat && w.beating[r.pid] {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		return procRef{}, false
	}
	return cands[rng.IntN(len(cands))], true
}

// remember adds a PID to the pool, forgetting the oldest beyond poolSize
// (but never a live heartbeat).
func (w *Workload) remember(r procRef) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pool = append(w.pool, r)
	for i := 0; len(w.pool) > poolSize && i < len(w.pool); {
		if w.pool[i].heartbeat && w.beating[w.pool[i].pid] {
			i++
			continue
		}
		w.pool = append(w.pool[:i], w.pool[i+1:]...)
	}
}
