package node

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/spec"
)

// Infinity is RLIM_INFINITY: no limit.
const Infinity = math.MaxUint64

// Rlimit is a soft and a hard limit, as getrlimit(2) returns them. The soft
// limit is the one enforced; the hard limit is the ceiling the soft limit can
// be raised to, and for CPU time the point where SIGKILL follows SIGXCPU.
type Rlimit struct {
	Soft uint64
	Hard uint64
}

// Unlimited is an Rlimit of Infinity for both values.
var Unlimited = Rlimit{Soft: Infinity, Hard: Infinity}

// Resource names one limit.
type Resource int

// The resources vproc limits. Times are in nanoseconds, sizes in bytes.
const (
	RCPU    Resource = iota // CPU time: SIGXCPU at soft, SIGKILL at hard
	RWall                   // wall-clock time since start: SIGKILL
	RNoFile                 // open descriptors: EMFILE
	RNProc                  // live child processes: EAGAIN from spawn
	RMem                    // memory held in IPC buffers and segments: ENOMEM
	RFSize                  // bytes written to output: SIGXFSZ, then EFBIG
	numResources
)

var resourceNames = [numResources]string{"cpu", "wall", "nofile", "nproc", "mem", "fsize"}

// String returns the name used in the limit grammar, such as "cpu".
func (r Resource) String() string {
	if r >= 0 && r < numResources {
		return resourceNames[r]
	}
	return "resource(" + strconv.Itoa(int(r)) + ")"
}

// ResourceLimits holds one Rlimit per Resource. A nil *ResourceLimits means
// every limit is unlimited.
type ResourceLimits [numResources]Rlimit

// NewLimits returns limits with every resource unlimited.
func NewLimits() *ResourceLimits {
	var l ResourceLimits
	for i := range l {
		l[i] = Unlimited
	}
	return &l
}

// Get returns the limit for r; a nil receiver gives Unlimited.
func (l *ResourceLimits) Get(r Resource) Rlimit {
	if l == nil {
		return Unlimited
	}
	return l[r]
}

// Clone returns a copy of l (nil stays nil).
func (l *ResourceLimits) Clone() *ResourceLimits {
	if l == nil {
		return nil
	}
	c := *l
	return &c
}

// ErrBadLimit is matched by every limit-syntax error (a *spec.SyntaxError,
// which also matches ipc.EINVAL).
var ErrBadLimit = spec.ErrBadLimit

// ParseLimits parses the limit grammar of package spec
//
//	cpu=2s[:5s],wall=1m,nofile=64,nproc=16,mem=64M,fsize=1M
//
// over base (nil means unlimited): each resource the items limit replaces
// base's, so that a repeated flag adds to earlier ones. A hard value of
// "unlimited" is Infinity; a resource left out, or "unlimited" as a whole,
// keeps base's limit.
func ParseLimits(base *ResourceLimits, items string) (*ResourceLimits, error) {
	parsed, err := spec.ParseLimits(items)
	if err != nil {
		return nil, err
	}
	out := base.Clone()
	if out == nil {
		out = NewLimits()
	}
	for r := range spec.Resource(spec.NumResources) {
		l := parsed.Get(r)
		if l == (spec.Limit{}) {
			continue
		}
		// The kernel's resources are the grammar's, in the same order.
		out[Resource(r)] = Rlimit{Soft: orInfinity(l.Soft), Hard: orInfinity(l.Hard)}
	}
	return out, nil
}

// orInfinity maps the grammar's 0, no limit, to Infinity.
func orInfinity(v uint64) uint64 {
	if v == 0 {
		return Infinity
	}
	return v
}

// String formats l in the limit grammar, leaving out unlimited resources.
func (l *ResourceLimits) String() string {
	if l == nil {
		return ""
	}
	var parts []string
	for r := Resource(0); r < numResources; r++ {
		lim := l[r]
		if lim == Unlimited {
			continue
		}
		s := r.String() + "=" + formatLimitValue(r, lim.Soft)
		if lim.Hard != lim.Soft {
			s += ":" + formatLimitValue(r, lim.Hard)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

func formatLimitValue(r Resource, v uint64) string {
	if v == Infinity {
		return "unlimited"
	}
	if r == RCPU || r == RWall {
		return time.Duration(v).String()
	}
	return strconv.FormatUint(v, 10)
}

// Inherit returns the limits of a child whose parent has parent and that asks
// for req (nil: the parent's own). A child may lower any limit and may raise a
// soft limit up to the parent's hard limit, never past it: that is EPERM, as
// setrlimit(2) gives an unprivileged process.
func Inherit(parent, req *ResourceLimits) (*ResourceLimits, error) {
	if req == nil {
		return parent, nil // shared: limits are never mutated in place
	}
	for r := Resource(0); r < numResources; r++ {
		p, c := parent.Get(r), req[r]
		if c.Soft > c.Hard {
			return nil, fmt.Errorf("%w: %s soft limit above hard limit", ipc.EINVAL, r)
		}
		if c.Hard > p.Hard {
			return nil, fmt.Errorf("%w: %s hard limit %s is above the parent's %s", ipc.EPERM, r,
				formatLimitValue(r, c.Hard), formatLimitValue(r, p.Hard))
		}
	}
	return req.Clone(), nil
}
