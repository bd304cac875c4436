package builtins

// The shell's pledge and unveil builtins act on the shell itself, as cd
// does: what the shell runs afterwards inherits them.

// builtinPledge is `pledge PROMISES [EXECPROMISES]`: it narrows the
// shell's promises (an empty PROMISES keeps them) and sets the promises
// the commands it runs start with.
func (sh *shell) builtinPledge(args []string) int {
	if len(args) < 1 || len(args) > 2 {
		sh.errorf("pledge: usage: pledge PROMISES [EXECPROMISES]")
		return 2
	}
	exec := ""
	if len(args) == 2 {
		exec = args[1]
	}
	if err := sh.s.Pledge(args[0], exec); err != nil {
		sh.errorf("pledge: %v", err)
		return 1
	}
	return 0
}

// builtinUnveil is `unveil PATH PERMS`, which makes PATH visible to the
// shell and what it runs with PERMS (a subset of rwxc), or `unveil` alone,
// which locks the list.
func (sh *shell) builtinUnveil(args []string) int {
	var path, perms string
	switch len(args) {
	case 0:
	case 2:
		path, perms = args[0], args[1]
	default:
		sh.errorf("unveil: usage: unveil PATH PERMS, or unveil to lock")
		return 2
	}
	if err := sh.s.Unveil(path, perms); err != nil {
		sh.errorf("unveil: %v", err)
		return 1
	}
	return 0
}
