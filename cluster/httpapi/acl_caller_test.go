package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vproc/vproc/cluster/api"
)

func TestCallerOwnerForMayManage(t *testing.T) {
	req := func(p *principal) *http.Request {
		r := httptest.NewRequest("PUT", "/v1/programs/x", nil)
		if p != nil {
			r = r.WithContext(context.WithValue(r.Context(), principalKey{}, *p))
		}
		return r
	}
	forbidden := func(err error) bool {
		var ae *api.Error
		return errors.As(err, &ae) && ae.Code == api.CodeForbidden
	}
	cases := []struct {
		name       string
		p          *principal
		requested  string
		owner      string // OwnerFor's answer; "" when refused
		privileged bool
		manage     bool // may change alice's
	}{
		{"ACLs off", nil, "", "root", true, true},
		{"ACLs off, named owner", nil, "bob", "bob", true, true},
		{"alice", &principal{kind: user, user: "alice"}, "", "alice", false, true},
		{"alice names herself", &principal{kind: user, user: "alice"}, "alice", "alice", false, true},
		{"alice names bob", &principal{kind: user, user: "alice"}, "bob", "", false, true},
		{"bob", &principal{kind: user, user: "bob"}, "", "bob", false, false},
		{"management", &principal{kind: management, user: "root"}, "", "root", true, true},
		{"management names bob", &principal{kind: management, user: "root"}, "bob", "", true, true},
		{"a node", &principal{kind: agent, user: "n1"}, "carol", "carol", true, true},
	}
	for _, c := range cases {
		r := req(c.p)
		o, err := OwnerFor(r, c.requested)
		if c.owner == "" {
			if !forbidden(err) {
				t.Errorf("%s: OwnerFor = %q, %v; want forbidden", c.name, o, err)
			}
		} else if err != nil || o != c.owner {
			t.Errorf("%s: OwnerFor = %q, %v; want %q", c.name, o, err, c.owner)
		}
		if got := CallerOf(r).Privileged; got != c.privileged {
			t.Errorf("%s: privileged %v, want %v", c.name, got, c.privileged)
		}
		err = MayManage(r, "program x", "alice")
		if c.manage && err != nil || !c.manage && !forbidden(err) {
			t.Errorf("%s: MayManage of alice's: %v, want allowed %v", c.name, err, c.manage)
		}
	}
}
