package lease

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/node"
)

// Core is what the node side of the lease needs from the replication half.
type Core interface {
	// IsLeader reports whether this node is the leader.
	IsLeader() bool
	// RenewLease answers a node's renewal on the leader (Guarantee 3).
	RenewLease(ctx context.Context, node string) (uint64, error)
	// LocalView returns this node's view of the table.
	LocalView() *fsm.View
	// WaitApplied returns once the table has applied an index above index,
	// or ctx ends.
	WaitApplied(ctx context.Context, index uint64) error
}

// Client asks the leader (httpapi.Client).
type Client interface {
	CallLeader(ctx context.Context, route string, h http.Header, body []byte, out any) error
}

// Runner is what a returning node needs of its runner (package runner):
// killing the incarnations the table moved away, and committing in the
// node's session.
type Runner interface {
	KillUnassigned()
	Submit(ctx context.Context, cmd fsm.Command) (*fsm.Result, error)
}

// Config configures a Keeper.
type Config struct {
	// Name is this node's name.
	Name string
	// FenceTimeout is how long the lease lasts after the node sent the
	// last renewal the leader answered.
	FenceTimeout time.Duration
}

// Keeper holds this node's lease: it renews it with the leader and fences
// the local kernel with it (the node side above). Create it with New and
// run Run on a goroutine; it returns when New's ctx ends.
type Keeper struct {
	// Set by New and never changed.
	name   string
	fence  time.Duration
	core   Core
	client Client
	kernel *node.ProcessManager
	runner Runner
	log    *slog.Logger
	ctx    context.Context

	// Counters for Stats.
	renewals, failures, freezes atomic.Uint64
}

// Stats are a Keeper's counters since it started.
type Stats struct {
	// Renewals the leader answered, and those that failed.
	Renewals, Failures uint64
	// Freezes counts the times the lease ended: the node's processes
	// froze until a renewal.
	Freezes uint64
}

// Stats returns the keeper's counters.
func (s *Keeper) Stats() Stats {
	return Stats{Renewals: s.renewals.Load(), Failures: s.failures.Load(), Freezes: s.freezes.Load()}
}

// New returns the keeper of the lease of the node whose kernel is k. ctx
// ends its renewals and waits.
func New(ctx context.Context, cfg Config, core Core, client Client, k *node.ProcessManager, r Runner, logger *slog.Logger) (*Keeper, error) {
	if cfg.Name == "" || cfg.FenceTimeout <= 0 {
		return nil, errors.New("lease: a node name and a positive fence timeout are needed")
	}
	if core == nil || client == nil || k == nil || r == nil {
		return nil, errors.New("lease: a core, client, kernel and runner are needed")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Keeper{name: cfg.Name, fence: cfg.FenceTimeout, core: core, client: client, kernel: k, runner: r, log: logger, ctx: ctx}, nil
}
