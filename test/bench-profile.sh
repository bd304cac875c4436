#!/usr/bin/env bash
# bench-profile.sh says where a replicated spawn's CPU goes (README.md,
# "Replicated spawns"). It builds vproc, starts three agents on 127.0.0.1
# with --enable-debug (fresh data directories, --bootstrap-expect 3), runs
# `vproc bench spawn` against the leader at each concurrency, takes a CPU
# profile of every agent (/debug/pprof/profile) while the load runs, and
# prints, per concurrency, the microseconds of CPU per spawn by where they
# go, summed over the three agents:
#
#   raft log writes   BoltDB StoreLogs (page writes, fdatasync)
#   applying          raft's FSM goroutine: decode, apply, events
#   raft other        raft's leader loop, replication and transport
#   HTTP              net/http's connections (the API, node reports)
#   runners           cluster/runner and the local kernel
#   scheduler         Go's scheduler (switching, idle spinning)
#   GC                the garbage collector's workers
#   rest              everything else (gossip, leases, timers)
#
# Each row is the CPU of the stacks that pass through its functions; a
# stack is counted once, in the first row that claims it, in that order.
# Profiles miss part of the kernel time that /proc counts
# (bench-cluster.sh's measure), so the totals are lower than its.
#
# Usage: test/bench-profile.sh
#        CONCURRENCY=1,256 SECONDS_PROFILED=8 test/bench-profile.sh
# Environment: CONCURRENCY (1,64,256), SECONDS_PROFILED (8; the load runs
# 4 s longer), BASE_PORT (27300: node i listens on BASE_PORT+10(i-1) for
# HTTP, +1 for raft, +2 for gossip), AGENT_FLAGS (extra flags for every
# agent), KEEP=1 keeps the temporary directory (profiles, agent logs).
set -euo pipefail

CONCURRENCY=${CONCURRENCY:-1,64,256}
SECONDS_PROFILED=${SECONDS_PROFILED:-8}
BASE_PORT=${BASE_PORT:-27300}
AGENT_FLAGS="${AGENT_FLAGS:-} --enable-debug"
NAME=bench-profile.sh
# shellcheck source=test/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

echo "building vproc" >&2
build_vproc

# seconds PROFILE FOCUS prints the CPU seconds of the stacks through FOCUS
# (a regular expression of function names), minus those through IGNORE.
seconds() {
	go tool pprof -top -nodecount=1000000 -nodefraction=0 -edgefraction=0 -focus "$2" ${3:+-ignore "$3"} "$1" 2>/dev/null |
		awk '/^Showing nodes accounting for/ {
			v = $5; sub(/,$/, "", v)
			if (v ~ /ms$/) { sub(/ms$/, "", v); v /= 1000 } else if (v ~ /s$/) { sub(/s$/, "", v) } else if (v ~ /us$/) { sub(/us$/, "", v); v /= 1e6 }
			print v + 0
		}'
}
total_seconds() {
	go tool pprof -top -nodecount=1 "$1" 2>/dev/null |
		awk '/Total samples =/ { v = $0; sub(/.*Total samples = /, "", v); sub(/ .*/, "", v)
			if (v ~ /ms$/) { sub(/ms$/, "", v); v /= 1000 } else { sub(/s$/, "", v) }
			print v + 0 }'
}

# The rows, in the order in which they claim a stack.
names=("raft log writes (BoltDB StoreLogs)" "applying the table (raft's FSM goroutine)" "raft's other work" "serving HTTP" "runners and the local kernel" "Go scheduler" "garbage collection")
focus=('StoreLogs$' 'raft\.\(\*Raft\)\.runFSM$' 'raft\.\(\*raftState\)\.goFunc|NetworkTransport\)\.(handleConn|listen)|netPipeline' 'net/http\.\(\*conn\)\.serve$' 'cluster/runner\.|node\.\(\*ProcessManager\)|node\.\(\*FairScheduler\)' '^runtime\.mcall$|^runtime\.schedule$' 'gcBgMarkWorker|bgsweep|bgscavenge')

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "## where a spawn's CPU goes"
echo
echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r), $(go version | awk '{print $3}')"
echo "- command: \`CONCURRENCY=$CONCURRENCY SECONDS_PROFILED=$SECONDS_PROFILED test/bench-profile.sh\`"
echo "- µs of CPU per spawn, three agents, over ${SECONDS_PROFILED}s of \`vproc bench spawn\` (a fresh cluster per concurrency)"
echo
header="| where |"
rule="|---|"
declare -A cell
for c in ${CONCURRENCY//,/ }; do
	start_cluster
	echo "profiling $c clients" >&2
	"$vproc" --addr "$leader_addr" bench spawn --concurrency "$c" --duration "$((SECONDS_PROFILED + 4))s" >"$work/bench-$c.txt" &
	bench=$!
	sleep 2
	curls=()
	for i in $(seq "$NODES"); do
		curl -sf -o "$work/prof-$c-n$i" "http://127.0.0.1:$(http_port "$i")/debug/pprof/profile?seconds=$SECONDS_PROFILED" &
		curls+=($!)
	done
	for p in "${curls[@]}" "$bench"; do
		wait "$p"
	done
	rate=$(awk '$1 ~ /^[0-9]+$/ && NF == 7 { print $4 }' "$work/bench-$c.txt")
	stop_cluster
	spawns=$(awk -v r="$rate" -v s="$SECONDS_PROFILED" 'BEGIN { print r * s }')
	header="$header $c clients |"
	rule="$rule---:|"
	claimed=""
	sum=0
	for k in "${!names[@]}"; do
		v=0
		for i in $(seq "$NODES"); do
			v=$(awk -v a="$v" -v b="$(seconds "$work/prof-$c-n$i" "${focus[$k]}" "$claimed")" 'BEGIN { print a + b }')
		done
		cell[$k,$c]=$(awk -v v="$v" -v n="$spawns" 'BEGIN { printf "%.1f", v * 1e6 / n }')
		sum=$(awk -v a="$sum" -v b="$v" 'BEGIN { print a + b }')
		claimed="${claimed:+$claimed|}${focus[$k]}"
	done
	t=0
	for i in $(seq "$NODES"); do
		t=$(awk -v a="$t" -v b="$(total_seconds "$work/prof-$c-n$i")" 'BEGIN { print a + b }')
	done
	cell[rest,$c]=$(awk -v t="$t" -v s="$sum" -v n="$spawns" 'BEGIN { printf "%.1f", (t - s) * 1e6 / n }')
	cell[total,$c]=$(awk -v t="$t" -v n="$spawns" 'BEGIN { printf "%.1f", t * 1e6 / n }')
	cell[rate,$c]=$rate
done
echo "$header"
echo "$rule"
for k in "${!names[@]}"; do
	line="| ${names[$k]} |"
	for c in ${CONCURRENCY//,/ }; do line="$line ${cell[$k,$c]} |"; done
	echo "$line"
done
for k in rest total rate; do
	case $k in rest) line="| the rest |" ;; total) line="| total |" ;; rate) line="| spawns/s while profiled |" ;; esac
	for c in ${CONCURRENCY//,/ }; do line="$line ${cell[$k,$c]} |"; done
	echo "$line"
done
