package replica

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/testwait"
)

// noTerm is a Leadership without terms: reads that need one wait.
type noTerm struct{}

func (noTerm) Term() (ready, done <-chan struct{}, ok bool) { return nil, nil, false }

// newDevReplica starts a single-node, in-memory replica on raft's
// in-memory transport and waits until it leads. Its cleanup stops it.
func newDevReplica(t *testing.T) *Replica { t.Helper(); return newDevReplicaEnv(t, Env{}) }

// newDevReplicaEnv is newDevReplica with env's hooks.
func newDevReplicaEnv(t *testing.T, env Env) *Replica {
	t.Helper()
	return newDevReplicaFull(t, env, nil)
}

// newDevReplicaWith is newDevReplica with edit applied to the replica
// before its goroutines start.
func newDevReplicaWith(t *testing.T, edit func(*Replica)) *Replica {
	t.Helper()
	return newDevReplicaFull(t, Env{}, edit)
}

// newDevReplicaFull is newDevReplica with env's hooks and edit applied to
// the replica before its goroutines start.
func newDevReplicaFull(t *testing.T, env Env, edit func(*Replica)) *Replica {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name, cfg.Dev = "r1", true
	addr, trans := raft.NewInmemTransport("")
	cfg.Addr = string(addr)
	stop := make(chan struct{})
	env.Logger, env.Stop, env.Leadership = slog.New(slog.DiscardHandler), stop, noTerm{}
	r, err := New(cfg, trans, env)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(r)
	}
	r.Start()
	t.Cleanup(func() {
		close(stop)
		if err := r.ShutdownRaft(); err != nil {
			t.Error(err)
		}
		_ = trans.Close()
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	testwait.For(t, "leadership", 10*time.Second, r.IsLeader)
	return r
}

func TestSubmitAndRead(t *testing.T) {
	r := newDevReplica(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := r.RegisterSession(ctx)
	if err != nil || id == 0 {
		t.Fatalf("RegisterSession = %d, %v; want a session", id, err)
	}
	sess := &commit.SessionRef{ID: id, Request: 1}
	res, err := r.Submit(ctx, sess, &fsm.Spawn{Spec: fsm.Spec{Command: "true"}, Now: time.Now().UnixNano()})
	if err != nil || res.Err != nil || res.PID == 0 {
		t.Fatalf("Submit(spawn) = %+v, %v; want a PID", res, err)
	}
	again, err := r.Submit(ctx, sess, &fsm.Spawn{Spec: fsm.Spec{Command: "true"}, Now: time.Now().UnixNano()})
	if err != nil || again.PID != res.PID {
		t.Errorf("retry in the session = %+v, %v; want PID %d again", again, err, res.PID)
	}
	if err := r.WaitApplied(ctx, res.Index-1); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.LocalView().Get(res.PID); !ok {
		t.Errorf("LocalView lacks pid %d after it was applied", res.PID)
	}
	outs := r.SubmitBatch(ctx, nil, []fsm.Command{&fsm.Tick{Now: time.Now().UnixNano()}, &fsm.Tick{Now: time.Now().UnixNano()}})
	for i, o := range outs {
		if o.Err != nil || o.Res == nil {
			t.Errorf("SubmitBatch outcome %d = %+v, want a result", i, o)
		}
	}
}

func TestReadsWaitForTheTerm(t *testing.T) {
	r := newDevReplica(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// Raft calls this node leader, but no term has started: a
	// linearizable read waits for one.
	if _, err := r.ConsistentView(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ConsistentView without a term = %v, want the context's deadline", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Name, ok.Dev = "n1", true
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(default, dev) = %v, want nil", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"no name", func(c *Config) { c.Name = "" }},
		{"no data dir", func(c *Config) { c.Dev = false }},
		{"lease above heartbeat", func(c *Config) { c.LeaderLeaseTimeout = c.HeartbeatTimeout + time.Millisecond }},
		{"heartbeat above election", func(c *Config) { c.HeartbeatTimeout = c.ElectionTimeout + time.Millisecond }},
		{"zero snapshot threshold", func(c *Config) { c.SnapshotThreshold = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
				t.Errorf("Validate(%s) = %v, want ErrBadConfig", tc.name, err)
			}
		})
	}
}
