package telemetry

import (
	"sort"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/node"
)

// The gauges (and the counters kept elsewhere) computed at scrape time.
var (
	descCommitIndex  = desc("raft_commit_index", "raft's commit index on this node.")
	descAppliedIndex = desc("raft_applied_index", "The last log index raft handed to the table on this node.")
	descLastIndex    = desc("raft_last_log_index", "The last index in this node's raft log.")
	descTerm         = desc("raft_term", "This node's current raft term; it grows with every election.")
	descIsLeader     = desc("raft_is_leader", "1 on the raft leader, 0 elsewhere.")

	descRecords  = desc("table_records", "Process records in this node's table, by state (init left out).", "state")
	descNextPID  = desc("table_next_pid", "The next PID the table hands out.")
	descSessions = desc("table_sessions", "Client sessions in the table.")
	descPending  = desc("placement_pending", "Pending processes the leader's last placement round left, by cause (leader only).", "cause")

	descSlots     = desc("kernel_slots", "CPU slots of this node's kernel.")
	descBusy      = desc("kernel_slots_busy", "CPU slots held by a process.")
	descRunQueue  = desc("kernel_run_queue", "Processes waiting for a CPU slot.")
	descProcesses = desc("kernel_processes", "Processes of this node's kernel by state (micro-states ready, running, waiting; stopped; zombie).", "state")
	descFrozen    = desc("kernel_frozen", "1 while this node's lease has ended and its processes are frozen.")
	descIPCBytes  = desc("kernel_ipc_bytes_total", "Bytes processes sent through IPC, by kind (pipe: pipes and FIFOs; mq: message queues).", "kind")
	descIPCMsgs   = desc("kernel_ipc_messages_total", "IPC sends, by kind (pipe: writes to pipes and FIFOs; mq: messages queued).", "kind")

	descMembers  = desc("gossip_members", "Gossip members this node sees, by status.", "status")
	descRenewals = desc("lease_renewals_total", "Lease renewals this node asked for, by result (ok, failed).", "result")
	descFreezes  = desc("lease_freezes_total", "Times this node's lease ended, freezing its processes.")
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

// scrape is the collector of the gauges read from Sources at scrape time.
type scrape struct {
	src Sources
	m   *Metrics
}

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCommitIndex, descAppliedIndex, descLastIndex, descTerm, descIsLeader,
		descRecords, descNextPID, descSessions, descPending,
		descSlots, descBusy, descRunQueue, descProcesses, descFrozen, descIPCBytes, descIPCMsgs,
		descMembers, descRenewals, descFreezes} {
		ch <- d
	}
}

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if s.src.Raft != nil {
		st := s.src.Raft()
		for d, key := range map[*prometheus.Desc]string{descCommitIndex: "commit_index", descAppliedIndex: "applied_index",
			descLastIndex: "last_log_index", descTerm: "term"} {
			if v, err := strconv.ParseUint(st[key], 10, 64); err == nil {
				gauge(d, float64(v))
			}
		}
		leader := 0.0
		if st["state"] == "Leader" {
			leader = 1
		}
		gauge(descIsLeader, leader)
	}
	if s.src.View != nil {
		v := s.src.View()
		byState := map[fsm.State]int{fsm.StatePending: 0, fsm.StatePlaced: 0, fsm.StateRunning: 0,
			fsm.StateStopped: 0, fsm.StateExited: 0, fsm.StateLost: 0}
		v.Walk(fsm.Filter{}, func(p *fsm.Process) bool {
			if p.PID != fsm.InitPID {
				byState[p.State]++
			}
			return true
		})
		for st, n := range byState {
			gauge(descRecords, float64(n), string(st))
		}
		gauge(descNextPID, float64(v.NextPID()))
		gauge(descSessions, float64(v.Sessions()))
	}
	s.m.mu.Lock()
	pending := s.m.pending
	s.m.mu.Unlock()
	for _, cause := range sortedKeys(pending) {
		gauge(descPending, float64(pending[cause]), cause)
	}
	if s.src.Kernel != nil {
		k := s.src.Kernel()
		gauge(descSlots, float64(k.Slots))
		gauge(descBusy, float64(k.BusySlots))
		gauge(descRunQueue, float64(k.RunQueue))
		for _, st := range []node.ProcessState{node.StateReady, node.StateRunning, node.StateWaiting, node.StateStopped, node.StateZombie} {
			gauge(descProcesses, float64(k.Processes[st]), string(st))
		}
		frozen := 0.0
		if k.Frozen {
			frozen = 1
		}
		gauge(descFrozen, frozen)
		counter(descIPCBytes, float64(k.IPC.PipeBytes), "pipe")
		counter(descIPCBytes, float64(k.IPC.MQBytes), "mq")
		counter(descIPCMsgs, float64(k.IPC.PipeWrites), "pipe")
		counter(descIPCMsgs, float64(k.IPC.MQMessages), "mq")
	}
	if s.src.Members != nil {
		by := map[string]int{string(fsm.NodeAlive): 0, string(fsm.NodeSuspect): 0, string(fsm.NodeDown): 0, string(fsm.NodeLeft): 0}
		for _, st := range s.src.Members() {
			by[st]++
		}
		for st, n := range by {
			gauge(descMembers, float64(n), st)
		}
	}
	if s.src.Lease != nil {
		l := s.src.Lease()
		counter(descRenewals, float64(l.Renewals), "ok")
		counter(descRenewals, float64(l.Failures), "failed")
		counter(descFreezes, float64(l.Freezes))
	}
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
