package fsm

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Versions says what a release can read: for each command type, the
// highest body version it decodes, and the highest version of the spec
// record a spawn carries. A rolling upgrade relies on it: each agent
// reports the Versions it knows, and the leader writes a type or version
// only once every voter knows it (Writable), so that no replica meets an
// entry it cannot apply.
type Versions struct {
	// Commands maps a command type to its highest known body version.
	// TypeChecked is in it when the checksummed envelope is known.
	Commands map[Type]uint8
	// Spec is the highest known version of the spec record.
	Spec uint8
}

// ErrVersion means that a command needs a type or body version that not
// every voter knows yet. It is a refusal before anything was written.
var ErrVersion = errors.New("not every server knows this command version yet")

// Known returns the Versions this release reads and writes: every type
// it decodes, at version 1 unless bodyVersions says more, the envelope,
// and the newest spec record.
func Known() Versions {
	v := Versions{
		Commands: map[Type]uint8{
			TypeBatch:          batchVersion,
			TypeSessionRequest: 1,
			TypeChecked:        checkedVersion,
		},
		Spec: specVersionFiles,
	}
	for t := range decoders {
		v.Commands[t] = 1
	}
	for t, n := range bodyVersions {
		v.Commands[t] = n
	}
	return v
}

// bodyVersions are the command bodies past version 1: the newest version
// of each that this release writes. A body version added is added here.
var bodyVersions = map[Type]uint8{
	TypeSignal:  signalVersionUnstarted,
	TypeSpawn:   spawnVersionPlace,
	TypeExited:  exitedVersionStarted,
	TypePreempt: preemptVersionSignal,
}

// Baseline returns what a server is taken to know when it reports
// nothing: the command types and body versions written before servers
// reported their versions, without the checksummed envelope and with spec
// records of version 1 only.
func Baseline() Versions {
	return Versions{
		Commands: map[Type]uint8{
			TypeBatch:              batchVersion,
			TypeRegisterSession:    1,
			TypeSessionRequest:     1,
			TypeTick:               1,
			TypeSpawn:              spawnVersionPlace,
			TypePlace:              1,
			TypeStarted:            1,
			TypeStopped:            1,
			TypeContinued:          1,
			TypeExited:             exitedVersionStarted,
			TypeReap:               1,
			TypeLost:               1,
			TypeNodeLost:           1,
			TypePreempt:            preemptVersionSignal,
			TypeSignal:             1,
			TypeSignalDelivered:    1,
			TypeNodeUpsert:         1,
			TypeSetNodeStatus:      1,
			TypeRegistryCreate:     1,
			TypeRegistryUnlink:     1,
			TypeSetSchedulerConfig: 1,
			TypeRaisePIDFloor:      1,
			TypeRegistryLost:       1,
		},
		Spec: specVersion1,
	}
}

// Clone returns a deep copy of v.
func (v Versions) Clone() Versions {
	c := Versions{Commands: make(map[Type]uint8, len(v.Commands)), Spec: v.Spec}
	for t, n := range v.Commands {
		c.Commands[t] = n
	}
	return c
}

// Meet returns what both v and o know: for each type, the lower version,
// and no type that one of them lacks.
func (v Versions) Meet(o Versions) Versions {
	m := Versions{Commands: make(map[Type]uint8, len(v.Commands)), Spec: min(v.Spec, o.Spec)}
	for t, n := range v.Commands {
		if k, ok := o.Commands[t]; ok {
			m.Commands[t] = min(n, k)
		}
	}
	return m
}

// Covers reports whether v knows everything o knows.
func (v Versions) Covers(o Versions) bool {
	if v.Spec < o.Spec {
		return false
	}
	for t, n := range o.Commands {
		if v.Commands[t] < n {
			return false
		}
	}
	return true
}

// Seals reports whether the checksummed envelope may be written.
func (v Versions) Seals() bool { return v.Commands[TypeChecked] >= checkedVersion }

// Fit drops from c what v does not know and c can do without, so that
// Admits may then accept it: a Signal's Unstarted (body version 2), whose
// absence only means that the signal waits until its target runs, as
// before. It changes c in place and returns it. Nothing of a command that
// cannot do without its newer fields is dropped: Admits refuses those.
func (v Versions) Fit(c Command) Command {
	switch c := c.(type) {
	case *Signal:
		if c.Unstarted && v.Commands[TypeSignal] < signalVersionUnstarted {
			c.Unstarted = false
		}
	case *Batch:
		for _, ic := range c.Commands {
			v.Fit(ic)
		}
	case *SessionRequest:
		if c.Command != nil {
			v.Fit(c.Command)
		}
	}
	return c
}

// Admits reports whether every command in c, nested ones included, has a
// type and body version that v knows, and returns an error wrapping
// ErrVersion naming the first that is not.
func (v Versions) Admits(c Command) error {
	switch c := c.(type) {
	case *Batch:
		if err := v.admitsType(TypeBatch, batchVersion); err != nil {
			return err
		}
		for _, ic := range c.Commands {
			if err := v.Admits(ic); err != nil {
				return err
			}
		}
		return nil
	case *SessionRequest:
		if err := v.admitsType(TypeSessionRequest, 1); err != nil {
			return err
		}
		if c.Command == nil {
			return nil
		}
		return v.Admits(c.Command)
	case *Unknown:
		// Carries the ignore-if-unknown bit: anyone may skip it.
		return nil
	}
	b := AppendEncode(nil, c)
	ver := uint8(0)
	if len(b) > 1 {
		ver = b[1]
	}
	if err := v.admitsType(c.Type(), ver); err != nil {
		return err
	}
	if sp, ok := c.(*Spawn); ok {
		switch {
		case len(sp.Spec.Files) > 0 && v.Spec < specVersionFiles:
			return fmt.Errorf("%w: spec record version %d (inherited descriptors) is known up to version %d", ErrVersion, specVersionFiles, v.Spec)
		case sp.Spec.Stdin && v.Spec < specVersionStdin:
			return fmt.Errorf("%w: spec record version %d (stdin) is known up to version %d", ErrVersion, specVersionStdin, v.Spec)
		}
	}
	return nil
}

func (v Versions) admitsType(t Type, ver uint8) error {
	k, ok := v.Commands[t]
	switch {
	case !ok && t&IgnoreIfUnknown != 0:
		// A replica that does not know it skips it, by design.
		return nil
	case !ok:
		return fmt.Errorf("%w: command %v is unknown to some server", ErrVersion, t)
	case ver > k:
		return fmt.Errorf("%w: command %v version %d is known up to version %d", ErrVersion, t, ver, k)
	}
	return nil
}

// admitsEntry checks a whole log entry: its envelope and every command in
// it.
func (v Versions) admitsEntry(data []byte, c Command) error {
	if Sealed(data) {
		if err := v.admitsType(TypeChecked, data[1]); err != nil {
			return err
		}
	}
	return v.Admits(c)
}

// String returns v in the compact form of ParseVersions, such as
// "1:1,2:1,…,spec:2", types in hexadecimal and in order.
func (v Versions) String() string {
	ts := make([]Type, 0, len(v.Commands))
	for t := range v.Commands {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	var b strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&b, "%x:%d,", byte(t), v.Commands[t])
	}
	fmt.Fprintf(&b, "spec:%d", v.Spec)
	return b.String()
}

// ParseVersions parses what String writes.
func ParseVersions(s string) (Versions, error) {
	v := Versions{Commands: map[Type]uint8{}}
	seenSpec := false
	for _, f := range strings.Split(s, ",") {
		k, val, ok := strings.Cut(f, ":")
		if !ok {
			return Versions{}, fmt.Errorf("fsm: versions: %q has no ':'", f)
		}
		var n uint8
		if _, err := fmt.Sscanf(val, "%d", &n); err != nil || fmt.Sprint(n) != val {
			return Versions{}, fmt.Errorf("fsm: versions: bad version %q", val)
		}
		if k == "spec" {
			v.Spec, seenSpec = n, true
			continue
		}
		var t uint8
		if _, err := fmt.Sscanf(k, "%x", &t); err != nil || fmt.Sprintf("%x", t) != k {
			return Versions{}, fmt.Errorf("fsm: versions: bad type %q", k)
		}
		v.Commands[Type(t)] = n
	}
	if !seenSpec {
		return Versions{}, errors.New("fsm: versions: no spec version")
	}
	return v, nil
}
