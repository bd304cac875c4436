package spec

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Resource names one limit.
type Resource int

// The resources a spawn may limit (docs/design.md, "Unix semantics, limits and
// capabilities"). Times are in
// nanoseconds, sizes in bytes.
const (
	CPU    Resource = iota // CPU time: SIGXCPU at soft, SIGKILL at hard
	Wall                   // wall-clock time since start: SIGKILL
	NoFile                 // open descriptors: EMFILE
	NProc                  // live child processes: EAGAIN
	Mem                    // memory held in IPC buffers and segments: ENOMEM
	FSize                  // bytes written to files: SIGXFSZ, then EFBIG

	// NumResources is the number of resources.
	NumResources = int(FSize) + 1
)

var resourceNames = [NumResources]string{"cpu", "wall", "nofile", "nproc", "mem", "fsize"}

// String returns the resource's name in the limit grammar, such as "cpu".
func (r Resource) String() string {
	if r >= 0 && int(r) < NumResources {
		return resourceNames[r]
	}
	return "resource(" + strconv.Itoa(int(r)) + ")"
}

// ParseResource parses a resource name, in any case.
func ParseResource(name string) (Resource, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for i, n := range resourceNames {
		if n == name {
			return Resource(i), true
		}
	}
	return 0, false
}

// Limit is a soft and a hard limit, as in getrlimit(2). 0 means no limit of
// its own: in the table, the parent's.
type Limit struct {
	Soft uint64
	Hard uint64
}

// Limits are a process's resource limits, one Limit per Resource. The zero
// value limits nothing.
type Limits struct {
	CPU    Limit // CPU time, nanoseconds: SIGXCPU at soft, SIGKILL at hard
	Wall   Limit // wall time, nanoseconds
	NoFile Limit // open descriptors: EMFILE
	NProc  Limit // child processes: EAGAIN
	Mem    Limit // bytes of IPC buffers and segments: ENOMEM
	FSize  Limit // bytes written to files: SIGXFSZ/EFBIG
}

// Ref returns a pointer to the limit of r, which must be a Resource.
func (l *Limits) Ref(r Resource) *Limit {
	switch r {
	case CPU:
		return &l.CPU
	case Wall:
		return &l.Wall
	case NoFile:
		return &l.NoFile
	case NProc:
		return &l.NProc
	case Mem:
		return &l.Mem
	case FSize:
		return &l.FSize
	}
	panic("spec: resource " + strconv.Itoa(int(r)) + " out of range")
}

// Get returns the limit of r.
func (l Limits) Get(r Resource) Limit { return *l.Ref(r) }

// ParseLimits parses the limit grammar
//
//	cpu=2s[:5s],wall=1m,nofile=64,nproc=16,mem=64M,fsize=1M
//
// Each item is name=soft[:hard]; without a hard value the hard limit equals
// the soft one. Times take durations (ParseDuration), sizes take sizes
// (ParseSize), counts take plain numbers. "unlimited" (or "inf",
// "infinity") is no limit, and may stand for the hard value only, as in
// nofile=64:unlimited. A limit of 0 is an error: leave the resource out for
// no limit.
//
// Each argument is one comma-separated list, as one --limit flag gives it;
// a later item replaces an earlier one for the same resource, so repeated
// flags add up.
func ParseLimits(lists ...string) (Limits, error) {
	var out Limits
	for _, list := range lists {
		if strings.TrimSpace(list) == "" {
			continue
		}
		for _, item := range strings.Split(list, ",") {
			r, l, err := parseLimitItem(item)
			if err != nil {
				return Limits{}, err
			}
			*out.Ref(r) = l
		}
	}
	return out, nil
}

func parseLimitItem(item string) (Resource, Limit, error) {
	it := strings.TrimSpace(item)
	if it == "" {
		return 0, Limit{}, syntaxError(ErrBadLimit, item, "empty item (want name=soft[:hard])")
	}
	name, val, ok := strings.Cut(it, "=")
	if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(val) == "" {
		return 0, Limit{}, syntaxError(ErrBadLimit, it, "want name=soft[:hard]")
	}
	r, ok := ParseResource(name)
	if !ok {
		return 0, Limit{}, syntaxError(ErrBadLimit, it, "unknown resource "+quote(strings.TrimSpace(name))+" (want cpu, wall, nofile, nproc, mem or fsize)")
	}
	softS, hardS, hasHard := strings.Cut(val, ":")
	soft, err := parseLimitValue(r, softS)
	if err != nil {
		return 0, Limit{}, syntaxError(ErrBadLimit, it, err.Error())
	}
	hard := soft
	if hasHard {
		if hard, err = parseLimitValue(r, hardS); err != nil {
			return 0, Limit{}, syntaxError(ErrBadLimit, it, err.Error())
		}
	}
	if hard != 0 && (soft == 0 || soft > hard) {
		return 0, Limit{}, syntaxError(ErrBadLimit, it, "soft limit above hard limit")
	}
	return r, Limit{Soft: soft, Hard: hard}, nil
}

// limitValueError is the reason of a bad value, which parseLimitItem puts
// in a SyntaxError of the whole item.
type limitValueError string

func (e limitValueError) Error() string { return string(e) }

// parseLimitValue parses one value of r; 0 is "unlimited".
func parseLimitValue(r Resource, s string) (uint64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "unlimited", "inf", "infinity":
		return 0, nil
	case "":
		return 0, limitValueError("empty value")
	}
	var v uint64
	switch r {
	case CPU, Wall:
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, limitValueError(quote(s) + " is not a duration such as 2s")
		}
		if d < 0 {
			return 0, limitValueError("negative duration")
		}
		v = uint64(d)
	case Mem, FSize:
		n, err := ParseSize(s)
		var se *SyntaxError
		if errors.As(err, &se) {
			return 0, limitValueError(se.Reason)
		}
		v = n
	default:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, limitValueError(quote(s) + " is not a count")
		}
		v = n
	}
	if v == 0 {
		return 0, limitValueError("a limit of 0 is not supported (leave the resource out for no limit)")
	}
	return v, nil
}

// String formats l in the limit grammar, in resource order, leaving out
// the resources it does not limit: the canonical form, as
// "cpu=2s:5s,mem=64M". A pair with only a hard limit is written as a soft
// limit equal to it, which is what the table makes of it.
func (l Limits) String() string {
	var b strings.Builder
	for r := range Resource(NumResources) {
		lim := l.Get(r)
		if lim == (Limit{}) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.String())
		b.WriteByte('=')
		switch {
		case lim.Soft == 0 || lim.Soft == lim.Hard:
			b.WriteString(FormatLimitValue(r, max(lim.Soft, lim.Hard)))
		default:
			b.WriteString(FormatLimitValue(r, lim.Soft))
			b.WriteByte(':')
			b.WriteString(FormatLimitValue(r, lim.Hard))
		}
	}
	return b.String()
}

// FormatLimitValue formats one value of r as the limit grammar writes it:
// a duration, a size or a count, and "unlimited" for 0.
func FormatLimitValue(r Resource, v uint64) string {
	switch {
	case v == 0:
		return "unlimited"
	case r == CPU || r == Wall:
		if v > uint64(1<<63-1) {
			return strconv.FormatUint(v, 10) + "ns"
		}
		return FormatDuration(time.Duration(v))
	case r == Mem || r == FSize:
		return FormatSize(v)
	}
	return strconv.FormatUint(v, 10)
}
