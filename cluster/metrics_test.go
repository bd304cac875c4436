package cluster

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

// scrapeMetrics GETs /v1/metrics from base and parses it with the
// Prometheus text parser.
func scrapeMetrics(t *testing.T, base string, hdr map[string]string) map[string]*dto.MetricFamily {
	t.Helper()
	r := do(t, "GET", base+"/v1/metrics", nil, hdr)
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/metrics: status %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /v1/metrics: content type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("parsing /v1/metrics: %v\n%s", err, r.body)
	}
	return fams
}

// metricValue returns the value of the series of family name whose labels
// include want, and whether there is one. A histogram's value is its count.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount()), true
		case dto.MetricType_SUMMARY:
			return float64(m.GetSummary().GetSampleCount()), true
		case dto.MetricType_UNTYPED:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// TestMetricsScrape scrapes a real agent before and after it spawns,
// runs a pipeline, kills and sees exits, and checks the names, types and
// labels of vproc's metrics and of raft's, bolt's and memberlist's, and
// that the counters move.
func TestMetricsScrape(t *testing.T) {
	c := MakeCluster(t, 1)
	a := c.agents[0]
	base := "http://" + a.HTTPAddr()
	node := map[string]string{"node": a.Name()}
	before := scrapeMetrics(t, base, nil)

	spawnHTTP := func(req api.SpawnRequest) uint64 {
		t.Helper()
		r := do(t, "POST", base+"/v1/spawn", req, nil)
		if r.status != http.StatusOK {
			t.Fatalf("spawn %+v: %d %s", req, r.status, r.body)
		}
		var sp api.SpawnResponse
		r.decode(t, &sp)
		return sp.PID
	}
	sleeper := spawnHTTP(api.SpawnRequest{Command: "sleep", Args: []string{"60"}})
	failing := spawnHTTP(api.SpawnRequest{Command: "false"})
	piped := spawnHTTP(api.SpawnRequest{Command: "sh", Args: []string{"-c", "echo hello metrics | cat"}})
	state := func(pid uint64) fsm.State {
		p, _ := a.fsm.View().Get(pid)
		return p.State
	}
	waitFor(t, "the sleeper running", 60*time.Second, func() bool { return state(sleeper) == fsm.StateRunning })
	if r := do(t, "POST", base+"/v1/kill", api.KillRequest{Targets: []int64{int64(sleeper)}, Signal: 9}, nil); r.status != http.StatusOK {
		t.Fatalf("kill: %d %s", r.status, r.body)
	}
	waitFor(t, "every process exited", 60*time.Second, func() bool {
		return state(sleeper) == fsm.StateExited && state(failing) == fsm.StateExited && state(piped) == fsm.StateExited
	})

	// The table's counters are applied as the entries are; poll until
	// the scrape shows them all.
	type series struct {
		name   string
		typ    dto.MetricType
		labels map[string]string
		min    float64 // the least increase since before
	}
	with := func(extra ...string) map[string]string {
		m := map[string]string{"node": a.Name()}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	moved := []series{
		{"vproc_table_spawns_total", dto.MetricType_COUNTER, node, 3},
		{"vproc_table_kills_total", dto.MetricType_COUNTER, node, 1},
		{"vproc_table_exits_total", dto.MetricType_COUNTER, with("cause", "signal"), 1},
		{"vproc_table_exits_total", dto.MetricType_COUNTER, with("cause", "exit_nonzero"), 1},
		{"vproc_table_exits_total", dto.MetricType_COUNTER, with("cause", "exit_zero"), 1},
		{"vproc_table_entry_commands", dto.MetricType_HISTOGRAM, node, 3},
		{"vproc_table_entry_bytes", dto.MetricType_HISTOGRAM, node, 3},
		{"vproc_raft_apply_duration_seconds", dto.MetricType_HISTOGRAM, node, 3},
		{"vproc_placement_spawn_pick_seconds", dto.MetricType_HISTOGRAM, node, 3},
		{"vproc_http_requests_total", dto.MetricType_COUNTER, with("route", "/v1/spawn", "method", "POST", "code", "200"), 3},
		{"vproc_http_requests_total", dto.MetricType_COUNTER, with("route", "/v1/kill", "method", "POST", "code", "200"), 1},
		{"vproc_http_requests_total", dto.MetricType_COUNTER, with("route", "/v1/metrics", "method", "GET", "code", "200"), 1},
		{"vproc_http_request_duration_seconds", dto.MetricType_HISTOGRAM, with("route", "/v1/spawn", "method", "POST"), 3},
		{"vproc_kernel_ipc_bytes_total", dto.MetricType_COUNTER, with("kind", "pipe"), float64(len("hello metrics\n"))},
		{"vproc_kernel_ipc_messages_total", dto.MetricType_COUNTER, with("kind", "pipe"), 1},
		{"vproc_lease_renewals_total", dto.MetricType_COUNTER, with("result", "ok"), 1},
		{"vproc_raft_leadership_changes_total", dto.MetricType_COUNTER, with("to", "leader"), 0},
	}
	var after map[string]*dto.MetricFamily
	waitFor(t, "the counters to move", 60*time.Second, func() bool {
		after = scrapeMetrics(t, base, nil)
		for _, s := range moved {
			was, _ := metricValue(before, s.name, s.labels)
			now, ok := metricValue(after, s.name, s.labels)
			if !ok || now-was < s.min || (s.min == 0 && now < 1) {
				return false
			}
		}
		return true
	})
	for _, s := range moved {
		if got := after[s.name].GetType(); got != s.typ {
			t.Errorf("%s: type %v, want %v", s.name, got, s.typ)
		}
	}

	// Gauges read at scrape time, with their labels.
	gauges := []struct {
		name   string
		labels map[string]string
		check  func(float64) bool
	}{
		{"vproc_table_records", with("state", "exited"), func(v float64) bool { return v >= 3 }},
		{"vproc_table_records", with("state", "pending"), func(v float64) bool { return v >= 0 }},
		{"vproc_raft_commit_index", node, func(v float64) bool { return v > 0 }},
		{"vproc_raft_applied_index", node, func(v float64) bool { return v > 0 }},
		{"vproc_raft_term", node, func(v float64) bool { return v >= 1 }},
		{"vproc_raft_is_leader", node, func(v float64) bool { return v == 1 }},
		{"vproc_kernel_slots", node, func(v float64) bool { return v >= 1 }},
		{"vproc_kernel_run_queue", node, func(v float64) bool { return v >= 0 }},
		{"vproc_kernel_processes", with("state", "zombie"), func(v float64) bool { return v >= 0 }},
		{"vproc_kernel_frozen", node, func(v float64) bool { return v == 0 || v == 1 }},
		{"vproc_gossip_members", with("status", "alive"), func(v float64) bool { return v == 1 }},
	}
	for _, g := range gauges {
		v, ok := metricValue(after, g.name, g.labels)
		if !ok {
			t.Errorf("%s%v: missing", g.name, g.labels)
			continue
		}
		if after[g.name].GetType() != dto.MetricType_GAUGE {
			t.Errorf("%s: type %v, want gauge", g.name, after[g.name].GetType())
		}
		if !g.check(v) {
			t.Errorf("%s%v = %v", g.name, g.labels, v)
		}
	}

	// The libraries' own metrics, through the go-metrics sinks: raft's
	// and memberlist's (hashicorp/go-metrics), bolt's (armon/go-metrics).
	for _, lib := range []struct {
		name   string
		labels map[string]string
	}{
		{"vproc_raft_commitTime", nil},
		{"vproc_raft_boltdb_storeLogs", nil},
		{"vproc_memberlist_gossip", node},
	} {
		f, ok := after[lib.name]
		if !ok {
			t.Errorf("%s: missing", lib.name)
			continue
		}
		if f.GetType() != dto.MetricType_HISTOGRAM {
			t.Errorf("%s: type %v, want histogram", lib.name, f.GetType())
		}
		if n, ok := metricValue(after, lib.name, lib.labels); !ok || n < 1 {
			t.Errorf("%s%v: %v samples", lib.name, lib.labels, n)
		}
	}

	// Every one of vproc's own metrics carries the node.
	for name, f := range after {
		if !strings.HasPrefix(name, "vproc_") || strings.HasPrefix(name, "vproc_raft_boltdb") ||
			strings.HasPrefix(name, "vproc_memberlist") || strings.HasPrefix(name, "vproc_process_") {
			continue
		}
		if !ownMetric(name) {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabel(m, "node", a.Name()) {
				t.Errorf("%s: a series without node=%s: %v", name, a.Name(), m.GetLabel())
			}
		}
	}
}

// ownMetric reports whether name is one of vproc's own metrics rather
// than one the libraries report through go-metrics.
func ownMetric(name string) bool {
	for _, p := range []string{"vproc_http_", "vproc_table_", "vproc_kernel_", "vproc_gossip_", "vproc_lease_",
		"vproc_placement_", "vproc_raft_apply_duration", "vproc_raft_leadership_changes", "vproc_raft_commit_index",
		"vproc_raft_applied_index", "vproc_raft_last_log_index", "vproc_raft_term", "vproc_raft_is_leader"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// TestMetricsACL: with ACLs on, /v1/metrics needs a token, as every read
// does: any valid one (a user's, a management token, the agent token).
func TestMetricsACL(t *testing.T) {
	c := MakeCluster(t, 1, func(i int, cfg *Config) { cfg.ACLEnabled, cfg.AgentToken = true, testAgentToken })
	base := "http://" + c.agents[0].HTTPAddr()
	if r := do(t, "GET", base+"/v1/metrics", nil, nil); r.status != http.StatusForbidden && r.status != http.StatusUnauthorized {
		t.Fatalf("anonymous scrape: status %d, want a refusal", r.status)
	}
	r := do(t, "POST", base+"/v1/acl/bootstrap", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("bootstrap: %d %s", r.status, r.body)
	}
	var root api.ACLToken
	r.decode(t, &root)
	r = do(t, "POST", base+"/v1/acl/tokens", api.ACLTokenRequest{User: "alice"}, tok(root.SecretID))
	if r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	var alice api.ACLToken
	r.decode(t, &alice)
	for who, secret := range map[string]string{"management": root.SecretID, "user": alice.SecretID, "agent": testAgentToken} {
		fams := scrapeMetrics(t, base, tok(secret))
		if _, ok := fams["vproc_table_records"]; !ok {
			t.Errorf("scrape with the %s token: no vproc_table_records", who)
		}
	}
	if r := do(t, "GET", base+"/v1/metrics", nil, tok("not-a-token")); r.status == http.StatusOK {
		t.Errorf("scrape with an unknown token: status %d", r.status)
	}
}

// TestMetricsPerAgent runs three agents in one process: each serves its
// own metrics under its own node label (no duplicate registration), and
// exactly one reports itself the raft leader.
func TestMetricsPerAgent(t *testing.T) {
	c := MakeCluster(t, 3)
	c.leader()
	waitFor(t, "one agent reporting itself the leader", 60*time.Second, func() bool {
		leaders := 0
		for _, a := range c.up() {
			fams := scrapeMetrics(t, "http://"+a.HTTPAddr(), nil)
			v, ok := metricValue(fams, "vproc_raft_is_leader", map[string]string{"node": a.Name()})
			if !ok {
				t.Fatalf("%s: no vproc_raft_is_leader with its node label", a.Name())
			}
			for _, m := range fams["vproc_raft_is_leader"].GetMetric() {
				if !hasLabel(m, "node", a.Name()) {
					t.Fatalf("%s serves another node's series: %v", a.Name(), m.GetLabel())
				}
			}
			if _, ok := metricValue(fams, "vproc_memberlist_gossip", map[string]string{"node": a.Name()}); !ok {
				return false // memberlist has not gossiped yet
			}
			leaders += int(v)
		}
		return leaders == 1
	})
}
