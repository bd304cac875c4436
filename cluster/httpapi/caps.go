package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

// checkSpawnCaps refuses a spawn that would store or cost more than the
// caps of package api allow (MaxArgBytes, MaxArgvEnvBytes, MaxNameBytes),
// or that holds a NUL byte in any string: a spawn from a client and one a
// process makes through its node are checked alike, before they reach the
// log.
func checkSpawnCaps(sp *fsm.Spawn) error {
	s := &sp.Spec
	names := []struct{ what, v string }{
		{"command", s.Command}, {"owner", sp.Owner}, {"node", s.Node}, {"cwd", s.Cwd},
	}
	for _, n := range names {
		if err := checkName(n.what, n.v); err != nil {
			return err
		}
	}
	for i, c := range s.Constraints {
		if err := checkName(fmt.Sprintf("constraint %d label", i), c.Label); err != nil {
			return err
		}
		if err := checkName(fmt.Sprintf("constraint %d value", i), c.Value); err != nil {
			return err
		}
	}
	for i, u := range s.Uses {
		if err := checkName(fmt.Sprintf("use %d", i), u.Name); err != nil {
			return err
		}
	}
	total := 0
	for _, list := range []struct {
		what string
		v    []string
	}{{"argument", s.Args}, {"env entry", s.Env}} {
		for i, a := range list.v {
			if len(a) > api.MaxArgBytes {
				return tooLarge("%s %d is %d bytes; the limit is %d (MAX_ARG_STRLEN)", list.what, i, len(a), api.MaxArgBytes)
			}
			if strings.IndexByte(a, 0) >= 0 {
				return badRequest("%s %d holds a NUL byte", list.what, i)
			}
			total += len(a) + 1
		}
	}
	if total += len(s.Command) + 1; total > api.MaxArgvEnvBytes {
		return tooLarge("arguments and environment are %d bytes; the limit is %d", total, api.MaxArgvEnvBytes)
	}
	return nil
}

// checkName refuses a name over MaxNameBytes or with a NUL byte.
func checkName(what, v string) error {
	if len(v) > api.MaxNameBytes {
		return tooLarge("%s is %d bytes; the limit is %d", what, len(v), api.MaxNameBytes)
	}
	if strings.IndexByte(v, 0) >= 0 {
		return badRequest("%s holds a NUL byte", what)
	}
	return nil
}

// tooLarge is a 413 naming the limit.
func tooLarge(format string, args ...any) error {
	return &httpError{http.StatusRequestEntityTooLarge, api.CodeTooLarge, fmt.Sprintf(format, args...)}
}
