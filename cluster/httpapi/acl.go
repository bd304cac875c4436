package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/cluster/mtls"
	"github.com/vproc/vproc/fsm"
)

// Access control (package api's acl.go lists the rules a client sees). The
// authorize middleware finds who a request comes from and refuses a route
// the caller may not use; the handlers check, per process or IPC object,
// that the caller owns it (mayAccess, ownerFor). With ACLs off every
// request is let through as today.

// ACL configures the access control of a Server.
type ACL struct {
	// Enabled turns access control on.
	Enabled bool
	// AgentToken is the secret the nodes of the cluster present to each
	// other (HeaderToken) on node-to-node routes when they have no
	// certificate that names them. Empty: none is accepted.
	AgentToken string
	// NodeCerts says that TLS is on: a request whose verified client
	// certificate names a node (mtls.PeerNode, recorded by peerIdentity)
	// comes from that node's agent.
	NodeCerts bool
}

// principalKind says what a request may do.
type principalKind int

const (
	anonymous  principalKind = iota // no token: only the public routes
	user                            // a user's token: its own processes and objects
	management                      // a management token: everything
	agent                           // a node of the cluster: node traffic, and it acts for users
	open                            // ACLs are off: everything, as before ACLs
)

// principal is who a request comes from.
type principal struct {
	kind principalKind
	user string // the token's user; the node's name for an agent
}

// privileged reports whether p may act on what others own.
func (p principal) privileged() bool {
	return p.kind == management || p.kind == agent || p.kind == open
}

// routeLevel is what a route asks of its caller.
type routeLevel int

const (
	levelPublic routeLevel = iota
	levelUser
	levelNode
	levelManagement
)

type principalKey struct{}

// principalOf returns who r comes from, as authorize found it.
func principalOf(r *http.Request) principal {
	if p, ok := r.Context().Value(principalKey{}).(principal); ok {
		return p
	}
	return principal{kind: open}
}

// levelOf returns what the route of r asks of its caller.
func levelOf(r *http.Request) routeLevel {
	p := path.Clean("/" + r.URL.Path)
	switch {
	case p == "/v1/health" && r.Method == http.MethodGet,
		p == "/v1/acl/bootstrap":
		return levelPublic
	case strings.HasPrefix(p, "/v1/internal/"):
		return levelNode
	case p == "/v1/operator/keyring" && r.URL.Query().Get("local") == "true":
		// One node's own keyring: the fan-out of the node that took a
		// management request (see keyring_endpoint.go) is node traffic.
		return levelNode
	case p == "/v1/snapshot", strings.HasPrefix(p, "/v1/operator/"),
		p == "/v1/acl/tokens", strings.HasPrefix(p, "/v1/acl/tokens/"),
		strings.HasPrefix(p, "/debug/"):
		return levelManagement
	}
	return levelUser
}

// allows reports whether p may use a route of level l.
func (p principal) allows(l routeLevel) bool {
	switch l {
	case levelPublic:
		return true
	case levelUser:
		return p.kind != anonymous
	case levelNode:
		return p.kind == agent || p.kind == management || p.kind == open
	}
	return p.kind == management || p.kind == open
}

// forbidden is the 403 answer.
func forbidden(format string, args ...any) error {
	return &httpError{http.StatusForbidden, api.CodeForbidden, fmt.Sprintf(format, args...)}
}

// hashSecret returns the hex SHA-256 of a token's secret, the table's key.
func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// identify finds who r comes from.
func (s *Server) identify(r *http.Request) (principal, error) {
	if s.acl.NodeCerts && r.Header.Get(api.HeaderToken) == "" && r.Header.Get(api.HeaderProxied) == "" {
		if n, ok := mtls.PeerNode(r.Context()); ok {
			if h := r.Header.Get(api.HeaderNode); h != "" && h != n {
				return principal{}, forbidden("the certificate names node %s, the request %s", n, h)
			}
			return principal{kind: agent, user: n}, nil
		}
	}
	secret := r.Header.Get(api.HeaderToken)
	if secret == "" {
		return principal{kind: anonymous}, nil
	}
	if s.acl.AgentToken != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(s.acl.AgentToken)) == 1 {
		return principal{kind: agent, user: r.Header.Get(api.HeaderNode)}, nil
	}
	t, ok, err := s.lookupToken(r, hashSecret(secret))
	if err != nil {
		return principal{}, err
	}
	if !ok {
		return principal{}, forbidden("ACL token not found")
	}
	if t.Management {
		return principal{kind: management, user: t.User}, nil
	}
	return principal{kind: user, user: t.User}, nil
}

// lookupToken finds the token whose secret hashes to hash: in the local
// table, and on a follower that does not know it, in the table once it has
// caught up with the leader, so that a token is good on every node as soon
// as its creation has been answered. A follower that cannot catch up
// answers with that error (503: the client retries), not with a refusal.
func (s *Server) lookupToken(r *http.Request, hash string) (fsm.ACLToken, bool, error) {
	if t, ok := s.core.LocalView().TokenBySecretHash(hash); ok || s.core.IsLeader() {
		return t, ok, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), catchUpTimeout)
	defer cancel()
	v, err := s.client.SyncedView(ctx)
	if err != nil {
		if errors.Is(err, commit.ErrUnknownOutcome) {
			err = fmt.Errorf("%w: %v", context.DeadlineExceeded, err) // a read: nothing to be unsure of
		}
		return fsm.ACLToken{}, false, err
	}
	t, ok := v.TokenBySecretHash(hash)
	return t, ok, nil
}

// authorize refuses a request whose caller may not use its route, and
// passes on who the caller is. With ACLs off it changes nothing.
func (s *Server) authorize(next http.Handler) http.Handler {
	if !s.acl.Enabled {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.identify(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if l := levelOf(r); !p.allows(l) {
			switch {
			case p.kind == anonymous:
				err = forbidden("an ACL token is needed (%s)", api.HeaderToken)
			case l == levelNode:
				err = forbidden("node traffic needs the agent token or a node certificate")
			default:
				err = forbidden("a management token is needed")
			}
			s.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// mayAccess refuses access to a process that r's caller does not own:
// signals, waits, logs, stdin and the env take its owner or a management
// token.
func (s *Server) mayAccess(r *http.Request, p *fsm.Process) error {
	who := principalOf(r)
	if who.privileged() || who.user == p.Owner {
		return nil
	}
	return forbidden("pid %d belongs to %s, not %s", p.PID, p.Owner, who.user)
}

// ownerFor returns the owner of what r creates. With ACLs on it is the
// user of r's token, and a request that names another owner is refused;
// with ACLs off it is the one the request names, or root.
func (s *Server) ownerFor(r *http.Request, requested string) (string, error) {
	who := principalOf(r)
	if who.kind == open {
		return ownerOr(requested), nil
	}
	if who.kind == agent {
		// A node acts for the processes it runs, which name their owner.
		return ownerOr(requested), nil
	}
	if requested != "" && requested != who.user {
		return "", forbidden("the owner is the user of the request's token (%s), not %s", who.user, requested)
	}
	return who.user, nil
}

// mayRemove refuses to unlink an IPC name that r's caller does not own.
func (s *Server) mayRemove(r *http.Request, kind fsm.Kind, name string) error {
	who := principalOf(r)
	if who.privileged() {
		return nil
	}
	o, ok := s.core.LocalView().Object(kind, name)
	if ok && o.Owner != who.user {
		return forbidden("%s %s belongs to %s, not %s", kind, name, o.Owner, who.user)
	}
	return nil
}

// opener is the user an IPC open through the API is checked as against
// the object's mode: root with ACLs off or a management token, else the
// token's user.
func (s *Server) opener(r *http.Request) string {
	who := principalOf(r)
	if who.privileged() {
		return "root"
	}
	return who.user
}

// mayReadLogs refuses the logs or stdin of a process r's caller does not
// own. found says whether p is in the table; the logs of a reaped process,
// whose owner is no longer known, take a privileged caller.
func (s *Server) mayReadLogs(r *http.Request, pid uint64, p *fsm.Process, found bool) error {
	if found {
		return s.mayAccess(r, p)
	}
	if !principalOf(r).privileged() && s.logs.Has(pid) {
		return forbidden("pid %d has been reaped; its logs take a management token", pid)
	}
	return nil
}

// mayKill refuses a kill of a target r's caller does not own: a PID it does
// not own, or a group with a member it does not own. Targets not in the
// table are left to the table to answer.
func (s *Server) mayKill(r *http.Request, targets []int64) error {
	if principalOf(r).privileged() {
		return nil
	}
	v := s.core.LocalView()
	for _, t := range targets {
		if t > 0 {
			if p, ok := v.Get(uint64(t)); ok {
				if err := s.mayAccess(r, &p); err != nil {
					return err
				}
			}
			continue
		}
		var err error
		v.Walk(fsm.Filter{Pgid: uint64(-t)}, func(p *fsm.Process) bool {
			err = s.mayAccess(r, p)
			return err == nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// aclRoutes registers the ACL routes.
func (s *Server) aclRoutes(mux *http.ServeMux) {
	mux.Handle("/v1/acl/bootstrap", methods{http.MethodPost: s.leaderOnly(s.wrap(s.handleACLBootstrap), true)})
	mux.Handle("/v1/acl/tokens", methods{
		http.MethodPost: s.leaderOnly(s.wrap(s.handleACLTokenCreate), true),
		http.MethodGet:  s.leaderOnly(s.wrap(s.handleACLTokenList), false),
	})
	mux.Handle("/v1/acl/tokens/{accessor}", methods{http.MethodDelete: s.leaderOnly(s.wrap(s.handleACLTokenDelete), true)})
	mux.Handle("/v1/acl/token/self", methods{http.MethodGet: s.wrap(s.handleACLTokenSelf)})
}

// newUUID returns 128 random bits in the UUID form.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// newToken makes the accessor and secret of a token.
func newToken(req *api.ACLTokenRequest) (fsm.ACLToken, string, error) {
	acc, err := newUUID()
	if err != nil {
		return fsm.ACLToken{}, "", err
	}
	secret, err := newUUID()
	if err != nil {
		return fsm.ACLToken{}, "", err
	}
	t := fsm.ACLToken{
		Accessor:    acc,
		SecretHash:  hashSecret(secret),
		User:        req.User,
		Description: req.Description,
		MaxProcs:    req.MaxProcs,
		MaxIPC:      req.MaxIPC,
	}
	for _, p := range req.Policies {
		switch p {
		case api.PolicyManagement:
			t.Management = true
		default:
			return fsm.ACLToken{}, "", badRequest("unknown policy %q: the policies are %q", p, api.PolicyManagement)
		}
	}
	return t, secret, nil
}

func apiToken(t *fsm.ACLToken, secret string) api.ACLToken {
	out := api.ACLToken{
		AccessorID:  t.Accessor,
		SecretID:    secret,
		User:        t.User,
		Policies:    []string{},
		Description: t.Description,
		MaxProcs:    t.MaxProcs,
		MaxIPC:      t.MaxIPC,
		CreatedAt:   unixTime(t.CreatedAt),
		CreateIndex: t.CreateIndex,
	}
	if t.Management {
		out.Policies = append(out.Policies, api.PolicyManagement)
	}
	return out
}

func (s *Server) submitToken(r *http.Request, cmd fsm.Command, t *fsm.ACLToken, secret string) (any, error) {
	res, err := s.core.Submit(r.Context(), nil, cmd)
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return nil, domainError(res.Err)
	}
	t.CreateIndex = res.Index
	if v := s.core.LocalView(); v != nil {
		if got, ok := v.TokenBySecretHash(t.SecretHash); ok {
			*t = got
		}
	}
	return apiToken(t, secret), nil
}

func (s *Server) handleACLBootstrap(w http.ResponseWriter, r *http.Request) (any, error) {
	if !s.acl.Enabled {
		return nil, badRequest("ACLs are off on this agent (--acl-enabled)")
	}
	t, secret, err := newToken(&api.ACLTokenRequest{User: "root", Description: "bootstrap management token"})
	if err != nil {
		return nil, err
	}
	t.Management = true
	return s.submitToken(r, &fsm.ACLBootstrap{Token: t, Now: time.Now().UnixNano()}, &t, secret)
}

func (s *Server) handleACLTokenCreate(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.ACLTokenRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return nil, err
	}
	t, secret, err := newToken(&req)
	if err != nil {
		return nil, err
	}
	if t.User == "root" && !t.Management {
		return nil, badRequest("user root is kept for management tokens")
	}
	return s.submitToken(r, &fsm.ACLTokenCreate{Token: t, Now: time.Now().UnixNano()}, &t, secret)
}

func (s *Server) handleACLTokenList(w http.ResponseWriter, r *http.Request) (any, error) {
	v := s.core.LocalView()
	out := api.ACLTokenList{Tokens: []api.ACLToken{}, Index: v.Index()}
	for _, t := range v.Tokens() {
		out.Tokens = append(out.Tokens, apiToken(&t, ""))
	}
	return out, nil
}

func (s *Server) handleACLTokenSelf(w http.ResponseWriter, r *http.Request) (any, error) {
	secret := r.Header.Get(api.HeaderToken)
	if secret == "" {
		return nil, badRequest("no token (%s)", api.HeaderToken)
	}
	t, ok, err := s.lookupToken(r, hashSecret(secret))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, forbidden("ACL token not found")
	}
	return apiToken(&t, ""), nil
}

func (s *Server) handleACLTokenDelete(w http.ResponseWriter, r *http.Request) (any, error) {
	res, err := s.core.Submit(r.Context(), nil, &fsm.ACLTokenDelete{Accessor: r.PathValue("accessor")})
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return nil, domainError(res.Err)
	}
	return struct{}{}, nil
}
