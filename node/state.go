package node

import (
	"errors"
	"fmt"
)

// ProcessState is a process's state in the kernel. Three of the five (ready, running
// and waiting) are micro-states that change thousands of times a second and
// are never replicated; stopped and zombie are what the replicated table calls
// "stopped" and "exited". See TableState.
type ProcessState string

// The five states of a virtual process.
const (
	StateRunning ProcessState = "running" // holds a CPU slot and executes
	StateWaiting ProcessState = "waiting" // blocked in a system call; holds no slot
	StateReady   ProcessState = "ready"   // runnable, queued for a CPU slot
	StateZombie  ProcessState = "zombie"  // exited, status kept until it is waited for
	StateStopped ProcessState = "stopped" // stopped by a stop signal until SIGCONT
)

// ErrIllegalTransition is returned for a state change the table below forbids.
var ErrIllegalTransition = errors.New("illegal process state transition")

// transitions is the whole state machine. A process is born ready. Every
// entry names who makes the move:
//
//	from     to       when
//	ready    running  the scheduler hands it a CPU slot
//	ready    stopped  a stop signal is acted on before it got a slot
//	ready    zombie   a fatal signal kills it while it is queued
//	running  ready    its slice expired, or it yielded, with others waiting
//	running  waiting  a system call blocks (the slot is given up)
//	running  stopped  a stop signal is acted on at a system call
//	running  zombie   exit, or death by a signal or a limit
//	waiting  ready    the blocking condition ended, or a signal interrupted it
//	waiting  stopped  a stop signal arrived while it was blocked
//	waiting  zombie   SIGKILL (or another fatal signal) while blocked
//	stopped  ready    SIGCONT, when it was stopped at a system call
//	stopped  waiting  SIGCONT, when it was stopped while blocked: it blocks on
//	stopped  zombie   SIGKILL while stopped
//
// A zombie has no way out: it leaves the process table when it is reaped.
var transitions = map[ProcessState]map[ProcessState]bool{
	StateReady:   {StateRunning: true, StateStopped: true, StateZombie: true},
	StateRunning: {StateReady: true, StateWaiting: true, StateStopped: true, StateZombie: true},
	StateWaiting: {StateReady: true, StateStopped: true, StateZombie: true},
	StateStopped: {StateReady: true, StateWaiting: true, StateZombie: true},
	StateZombie:  {},
}

// AllStates lists the five states.
var AllStates = []ProcessState{StateReady, StateRunning, StateWaiting, StateStopped, StateZombie}

// Valid reports whether s is one of the five states.
func (s ProcessState) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// CanTransition reports whether the table allows from → to.
func CanTransition(from, to ProcessState) bool { return transitions[from][to] }

// CheckTransition returns nil if from → to is allowed, and an error wrapping
// ErrIllegalTransition otherwise.
func CheckTransition(from, to ProcessState) error {
	if CanTransition(from, to) {
		return nil
	}
	return fmt.Errorf("%w: %s -> %s", ErrIllegalTransition, from, to)
}

// TableState maps a kernel state to the replicated table's vocabulary: the three
// micro-states are all "running", stopped is "stopped" and zombie is "exited".
func (s ProcessState) TableState() string {
	switch s {
	case StateReady, StateRunning, StateWaiting:
		return "running"
	case StateStopped:
		return "stopped"
	case StateZombie:
		return "exited"
	}
	return ""
}

// MicroState returns s when it is one of the micro-states ready, running and
// waiting, and "" otherwise.
func (s ProcessState) MicroState() string {
	switch s {
	case StateReady, StateRunning, StateWaiting:
		return string(s)
	}
	return ""
}

// stateCode packs a state into a small integer for atomic storage.
type stateCode uint32

const (
	codeReady stateCode = iota
	codeRunning
	codeWaiting
	codeStopped
	codeZombie
)

var codeStates = [...]ProcessState{StateReady, StateRunning, StateWaiting, StateStopped, StateZombie}

func (c stateCode) state() ProcessState { return codeStates[c] }

// legal is the transition table in array form, for the hot paths.
var legal [5][5]bool

func init() {
	for i, from := range codeStates {
		for j, to := range codeStates {
			legal[i][j] = CanTransition(from, to)
		}
	}
}
