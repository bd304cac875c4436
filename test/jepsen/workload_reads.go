//go:build linux

package jepsen

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/internal/ctxutil"
)

// ReadAll reads the whole table, exited processes included, with a
// linearizable read, trying the endpoints in turn until ctx ends.
func ReadAll(ctx context.Context, eps []Endpoint, timeout time.Duration) ([]api.Process, error) {
	hc := &http.Client{Transport: clientTransport(eps)}
	defer hc.CloseIdleConnections()
	var last attempt
	for i := 0; i < 1000 && ctx.Err() == nil && len(eps) > 0; i++ {
		ep := eps[i%len(eps)]
		var l api.ProcessList
		actx, cancel := context.WithTimeout(ctx, timeout)
		last = callAPI(actx, hc, ep, http.MethodGet, "/v1/procs", url.Values{"all": {"true"}}, nil, &l, nil)
		cancel()
		if last.kind == answered && last.code == "" {
			return l.Processes, nil
		}
		ctxutil.Sleep(ctx, 500*time.Millisecond)
	}
	return nil, fmt.Errorf("no consistent read: %s %s", last.code, last.msg)
}

// ReadState asks every endpoint for its applied index and state hash at
// once.
func ReadState(ctx context.Context, eps []Endpoint, timeout time.Duration) []StateSample {
	hc := &http.Client{Transport: clientTransport(eps)}
	defer hc.CloseIdleConnections()
	out := make([]StateSample, len(eps))
	var wg sync.WaitGroup
	for i, ep := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			var s api.StateInfo
			a := callAPI(actx, hc, ep, http.MethodGet, "/v1/state", nil, nil, &s, nil)
			out[i] = StateSample{Node: ep.Name, Info: s}
			if a.kind != answered || a.code != "" {
				out[i].Err = strings.TrimSpace(a.code + " " + a.msg)
			}
		}()
	}
	wg.Wait()
	return out
}

// ReadHealth asks one endpoint for its health. An agent without a leader
// answers 503, which is an error here.
func ReadHealth(ctx context.Context, ep Endpoint, timeout time.Duration) (api.Health, error) {
	hc := &http.Client{Transport: clientTransport([]Endpoint{ep})}
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var h api.Health
	a := callAPI(ctx, hc, ep, http.MethodGet, "/v1/health", nil, nil, &h, nil)
	if a.kind != answered || a.code != "" {
		return h, fmt.Errorf("%s: health: %s %s", ep.Name, a.code, a.msg)
	}
	return h, nil
}
