package httpapi

import (
	"fmt"
	"net/http"

	"github.com/vproc/vproc/cluster/api"
)

// Caller is who a request served under the Server's routes comes from, for
// the handlers that other packages mount on them (package programs).
type Caller struct {
	// User is the user of the request's token; the node's name for a
	// node's own traffic; empty with ACLs off or without a token.
	User string
	// Privileged says that the caller may act on what others own: ACLs
	// are off, or the token is a management token, or the request is a
	// node's own traffic.
	Privileged bool
}

// CallerOf returns who r comes from, as the Server's access control found
// it before the handler ran.
func CallerOf(r *http.Request) Caller {
	p := principalOf(r)
	return Caller{User: p.user, Privileged: p.privileged()}
}

// OwnerFor returns the owner of what r creates: with ACLs on, the user of
// r's token (a request that names another is refused with an *api.Error of
// code api.CodeForbidden); with ACLs off, the one the request names, or
// root.
func OwnerFor(r *http.Request, requested string) (string, error) {
	p := principalOf(r)
	if p.kind == open || p.kind == agent {
		return ownerOr(requested), nil
	}
	if requested != "" && requested != p.user {
		return "", &api.Error{Code: api.CodeForbidden, Message: fmt.Sprintf("the owner is the user of the request's token (%s), not %s", p.user, requested)}
	}
	return p.user, nil
}

// MayManage refuses, with an *api.Error of code api.CodeForbidden, a
// change by r's caller to something owned by owner that the caller does
// not own and may not manage.
func MayManage(r *http.Request, what, owner string) error {
	c := CallerOf(r)
	if c.Privileged || c.User == owner {
		return nil
	}
	return &api.Error{Code: api.CodeForbidden, Message: fmt.Sprintf("%s belongs to %s, not %s: it takes its owner or a management token", what, owner, c.User)}
}
