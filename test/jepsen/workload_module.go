//go:build linux

package jepsen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/internal/ctxutil"
)

// ModuleProgram is the name the workload uploads WorkloadConfig.Module
// under: a WASI module that ends by itself, spawned as "true" is.
const ModuleProgram = "jepsen-module"

// uploadModule uploads the module, trying each node in turn until one
// acknowledges it (at least two nodes then hold its bytes).
func (w *Workload) uploadModule(ctx context.Context) error {
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: clientTransport(w.endpoints())}
	var last error
	for i := 0; i < 10 && ctx.Err() == nil; i++ {
		eps := w.endpoints()
		if len(eps) == 0 {
			last = fmt.Errorf("no node to talk to")
			ctxutil.Sleep(ctx, time.Second)
			continue
		}
		ep := eps[i%len(eps)]
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, ep.URL+api.ProgramsPath+"/"+ModuleProgram, bytes.NewReader(w.cfg.Module))
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			last = err
			ctxutil.Sleep(ctx, time.Second)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		last = fmt.Errorf("%s answered %s: %s", ep.Name, resp.Status, bytes.TrimSpace(body))
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return last // the agents have no program routes
		}
		ctxutil.Sleep(ctx, time.Second)
	}
	return last
}

// probeModule uploads the module and spawns it once; the clients spawn it
// only if both work.
func (w *Workload) probeModule(ctx context.Context, st *stream, rng *rand.Rand) {
	if len(w.cfg.Module) == 0 {
		w.skip("modules: no WASI module configured")
		return
	}
	if err := w.uploadModule(ctx); err != nil {
		w.skip("modules: upload failed: %v", err)
		return
	}
	var op Op
	for i := 0; i < 5; i++ {
		if op = w.spawnModule(ctx, st, rng); !transient(op) || !ctxutil.Sleep(ctx, time.Second) {
			break
		}
	}
	if op.Outcome != OutcomeOK {
		w.skip("modules: spawn %s failed: %s %s", ModuleProgram, op.Code, op.Error)
		return
	}
	w.mu.Lock()
	w.module = true
	w.mu.Unlock()
}

// spawnModule spawns the module as a process.
func (w *Workload) spawnModule(ctx context.Context, st *stream, rng *rand.Rand) Op {
	return w.spawn(ctx, st, rng, ModuleProgram, nil, "", w.tagging())
}
