package ipc

import (
	"math/bits"
	"strconv"
	"strings"
)

// Signal is a signal number, with Linux's x86-64 values (signal(7)). The
// standard signals 1 to 31 are supported; real-time signals are not.
type Signal int

// The standard signals.
const (
	SIGHUP    Signal = 1
	SIGINT    Signal = 2
	SIGQUIT   Signal = 3
	SIGILL    Signal = 4
	SIGTRAP   Signal = 5
	SIGABRT   Signal = 6
	SIGBUS    Signal = 7
	SIGFPE    Signal = 8
	SIGKILL   Signal = 9
	SIGUSR1   Signal = 10
	SIGSEGV   Signal = 11
	SIGUSR2   Signal = 12
	SIGPIPE   Signal = 13
	SIGALRM   Signal = 14
	SIGTERM   Signal = 15
	SIGSTKFLT Signal = 16
	SIGCHLD   Signal = 17
	SIGCONT   Signal = 18
	SIGSTOP   Signal = 19
	SIGTSTP   Signal = 20
	SIGTTIN   Signal = 21
	SIGTTOU   Signal = 22
	SIGURG    Signal = 23
	SIGXCPU   Signal = 24
	SIGXFSZ   Signal = 25
	SIGVTALRM Signal = 26
	SIGPROF   Signal = 27
	SIGWINCH  Signal = 28
	SIGIO     Signal = 29
	SIGPWR    Signal = 30
	SIGSYS    Signal = 31
)

// NSIG is one more than the highest supported signal number.
const NSIG = 32

// Action is a signal's default disposition (signal(7), "Standard signals").
type Action uint8

// The default actions.
const (
	ActTerm Action = iota // terminate the process
	ActIgn                // ignore the signal
	ActCore               // terminate the process and record a core dump
	ActStop               // stop the process
	ActCont               // continue the process if it is stopped
)

// String returns the action's name in signal(7), such as "Term".
func (a Action) String() string {
	switch a {
	case ActTerm:
		return "Term"
	case ActIgn:
		return "Ign"
	case ActCore:
		return "Core"
	case ActStop:
		return "Stop"
	case ActCont:
		return "Cont"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

var signalNames = [NSIG]string{
	"", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
	"SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM",
	"SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU",
	"SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",
	"SIGPWR", "SIGSYS",
}

var defaultActions = [NSIG]Action{
	SIGHUP: ActTerm, SIGINT: ActTerm, SIGQUIT: ActCore, SIGILL: ActCore,
	SIGTRAP: ActCore, SIGABRT: ActCore, SIGBUS: ActCore, SIGFPE: ActCore,
	SIGKILL: ActTerm, SIGUSR1: ActTerm, SIGSEGV: ActCore, SIGUSR2: ActTerm,
	SIGPIPE: ActTerm, SIGALRM: ActTerm, SIGTERM: ActTerm, SIGSTKFLT: ActTerm,
	SIGCHLD: ActIgn, SIGCONT: ActCont, SIGSTOP: ActStop, SIGTSTP: ActStop,
	SIGTTIN: ActStop, SIGTTOU: ActStop, SIGURG: ActIgn, SIGXCPU: ActCore,
	SIGXFSZ: ActCore, SIGVTALRM: ActTerm, SIGPROF: ActTerm, SIGWINCH: ActIgn,
	SIGIO: ActTerm, SIGPWR: ActTerm, SIGSYS: ActCore,
}

// Valid reports whether s is a supported signal number (1 to 31).
func (s Signal) Valid() bool { return s > 0 && s < NSIG }

// String returns the signal's name, such as "SIGTERM".
func (s Signal) String() string {
	if s.Valid() {
		return signalNames[s]
	}
	return "Signal(" + strconv.Itoa(int(s)) + ")"
}

// DefaultAction returns the signal's default disposition.
func (s Signal) DefaultAction() Action {
	if !s.Valid() {
		return ActIgn
	}
	return defaultActions[s]
}

// Catchable reports whether the signal's disposition can be changed and
// whether it can be blocked. SIGKILL and SIGSTOP cannot.
func (s Signal) Catchable() bool { return s.Valid() && s != SIGKILL && s != SIGSTOP }

// ParseSignal accepts a number ("15"), a name ("SIGTERM", "sigterm") or a name
// without its prefix ("TERM"). A bad signal is EINVAL.
func ParseSignal(v string) (Signal, error) {
	if n, err := strconv.Atoi(v); err == nil {
		s := Signal(n)
		if !s.Valid() {
			return 0, EINVAL
		}
		return s, nil
	}
	u := strings.ToUpper(strings.TrimSpace(v))
	if !strings.HasPrefix(u, "SIG") {
		u = "SIG" + u
	}
	switch u {
	case "SIGIOT":
		return SIGABRT, nil
	case "SIGPOLL":
		return SIGIO, nil
	case "SIGCLD":
		return SIGCHLD, nil
	}
	for i := 1; i < NSIG; i++ {
		if signalNames[i] == u {
			return Signal(i), nil
		}
	}
	return 0, EINVAL
}

// ParseKillSignal is ParseSignal that also accepts "0", the null signal of
// kill(2): it names no signal and asks only whether the target exists and
// may be signalled.
func ParseKillSignal(v string) (Signal, error) {
	if strings.TrimSpace(v) == "0" {
		return 0, nil
	}
	return ParseSignal(v)
}

// SignalSet is a set of signals, one bit per signal (bit n-1 for signal n),
// like the kernel's sigset_t. The zero value is the empty set.
type SignalSet uint64

// unblockable holds the signals that can never be blocked.
const unblockable = SignalSet(1<<(SIGKILL-1) | 1<<(SIGSTOP-1))

// SetOf returns the set holding the given signals. Invalid signals are left out.
func SetOf(sigs ...Signal) SignalSet {
	var s SignalSet
	for _, sig := range sigs {
		s = s.Add(sig)
	}
	return s
}

// Add returns s with sig added.
func (s SignalSet) Add(sig Signal) SignalSet {
	if !sig.Valid() {
		return s
	}
	return s | 1<<(sig-1)
}

// Del returns s with sig removed.
func (s SignalSet) Del(sig Signal) SignalSet {
	if !sig.Valid() {
		return s
	}
	return s &^ (1 << (sig - 1))
}

// Has reports whether sig is in s.
func (s SignalSet) Has(sig Signal) bool { return sig.Valid() && s&(1<<(sig-1)) != 0 }

// Empty reports whether s holds no signal.
func (s SignalSet) Empty() bool { return s == 0 }

// Len returns the number of signals in s.
func (s SignalSet) Len() int { return bits.OnesCount64(uint64(s)) }

// Union returns s ∪ o.
func (s SignalSet) Union(o SignalSet) SignalSet { return s | o }

// Minus returns s \ o.
func (s SignalSet) Minus(o SignalSet) SignalSet { return s &^ o }

// Blockable returns s without SIGKILL and SIGSTOP, which can't be blocked.
// sigprocmask applies it to every new mask.
func (s SignalSet) Blockable() SignalSet { return s &^ unblockable }

// Lowest returns the lowest-numbered signal in s, or 0 if s is empty. Linux
// delivers pending standard signals lowest number first.
func (s SignalSet) Lowest() Signal {
	if s == 0 {
		return 0
	}
	return Signal(bits.TrailingZeros64(uint64(s)) + 1)
}

// Signals lists the members of s in ascending order.
func (s SignalSet) Signals() []Signal {
	out := make([]Signal, 0, s.Len())
	for s != 0 {
		sig := s.Lowest()
		out = append(out, sig)
		s = s.Del(sig)
	}
	return out
}

// String formats s as "{SIGINT,SIGTERM}".
func (s SignalSet) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, sig := range s.Signals() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(sig.String())
	}
	b.WriteByte('}')
	return b.String()
}
