// Package jepsen is vproc's fault suite: it runs the real vproc binary, one
// OS process per node, injects faults while concurrent clients work on the
// replicated process table, records a history on the monotonic clock, and
// checks every guarantee of docs/guarantees.md against that history.
//
// The shape follows etcd's tests/robustness and hashicorp/raft's fuzzy/:
//
//	traffic (workload*.go) ─┐
//	                        ├─> history (history.go) ─> checkers (checker*.go) ─> report (report.go)
//	faults (nemesis.go) ────┘
//
// # Running it
//
// The suite is opt-in. Without the run flag TestJepsen skips:
//
//	go test ./test/jepsen -run TestJepsen -count=1 -v -timeout 30m \
//	    -args -jepsen.run -jepsen.duration=3m -jepsen.nodes=3 -jepsen.seed=N
//
// or, with the environment, VPROC_JEPSEN=1 DURATION=3m NODES=3 SEED=N. The
// first line of output is "seed=N"; the same seed gives the same fault
// schedule and the same workload choices, so any run can be replayed.
//
// As root, with iproute2 and iptables, each node lives in its own network
// namespace, attached by a veth pair to a bridge in a switch namespace; the
// harness reaches the nodes from the root namespace through one more veth
// pair. Every address is in a 10.99.X.0/24 network that the run creates and
// removes. Partitions are iptables DROP rules inside the node namespaces;
// network emulation is tc netem on the node's interface, skipped with the
// reason printed when the kernel lacks sch_netem. Without root (or without
// the tools), the nodes listen on loopback addresses 127.0.0.x and only the
// kill, pause, restart and membership faults run.
//
// Every name the run creates starts with "vpj<pid>", the test process's PID.
// At start the run removes the namespaces, links and processes of earlier
// runs whose owning PID is dead, so a crashed run leaves nothing behind for
// long. Every loop is bounded in count and in time, and the run stops by
// itself.
//
// # Scenarios
//
// Besides the random run, TestScenario runs scripted scenarios
// (scenarios.go), as etcd's Issue* scenarios: a fixed sequence of faults
// and operations against one or more builds of the agent. A deliberately
// broken build (tags vproc_unsafe_reads, vproc_unsafe_nofence) must fail
// the check that catches it, the normal build must pass the same script,
// and each bug the suite found has a named regression scenario. They run
// when named in -run or with -jepsen.scenarios:
//
//	go test ./test/jepsen -run 'TestScenario/StaleReadWithoutReadRecipe' -count=1 -v
//
// `make jepsen-ci` runs them all and then a three-minute random run.
//
// # Programs the suite uses
//
// The workload spawns the builtins sleep and true. Two more are optional and
// skipped, with the reason printed, while the kernel lacks them:
//
//   - heartbeat [interval]: prints one line per interval (default 100ms),
//     "hb pid=P inc=I node=N mono=T", where T is CLOCK_MONOTONIC in
//     nanoseconds read with unix.ClockGettime, so that readings from the
//     agents and from the harness, all on one host, compare. It catches
//     SIGUSR1 and SIGUSR2 and prints "sig pid=P inc=I node=N sig=S mono=T"
//     for each delivery. The suite spawns it with restart policy "always"
//     and follows its output through GET /v1/procs/{pid}/logs.
//   - the FIFO and message-queue registries: POST /v1/fifo with
//     {"path": N} or /v1/mq with {"name": N} creates a name, DELETE with
//     ?path=N or ?name=N unlinks it (RegistryRoutes, RegistryKeys). While
//     the routes answer 404 not_found, the registry workload is skipped.
//   - a WASI module (WorkloadConfig.Module, the hello world of
//     node/wasm/testdata built at test time): uploaded once as
//     ModuleProgram through PUT /v1/programs/{name}, then spawned like
//     true; it ends by itself, so "bounded programs finish" covers it.
//     Without a Go toolchain, or while the upload fails, it is skipped.
//
// # What is checked
//
// Each guarantee has a checker in checker_guarantees.go or checker_linearizable.go, and CheckAll (report.go) runs
// them all after every run: porcupine for linearizability, with the table
// model partitioned by PID and the registry model by name, under a timeout
// (on a violation the HTML visualisation is saved in the run's output
// directory), list inclusion per PID, unique PIDs, no lost spawn, one
// runner per PID, kill is final, bounded programs finish, signals at most
// once, and convergence. docs/guarantees.md lists the guarantees and, for
// each, the checkers and the scenarios that show it.
//
// The unit tests of this package run without agents: each checker against
// hand-made histories, the schedule's determinism, the argv of every
// network command, the parsing of stale names, and the whole workload
// against an in-process fake of the HTTP API, correct and with planted bugs.
// The smoke tests (-args -jepsen.smoke, as root) run the harness itself,
// namespaces and iptables included, with the test binary standing in for
// the agent.
//
// Guarantees are numbered as in docs/guarantees.md.
package jepsen
