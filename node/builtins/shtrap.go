package builtins

import (
	"strconv"
	"strings"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Traps. A trapped signal's handler only records the signal: like bash,
// the shell runs the trap's action at the next point between commands,
// after a foreground command it waits for has ended. The wait builtin is
// the exception: a trapped signal ends it with 128+N, then the action runs.
//
// The EXIT trap runs when the shell ends: at the end of the script, at
// exit, and on a signal that would end the shell, after which the shell
// ends by that signal. The ERR trap runs after a command fails where
// errexit would end the shell.

// trapName is the name a trap is known by: EXIT, ERR, or a signal's name
// without SIG.
func trapName(spec string) (string, bool) {
	switch u := strings.ToUpper(spec); u {
	case "0", "EXIT", "SIGEXIT":
		return "EXIT", true
	case "ERR", "SIGERR":
		return "ERR", true
	}
	sig, err := parseSigspec(spec)
	if err != nil || sig == 0 {
		return "", false
	}
	return strings.TrimPrefix(sig.String(), "SIG"), true
}

// builtinTrap is trap [-lp] [[ACTION] SIGSPEC...].
func (sh *shell) builtinTrap(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	} else if len(args) > 0 && args[0] == "-l" {
		out, _ := killList(nil)
		return sh.output(out)
	} else if len(args) > 0 && args[0] == "-p" {
		return sh.printTraps(args[1:])
	}
	if len(args) == 0 {
		return sh.printTraps(nil)
	}
	action, specs := args[0], args[1:]
	reset := action == "-"
	if len(args) == 1 || (allDigitsStr(action) && action != "") {
		// trap SIGSPEC... resets, as does a first operand that is a number.
		reset, specs = true, args
	}
	status := 0
	for _, spec := range specs {
		name, ok := trapName(spec)
		if !ok {
			sh.errorf("trap: %s: invalid signal specification", spec)
			status = 1
			continue
		}
		if reset {
			delete(sh.traps, name)
		} else {
			sh.traps[name] = action
		}
		sh.dispose(name)
	}
	sh.disposeFatal()
	return status
}

// allDigitsStr reports whether s is made of decimal digits only.
func allDigitsStr(s string) bool { return strings.Trim(s, "0123456789") == "" }

// printTraps prints the traps of names (all of them if none), as trap -p.
func (sh *shell) printTraps(specs []string) int {
	var names []string
	status := 0
	if len(specs) == 0 {
		names = sortedTrapNames(sh.traps)
	}
	for _, spec := range specs {
		name, ok := trapName(spec)
		if !ok {
			sh.errorf("trap: %s: invalid signal specification", spec)
			status = 1
			continue
		}
		if _, set := sh.traps[name]; set {
			names = append(names, name)
		}
	}
	var b strings.Builder
	for _, name := range names {
		shown := name
		if name != "EXIT" && name != "ERR" {
			shown = "SIG" + name
		}
		b.WriteString("trap -- " + quoteTrap(sh.traps[name]) + " " + shown + "\n")
	}
	if st := sh.output(b.String()); st != 0 {
		return st
	}
	return status
}

// quoteTrap single-quotes an action as trap -p does.
func quoteTrap(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sortedTrapNames orders trap names as bash lists them: EXIT, then the
// signals by number, then ERR.
func sortedTrapNames(traps map[string]string) []string {
	rank := func(name string) int {
		switch name {
		case "EXIT":
			return 0
		case "ERR":
			return ipc.NSIG
		}
		sig, _ := ipc.ParseSignal(name)
		return int(sig)
	}
	names := sortedKeys(traps)
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && rank(names[j]) < rank(names[j-1]); j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	return names
}

// dispose sets the kernel disposition of a trapped signal: caught for an
// action, ignored for an empty one, the default without a trap.
func (sh *shell) dispose(name string) {
	sig, err := ipc.ParseSignal(name)
	if err != nil || !sig.Catchable() || sh.s == nil {
		return
	}
	action, trapped := sh.traps[name]
	act := node.SigAction{}
	switch {
	case trapped && action == "":
		act.Ignore = true
	case trapped:
		act.Handler = sh.caughtSignal
	}
	sh.s.Sigaction(sig, &act)
}

// disposeFatal catches the untrapped signals that would end the shell while
// an EXIT trap is set, so that the trap runs before the shell ends; without
// one they keep their default.
func (sh *shell) disposeFatal() {
	if sh.s == nil {
		return
	}
	_, exitTrap := sh.traps["EXIT"]
	for sig := ipc.Signal(1); sig < ipc.NSIG; sig++ {
		a := sig.DefaultAction()
		if !sig.Catchable() || (a != ipc.ActTerm && a != ipc.ActCore) {
			continue
		}
		name := strings.TrimPrefix(sig.String(), "SIG")
		if _, trapped := sh.traps[name]; trapped {
			continue
		}
		act := node.SigAction{}
		if exitTrap {
			act.Handler = sh.caughtSignal
		}
		sh.s.Sigaction(sig, &act)
	}
}

// caughtSignal is the handler of trapped signals: it runs inside a system
// call of the shell's own process, and only records the signal.
func (sh *shell) caughtSignal(_ *node.Sys, sig ipc.Signal) {
	sh.caught = append(sh.caught, sig)
}

// runTraps runs the actions of the signals caught since the last call; a
// caught signal without a trap (one that would have ended the shell) runs
// the EXIT trap and ends the shell by that signal. $? is kept.
func (sh *shell) runTraps() {
	for len(sh.caught) > 0 && !sh.inTrap {
		sig := sh.caught[0]
		sh.caught = sh.caught[1:]
		name := strings.TrimPrefix(sig.String(), "SIG")
		action, trapped := sh.traps[name]
		if !trapped {
			sh.dieBy(sig)
			return
		}
		sh.runTrap(action)
		if sh.ctl == ctlExit {
			return
		}
	}
}

// runTrap runs one trap action, keeping $? and the control flow.
func (sh *shell) runTrap(action string) {
	status, ctl, n := sh.status, sh.ctl, sh.ctlN
	sh.inTrap = true
	sh.eval(action, "")
	sh.inTrap = false
	if sh.ctl == ctlExit {
		return
	}
	sh.status, sh.ctl, sh.ctlN = status, ctl, n
}

// runErrTrap runs the ERR trap after a failed command. As in bash,
// functions inherit it only with set -E (errtrace); without, a failed call
// runs it once.
func (sh *shell) runErrTrap() {
	if action, ok := sh.traps["ERR"]; ok && !sh.inTrap && (len(sh.frames) == 0 || sh.errtrace) {
		sh.runTrap(action)
	}
}

// runExitTrap runs the EXIT trap once, as the shell ends with code, and
// leaves the code to end with in sh.exitCode.
func (sh *shell) runExitTrap(code int) {
	sh.ctl, sh.exitCode = ctlExit, code
	action, ok := sh.traps["EXIT"]
	if !ok || sh.exiting {
		return
	}
	sh.exiting = true
	sh.ctl, sh.status = ctlNone, code
	sh.inTrap = true
	sh.eval(action, "")
	sh.inTrap = false
	if sh.ctl != ctlExit {
		sh.ctl, sh.exitCode = ctlExit, code
	}
}

// dieBy runs the EXIT trap and ends the shell by sig, with its default
// action.
func (sh *shell) dieBy(sig ipc.Signal) {
	sh.runExitTrap(128 + int(sig))
	sh.s.Sigaction(sig, &node.SigAction{})
	sh.s.Sigprocmask(node.SIG_UNBLOCK, ipc.SetOf(sig))
	sh.s.Kill(sh.s.Getpid(), sig)
	// A signal whose default is to terminate does not come back here; the
	// shell ends with its number all the same if it did.
	sh.exit(128 + int(sig))
}

// signalStatus is $? after a wait cut short by a trapped signal: 128+N of
// the first one pending.
func (sh *shell) signalStatus() int {
	if len(sh.caught) == 0 {
		return 128
	}
	return 128 + int(sh.caught[0])
}

// sigName is the name bash gives a signal in job reports.
func sigName(sig ipc.Signal) string {
	switch sig {
	case ipc.SIGTERM:
		return "Terminated"
	case ipc.SIGKILL:
		return "Killed"
	case ipc.SIGINT:
		return "Interrupt"
	case ipc.SIGHUP:
		return "Hangup"
	case ipc.SIGQUIT:
		return "Quit"
	case ipc.SIGABRT:
		return "Aborted"
	case ipc.SIGPIPE:
		return "Broken pipe"
	case ipc.SIGALRM:
		return "Alarm clock"
	case ipc.SIGUSR1:
		return "User defined signal 1"
	case ipc.SIGUSR2:
		return "User defined signal 2"
	case ipc.SIGSEGV:
		return "Segmentation fault"
	case ipc.SIGSTOP:
		return "Stopped (signal)"
	case ipc.SIGTSTP:
		return "Stopped"
	case ipc.SIGTTIN:
		return "Stopped (tty input)"
	case ipc.SIGTTOU:
		return "Stopped (tty output)"
	}
	return "Signal " + strconv.Itoa(int(sig))
}
