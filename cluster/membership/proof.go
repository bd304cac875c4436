package membership

import (
	"context"
	"sync"
	"time"
)

// Join proof. With TLS on, gossip alone proves nothing about a member: the
// leader adds a member to raft, and to the table where placement finds it,
// only once the member proved its identity (ServersConfig.Prove: with TLS,
// a handshake with the member's raft listener whose certificate names the
// member). A bootstrapping server counts only proven servers, too. With a
// gossip key, memberlist already refuses a member that does not know a key
// of the ring (keyring.go), so gossip membership is the proof and Prove is
// nil.

// proofTTL is how long a proof holds before the member proves itself
// again; a failed proof is retried at the next reconcile.
const proofTTL = 10 * time.Minute

// proofs remembers which members proved themselves at which raft address.
type proofs struct {
	mu     sync.Mutex // guards ok and failed
	ok     map[string]proof
	failed map[string]int // member → failed proofs in a row
}

type proof struct {
	addr string
	at   time.Time
}

// proven reports whether member name proved itself at raftAddr, asking it
// to when it has not done so recently. Without Prove every member counts
// as proven.
func (mg *Manager) proven(ctx context.Context, name, raftAddr string) bool {
	if mg.cfg.Prove == nil || name == mg.cfg.Name {
		return true
	}
	mg.proofs.mu.Lock()
	p, ok := mg.proofs.ok[name]
	mg.proofs.mu.Unlock()
	if ok && p.addr == raftAddr && time.Since(p.at) < proofTTL {
		return true
	}
	pctx, cancel := context.WithTimeout(ctx, proofTimeout)
	err := mg.cfg.Prove(pctx, name, raftAddr)
	cancel()
	mg.proofs.mu.Lock()
	defer mg.proofs.mu.Unlock()
	if mg.proofs.ok == nil {
		mg.proofs.ok, mg.proofs.failed = make(map[string]proof), make(map[string]int)
	}
	if err != nil {
		if mg.proofs.failed[name] == 0 {
			mg.logger.Warn("member did not prove its identity: not adding it", "member", name, "raft_addr", raftAddr, "error", err)
		}
		mg.proofs.failed[name]++
		delete(mg.proofs.ok, name)
		return false
	}
	delete(mg.proofs.failed, name)
	mg.proofs.ok[name] = proof{addr: raftAddr, at: time.Now()}
	return true
}

// Unproven returns the members whose latest proof failed, with the number
// of proofs in a row they failed: gossip members the leader keeps out of
// raft and the table.
func (mg *Manager) Unproven() map[string]int {
	mg.proofs.mu.Lock()
	defer mg.proofs.mu.Unlock()
	out := make(map[string]int, len(mg.proofs.failed))
	for k, v := range mg.proofs.failed {
		out[k] = v
	}
	return out
}

// proofTimeout bounds one proof.
const proofTimeout = 5 * time.Second
