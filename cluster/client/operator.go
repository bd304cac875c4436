package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/vproc/vproc/cluster/api"
)

// Nodes returns the members of the cluster with their capacity, load and
// status. With stale the answering node answers from its own state.
func (c *Client) Nodes(ctx context.Context, stale bool) (api.NodeList, error) {
	var out api.NodeList
	q := url.Values{}
	if stale {
		q.Set("stale", "true")
	}
	err := c.read(ctx, &request{method: http.MethodGet, path: "/v1/nodes", query: q, out: &out})
	return out, err
}

// Health asks the agent whether the cluster has a leader. It makes a single
// attempt: an agent that does not answer is an error, and an agent that
// answers without a leader (503 with a Health body) gives a Health whose OK
// is false.
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	ctx, cancel := c.attemptContext(ctx, 0)
	defer cancel()
	resp, err := c.send(ctx, &request{method: http.MethodGet, path: "/v1/health", anyStatus: true}, nil)
	if err != nil {
		return api.Health{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusInsufficientStorage {
		return api.Health{}, errorAnswer(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return api.Health{}, err
	}
	var ans struct {
		api.Health
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	err = json.Unmarshal(b, &ans)
	if err == nil && (ans.Code == api.CodeNoLeader || ans.Code == api.CodeNotLeader) {
		return api.Health{}, nil // the agent answered: there is no leader
	}
	if err != nil || ans.Code != "" {
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return api.Health{}, errorAnswer(resp)
	}
	h := ans.Health
	h.OK = h.OK && resp.StatusCode == http.StatusOK
	return h, nil
}

// Peers returns the raft configuration: each server, its suffrage and
// which one leads.
func (c *Client) Peers(ctx context.Context) (api.PeerList, error) {
	var out api.PeerList
	err := c.read(ctx, &request{method: http.MethodGet, path: "/v1/operator/raft/peers", out: &out})
	return out, err
}

// State returns the applied index and state hash of the answering node
// (always a local read), for convergence checks.
func (c *Client) State(ctx context.Context) (api.StateInfo, error) {
	var out api.StateInfo
	err := c.read(ctx, &request{method: http.MethodGet, path: "/v1/state", out: &out})
	return out, err
}

// SnapshotSave streams a snapshot of the table into w.
func (c *Client) SnapshotSave(ctx context.Context, w io.Writer) error {
	resp, err := c.open(ctx, &request{method: http.MethodGet, path: "/v1/snapshot", timeout: -1})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// SnapshotRestore replaces the table with the snapshot read from r. It is
// not retried: r cannot be replayed.
func (c *Client) SnapshotRestore(ctx context.Context, r io.Reader) error {
	return c.call(ctx, &request{method: http.MethodPut, path: "/v1/snapshot", stream: r, timeout: -1}, nil)
}

// SchedulerConfig returns the cluster-wide scheduler configuration. With
// stale the answering node answers from its own state.
func (c *Client) SchedulerConfig(ctx context.Context, stale bool) (api.SchedulerConfig, error) {
	var out api.SchedulerConfig
	q := url.Values{}
	if stale {
		q.Set("stale", "true")
	}
	err := c.read(ctx, &request{method: http.MethodGet, path: "/v1/operator/scheduler", query: q, out: &out})
	return out, err
}

// SetSchedulerConfig sets the cluster-wide scheduler configuration: the
// placement strategy, "spread" or "binpack". It returns once the change has
// committed; placements decided after that use it.
func (c *Client) SetSchedulerConfig(ctx context.Context, req api.SchedulerConfigRequest) (api.SchedulerConfig, error) {
	var out api.SchedulerConfig
	err := c.write(ctx, &request{method: http.MethodPut, path: "/v1/operator/scheduler", in: req, out: &out})
	return out, err
}
