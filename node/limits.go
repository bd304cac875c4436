package node

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vproc/vproc/ipc"
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

// ErrBadLimit is wrapped by every limit-syntax error.
var ErrBadLimit = errors.New("bad limit")

// LimitError describes a malformed limit specification. It matches ErrBadLimit
// and ipc.EINVAL with errors.Is.
type LimitError struct {
	Input  string
	Reason string
}

// Error describes the malformed item and what is wrong with it.
func (e *LimitError) Error() string { return fmt.Sprintf("bad limit %q: %s", e.Input, e.Reason) }

// Is reports whether target is ErrBadLimit or ipc.EINVAL.
func (e *LimitError) Is(target error) bool { return target == ErrBadLimit || target == ipc.EINVAL }

// ParseLimits parses the limit grammar
//
//	cpu=2s[:5s],wall=1m,nofile=64,nproc=16,mem=64M,fsize=1M
//
// Each item is soft[:hard]; without a hard value the hard limit equals the
// soft one. Times take Go durations (500ms, 2s, 1m, 1h); sizes take a plain
// byte count or K, M, G, T suffixes (powers of 1024, optionally followed by
// "iB" or "B"); "unlimited" and "inf" mean Infinity. Items start from base
// (nil means unlimited), so that a repeated flag adds to earlier ones.
func ParseLimits(base *ResourceLimits, spec string) (*ResourceLimits, error) {
	out := base.Clone()
	if out == nil {
		out = NewLimits()
	}
	if strings.TrimSpace(spec) == "" {
		return out, nil
	}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		name, val, ok := strings.Cut(item, "=")
		if !ok || name == "" || val == "" {
			return nil, &LimitError{item, "want name=soft[:hard]"}
		}
		r := Resource(-1)
		for i, n := range resourceNames {
			if n == strings.ToLower(name) {
				r = Resource(i)
			}
		}
		if r < 0 {
			return nil, &LimitError{item, "unknown resource " + strconv.Quote(name) + " (want cpu, wall, nofile, nproc, mem or fsize)"}
		}
		softS, hardS, hasHard := strings.Cut(val, ":")
		soft, err := parseLimitValue(r, softS)
		if err != nil {
			return nil, &LimitError{item, err.Error()}
		}
		hard := soft
		if hasHard {
			if hard, err = parseLimitValue(r, hardS); err != nil {
				return nil, &LimitError{item, err.Error()}
			}
		}
		if soft > hard {
			return nil, &LimitError{item, "soft limit above hard limit"}
		}
		out[r] = Rlimit{Soft: soft, Hard: hard}
	}
	return out, nil
}

func parseLimitValue(r Resource, s string) (uint64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "unlimited", "inf", "infinity":
		return Infinity, nil
	case "":
		return 0, errors.New("empty value")
	}
	switch r {
	case RCPU, RWall:
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		if d < 0 {
			return 0, errors.New("negative duration")
		}
		return uint64(d), nil
	case RMem, RFSize:
		return parseSize(s)
	default:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad count %q", s)
		}
		return n, nil
	}
}

func parseSize(s string) (uint64, error) {
	num := strings.TrimRight(s, "KMGTkmgtiBb")
	suffix := strings.ToUpper(s[len(num):])
	suffix = strings.TrimSuffix(strings.TrimSuffix(suffix, "B"), "I")
	var mult uint64 = 1
	switch suffix {
	case "":
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	case "T":
		mult = 1 << 40
	default:
		return 0, fmt.Errorf("bad size suffix in %q", s)
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q", s)
	}
	if n > math.MaxUint64/mult {
		return 0, fmt.Errorf("size %q overflows", s)
	}
	return n * mult, nil
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
