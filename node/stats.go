package node

import "sync/atomic"

// Stats is a picture of the kernel for the agent's metrics: the CPU
// slots, the run queue, the processes by state, the lease, and what IPC
// has carried since the kernel started.
type Stats struct {
	// Slots is the number of CPU slots, BusySlots how many are held and
	// RunQueue how many processes wait for one.
	Slots, BusySlots, RunQueue int
	// Processes counts the processes by state (ready, running, waiting,
	// stopped, zombie); init is not counted.
	Processes map[ProcessState]int
	// Frozen reports that the node's lease has ended.
	Frozen bool
	// IPC is what the processes have sent through pipes, FIFOs and
	// message queues.
	IPC IPCStats
}

// IPCStats counts the data processes sent: bytes written to pipes and
// FIFOs and the writes that carried them, messages queued on message
// queues and their bytes. The counters only grow.
type IPCStats struct {
	PipeBytes, PipeWrites uint64
	MQBytes, MQMessages   uint64
}

// ipcCounters are the kernel's IPC counters, updated by the system calls.
type ipcCounters struct {
	pipeBytes, pipeWrites atomic.Uint64
	mqBytes, mqMessages   atomic.Uint64
}

// pipe counts a write of n bytes to a pipe or FIFO.
func (c *ipcCounters) pipe(n int) {
	if n > 0 {
		c.pipeBytes.Add(uint64(n))
		c.pipeWrites.Add(1)
	}
}

// message counts one message of n bytes queued.
func (c *ipcCounters) message(n int) {
	c.mqBytes.Add(uint64(n))
	c.mqMessages.Add(1)
}

// Stats returns the kernel's statistics. It takes the process table's
// lock once, as List does.
func (k *ProcessManager) Stats() Stats {
	st := Stats{Processes: make(map[ProcessState]int, len(codeStates)), Frozen: k.Frozen()}
	st.Slots, st.BusySlots, st.RunQueue = k.sched.Stats()
	k.mu.Lock()
	for _, p := range k.procs {
		if p == k.init {
			continue
		}
		st.Processes[p.state()]++
	}
	k.mu.Unlock()
	st.IPC = IPCStats{
		PipeBytes:  k.ipcStats.pipeBytes.Load(),
		PipeWrites: k.ipcStats.pipeWrites.Load(),
		MQBytes:    k.ipcStats.mqBytes.Load(),
		MQMessages: k.ipcStats.mqMessages.Load(),
	}
	return st
}
