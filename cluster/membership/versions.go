package membership

import "github.com/vproc/vproc/fsm"

// Versions returns the command versions node name reports in its gossip
// metadata: fsm.Baseline() for a node of an earlier release that reports
// none, or one gossip does not know (yet, or any more).
func (g *Gossip) Versions(name string) fsm.Versions {
	if m, ok := g.Member(name); ok && m.MetaOK && m.Meta.VersionsOK {
		return m.Meta.Versions
	}
	return fsm.Baseline()
}

// Writable returns what every one of voters can apply, as each reports in
// gossip, and what self knows: the types and body versions the leader may
// write (Nomad's ServersMeetMinimumVersion, for command versions).
func (g *Gossip) Writable(voters []string, self fsm.Versions) fsm.Versions {
	w := self
	for _, v := range voters {
		if v == g.name {
			continue
		}
		w = w.Meet(g.Versions(v))
	}
	return w
}
