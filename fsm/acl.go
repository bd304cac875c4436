package fsm

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/btree"
)

// Access control: the table holds the ACL tokens, so that every server
// answers for them alike and a token works on any node. A token names a
// user, is or is not a management token, and carries that user's quotas.
// The table never holds a secret: only its SHA-256, so that neither a
// snapshot nor a copy of the log lets anyone act as a user. The agent makes
// the secrets and the accessors (random 128-bit values) and hashes the
// secret a request presents to look its token up.
//
// Bootstrap creates the first management token; it is refused while any
// management token exists, and deleting the last management token is
// refused, so the cluster is bootstrapped once.

// ACLToken is a replicated ACL token.
type ACLToken struct {
	// Accessor is the token's public id, which lists and deletes name.
	Accessor string
	// SecretHash is the hex SHA-256 of the secret.
	SecretHash string
	// User owns what the token's requests create.
	User string
	// Management tokens may do everything.
	Management bool
	// Description is free text.
	Description string
	// MaxProcs and MaxIPC are the user's quotas of live processes and
	// IPC objects; 0 is unlimited. When a user has several tokens, the
	// smallest non-zero quota holds.
	MaxProcs int
	MaxIPC   int
	// CreatedAt (leader time) and CreateIndex say when it was made.
	CreatedAt   int64
	CreateIndex uint64
}

type tokenItem struct {
	accessor string
	t        *ACLToken
}

func lessToken(x, y tokenItem) bool { return x.accessor < y.accessor }

type secretItem struct{ hash, accessor string }

func lessSecret(x, y secretItem) bool { return x.hash < y.hash }

// ownerKey orders the live processes by owner: (owner, pid).
type ownerKey struct {
	owner string
	pid   uint64
}

func lessOwner(x, y ownerKey) bool {
	if x.owner != y.owner {
		return x.owner < y.owner
	}
	return x.pid < y.pid
}

// indexOwner keeps owned in step when a process record old is replaced by
// new (either may be nil).
func (s *state) indexOwner(old, new *Process) {
	live := func(p *Process) bool { return p != nil && p.PID != InitPID && p.State.Live() }
	if live(old) && live(new) && old.Owner == new.Owner {
		return // the key is there already
	}
	if live(old) {
		s.owned.Delete(ownerKey{old.Owner, old.PID})
	}
	if live(new) {
		s.owned.ReplaceOrInsert(ownerKey{new.Owner, new.PID})
	}
}

// countOwned counts the live processes of owner, stopping at limit.
func (s *state) countOwned(owner string, limit int) int {
	n := 0
	s.owned.AscendGreaterOrEqual(ownerKey{owner: owner}, func(k ownerKey) bool {
		if k.owner != owner {
			return false
		}
		n++
		return n < limit
	})
	return n
}

// countObjects counts the IPC names owner holds, stopping at limit.
func (s *state) countObjects(owner string, limit int) int {
	n := 0
	s.objects.Ascend(func(it objItem) bool {
		if it.o.Owner == owner {
			n++
		}
		return n < limit
	})
	return n
}

// quotas returns user's quotas: the smallest non-zero one of each kind
// among the user's tokens (0: unlimited).
func (s *state) quotas(user string) (procs, objs int) {
	s.tokens.Ascend(func(it tokenItem) bool {
		t := it.t
		if t.User != user || t.Management {
			return true
		}
		if t.MaxProcs > 0 && (procs == 0 || t.MaxProcs < procs) {
			procs = t.MaxProcs
		}
		if t.MaxIPC > 0 && (objs == 0 || t.MaxIPC < objs) {
			objs = t.MaxIPC
		}
		return true
	})
	return procs, objs
}

// checkProcQuota refuses a new live process for owner past its quota.
func (s *state) checkProcQuota(owner string) error {
	if s.tokens.Len() == 0 {
		return nil
	}
	max, _ := s.quotas(owner)
	if max > 0 && s.countOwned(owner, max) >= max {
		return &Error{Err: ErrQuotaExceeded, Detail: fmt.Sprintf("user %s has %d live processes, the most its quota allows", owner, max)}
	}
	return nil
}

// checkIPCQuota refuses a new IPC name for owner past its quota.
func (s *state) checkIPCQuota(owner string) error {
	if s.tokens.Len() == 0 {
		return nil
	}
	_, max := s.quotas(owner)
	if max > 0 && s.countObjects(owner, max) >= max {
		return &Error{Err: ErrQuotaExceeded, Detail: fmt.Sprintf("user %s holds %d IPC objects, the most its quota allows", owner, max)}
	}
	return nil
}

func (s *state) managementTokens() int {
	n := 0
	s.tokens.Ascend(func(it tokenItem) bool {
		if it.t.Management {
			n++
		}
		return true
	})
	return n
}

// validToken checks the fields of a token to be created.
func validToken(t *ACLToken) error {
	switch {
	case t.Accessor == "" || len(t.Accessor) > 128:
		return &Error{Err: ErrInvalid, Detail: "token accessor is empty or too long"}
	case len(t.SecretHash) != 64:
		return &Error{Err: ErrInvalid, Detail: "token secret hash is not a hex SHA-256"}
	case !validUser(t.User):
		return &Error{Err: ErrInvalid, Detail: fmt.Sprintf("bad user name %q", t.User)}
	case t.MaxProcs < 0 || t.MaxIPC < 0:
		return &Error{Err: ErrInvalid, Detail: "negative quota"}
	case len(t.Description) > 256:
		return &Error{Err: ErrInvalid, Detail: "description over 256 bytes"}
	}
	if _, err := hex.DecodeString(t.SecretHash); err != nil {
		return &Error{Err: ErrInvalid, Detail: "token secret hash is not hex"}
	}
	return nil
}

// validUser reports whether name can own processes: 1 to 64 bytes of
// letters, digits, '-', '_' and '.', not starting with '-'.
func validUser(name string) bool {
	if name == "" || len(name) > 64 || strings.HasPrefix(name, "-") {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}

func (a *applier) putToken(t *ACLToken) *Result {
	s := a.s
	if err := validToken(t); err != nil {
		return fail(err)
	}
	if _, ok := s.tokens.Get(tokenItem{accessor: t.Accessor}); ok {
		return failf(ErrNameExists, "token %s", t.Accessor)
	}
	if _, ok := s.secrets.Get(secretItem{hash: t.SecretHash}); ok {
		return failf(ErrNameExists, "token secret")
	}
	nt := *t
	nt.CreatedAt = s.clock
	nt.CreateIndex = a.index
	s.tokens.ReplaceOrInsert(tokenItem{accessor: nt.Accessor, t: &nt})
	s.secrets.ReplaceOrInsert(secretItem{hash: nt.SecretHash, accessor: nt.Accessor})
	return &Result{}
}

func (a *applier) aclBootstrap(c *ACLBootstrap) *Result {
	a.advance(c.Now)
	if a.s.managementTokens() > 0 {
		return failf(ErrPermission, "ACLs are bootstrapped already")
	}
	t := c.Token
	t.Management = true
	return a.putToken(&t)
}

func (a *applier) aclTokenCreate(c *ACLTokenCreate) *Result {
	a.advance(c.Now)
	return a.putToken(&c.Token)
}

func (a *applier) aclTokenDelete(c *ACLTokenDelete) *Result {
	s := a.s
	it, ok := s.tokens.Get(tokenItem{accessor: c.Accessor})
	if !ok {
		return failf(ErrNoSuchName, "token %s", c.Accessor)
	}
	if it.t.Management && s.managementTokens() == 1 {
		return failf(ErrPermission, "the last management token cannot be deleted")
	}
	s.tokens.Delete(it)
	s.secrets.Delete(secretItem{hash: it.t.SecretHash})
	return &Result{}
}

// TokenBySecretHash returns the token whose secret hashes to hash (hex
// SHA-256).
func (v *View) TokenBySecretHash(hash string) (ACLToken, bool) {
	sit, ok := v.s.secrets.Get(secretItem{hash: hash})
	if !ok {
		return ACLToken{}, false
	}
	it, ok := v.s.tokens.Get(tokenItem{accessor: sit.accessor})
	if !ok {
		return ACLToken{}, false
	}
	return *it.t, true
}

// Tokens returns every ACL token, by accessor.
func (v *View) Tokens() []ACLToken {
	out := make([]ACLToken, 0, v.s.tokens.Len())
	v.s.tokens.Ascend(func(it tokenItem) bool {
		out = append(out, *it.t)
		return true
	})
	return out
}

// ACLBootstrapped reports whether a management token exists.
func (v *View) ACLBootstrapped() bool { return v.s.managementTokens() > 0 }

// LiveProcsOf returns how many live processes owner has.
func (v *View) LiveProcsOf(owner string) int { return v.s.countOwned(owner, int(^uint(0)>>1)) }

func newACLTrees() (*btree.BTreeG[tokenItem], *btree.BTreeG[secretItem], *btree.BTreeG[ownerKey]) {
	return btree.NewG(btreeDegree, lessToken), btree.NewG(btreeDegree, lessSecret), btree.NewG(btreeDegree, lessOwner)
}

// ACLBootstrap creates the first management token. It is refused
// (ErrPermission) while a management token exists.
type ACLBootstrap struct {
	Token ACLToken
	Now   int64
}

// Type returns TypeACLBootstrap.
func (c *ACLBootstrap) Type() Type { return TypeACLBootstrap }

func (c *ACLBootstrap) encodeBody(e *encoder) {
	e.byte(1)
	e.token(&c.Token)
	e.int(c.Now)
}

func decodeACLBootstrap(d *decoder) Command {
	d.version(1, "acl-bootstrap")
	c := &ACLBootstrap{}
	d.token(&c.Token)
	c.Now = d.int()
	return c
}

// ACLTokenCreate creates a token. Its accessor and secret must be new.
type ACLTokenCreate struct {
	Token ACLToken
	Now   int64
}

// Type returns TypeACLTokenCreate.
func (c *ACLTokenCreate) Type() Type { return TypeACLTokenCreate }

func (c *ACLTokenCreate) encodeBody(e *encoder) {
	e.byte(1)
	e.token(&c.Token)
	e.int(c.Now)
}

func decodeACLTokenCreate(d *decoder) Command {
	d.version(1, "acl-token-create")
	c := &ACLTokenCreate{}
	d.token(&c.Token)
	c.Now = d.int()
	return c
}

// ACLTokenDelete deletes a token by its accessor.
type ACLTokenDelete struct {
	Accessor string
}

// Type returns TypeACLTokenDelete.
func (c *ACLTokenDelete) Type() Type { return TypeACLTokenDelete }

func (c *ACLTokenDelete) encodeBody(e *encoder) {
	e.byte(1)
	e.str(c.Accessor)
}

func decodeACLTokenDelete(d *decoder) Command {
	d.version(1, "acl-token-delete")
	return &ACLTokenDelete{Accessor: d.str()}
}

// token encodes a token: as a command's body and as a snapshot record.
func (e *encoder) token(t *ACLToken) {
	e.byte(1)
	e.str(t.Accessor)
	e.str(t.SecretHash)
	e.str(t.User)
	e.bool(t.Management)
	e.str(t.Description)
	e.int(int64(t.MaxProcs))
	e.int(int64(t.MaxIPC))
	e.int(t.CreatedAt)
	e.uint(t.CreateIndex)
}

func (d *decoder) token(t *ACLToken) {
	d.version(1, "acl-token")
	t.Accessor = d.str()
	t.SecretHash = d.str()
	t.User = d.str()
	t.Management = d.bool()
	t.Description = d.str()
	t.MaxProcs = d.smallInt()
	t.MaxIPC = d.smallInt()
	t.CreatedAt = d.int()
	t.CreateIndex = d.uint()
}

// mayKill keeps the members a kill from process sender may signal, as
// kill(2) with credentials(7): those of its own owner, or all of them for
// root. It applies once the table holds ACL tokens, so that a log written
// before ACLs replays as it did; a kill from a client (sender 0) was
// checked by the agent that took it.
func (a *applier) mayKill(sender uint64, members []uint64) []uint64 {
	s := a.s
	if sender <= InitPID || s.tokens.Len() == 0 {
		return members
	}
	sp := s.proc(sender)
	if sp == nil || sp.Owner == "root" {
		return members
	}
	out := members[:0]
	for _, pid := range members {
		if p := s.proc(pid); p != nil && p.Owner == sp.Owner {
			out = append(out, pid)
		}
	}
	return out
}
