package fsm

import (
	"strings"
	"unicode/utf8"
)

// Compaction of exited records. A process that has exited or is lost never
// runs again (a restart requeues it before that, with its whole spec), so
// its record keeps only what is still shown of it: the command line, cut
// to ExitedCmdline bytes and ExitedArgs arguments, and the spec's scalar
// fields (priority, limits, promises, restart policy, stdin). Its
// environment, working directory, unveil list, constraints, required node,
// used names, inherited descriptors and the PID whose pipes it inherited
// are dropped.
//
// Compaction is part of the apply (terminate) and of Restore, a pure
// function of the record: every replica compacts identically, whether it
// applied the exit or restored a snapshot taken before or after it, so
// the table hash agrees. A compacted spec is an ordinary spec record: the
// snapshot format does not change, and a snapshot holding full exited
// records, as releases before compaction wrote them, still loads.

// ExitedCmdline bounds the command line an exited record keeps, in bytes:
// the command and each argument, with one byte for the space before each
// argument.
const ExitedCmdline = 128

// ExitedArgs bounds the arguments an exited record keeps.
const ExitedArgs = 8

// CutMark ends the last argument (or the command) that an exited record
// kept when its command line was cut.
const CutMark = "…"

// compactSpec returns the spec an exited record keeps: s itself when it
// holds nothing to drop, otherwise a new, smaller spec.
func compactSpec(s *Spec) *Spec {
	cmd, args, cut := cutCmdline(s.Command, s.Args)
	if !cut && len(s.Env) == 0 && s.Cwd == "" && len(s.Unveil) == 0 && len(s.Constraints) == 0 &&
		s.Node == "" && len(s.Uses) == 0 && s.InheritsPipesFrom == 0 && len(s.Files) == 0 {
		return s
	}
	return &Spec{
		Command:  cmd,
		Args:     args,
		Priority: s.Priority,
		Limits:   s.Limits,
		Promises: s.Promises,
		Restart:  s.Restart,
		Stdin:    s.Stdin,
	}
}

// cutCmdline returns the command and arguments within ExitedCmdline bytes
// and ExitedArgs arguments, and whether anything was cut. A cut one ends
// in CutMark, within the bound; strings are cut at a UTF-8 boundary. The
// arguments of a cut command line are new strings, all slices of one
// allocation, so that nothing of the dropped ones stays reachable.
func cutCmdline(cmd string, args []string) (string, []string, bool) {
	total := len(cmd)
	for _, a := range args {
		total += 1 + len(a)
	}
	if total <= ExitedCmdline && len(args) <= ExitedArgs {
		return cmd, args, false
	}
	budget := ExitedCmdline - len(CutMark)
	if len(cmd) > budget {
		return cutUTF8(cmd, budget) + CutMark, nil, true
	}
	budget -= len(cmd)
	var kept []string
	for i, a := range args {
		if i == ExitedArgs || budget < 1 {
			break
		}
		budget-- // the space before it
		k := cutUTF8(a, budget)
		budget -= len(k)
		kept = append(kept, k)
		if len(k) < len(a) {
			break
		}
	}
	if len(kept) == 0 {
		return cmd + CutMark, nil, true
	}
	joined := strings.Join(kept, "") + CutMark
	out := make([]string, len(kept))
	off := 0
	for i, k := range kept {
		out[i] = joined[off : off+len(k)]
		off += len(k)
	}
	out[len(out)-1] = joined[off-len(kept[len(kept)-1]):]
	return cmd, out, true
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
