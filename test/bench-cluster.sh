#!/usr/bin/env bash
# bench-cluster.sh measures spawns on a real three-node vproc cluster next to
# the raw raft baseline (test/rawraft), on this machine and in the same run
# (DESIGN.md, "Tests → Benchmarks"). It builds vproc and rawraft; then, RUNS
# times, it starts three fresh agents on 127.0.0.1 (data directories in a
# temporary directory, --bootstrap-expect 3), waits until `vproc health`
# passes, runs `vproc bench spawn` against the leader (merged, the Go
# client's default, and --no-merge) at each concurrency, stops the agents
# and runs rawraft at the same concurrencies; it prints the medians side by
# side. It stops the agents and removes everything on exit.
#
# Usage: test/bench-cluster.sh
#        RUNS=3 DURATION=5s CONCURRENCY=1,16,64 test/bench-cluster.sh
# Environment: RUNS (3), DURATION (10s per concurrency), CONCURRENCY
# (1,16,64,256), LIFECYCLE (1: also `vproc bench lifecycle` and fork+exec+wait
# of /bin/true beside it; 0 skips them), BASE_PORT (27100: node i listens on BASE_PORT+10(i-1) for
# HTTP, +1 for raft, +2 for gossip), AGENT_FLAGS (extra flags for every
# agent), KEEP=1 keeps the temporary directory (agent logs, raw output).
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-1,16,64,256}
BASE_PORT=${BASE_PORT:-27100}
LIFECYCLE=${LIFECYCLE:-1}
NAME=bench-cluster.sh
# shellcheck source=test/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

echo "building vproc and rawraft" >&2
build_vproc
(cd "$root" && go build -o "$work/rawraft" ./test/rawraft)

# agent_ticks prints the CPU time the agents have used so far, user and
# system (utime + stime of /proc/PID/stat), in clock ticks.
agent_ticks() {
	local pid total=0 f
	for pid in "${pids[@]}"; do
		# The fields after the command name, which ends with the last ')'.
		f=$(sed 's/.*) //' "/proc/$pid/stat")
		total=$((total + $(echo "$f" | awk '{ print $12 + $13 }')))
	done
	echo "$total"
}
hz=$(getconf CLK_TCK)

# bench PREFIX VERB [FLAGS]: runs `vproc bench VERB` against the leader at
# each concurrency, one invocation per concurrency, and records the rate,
# the latencies and the agents' CPU per acknowledged operation (µs) over
# the invocation as PREFIX_C_{rate,p50,p99,p999,cpu}.
bench() {
	local prefix=$1 verb=$2 c t0 t1 out
	shift 2
	for c in ${CONCURRENCY//,/ }; do
		t0=$(agent_ticks)
		out=$("$vproc" --addr "$leader_addr" bench "$verb" "$@" --concurrency "$c" --duration "$DURATION")
		t1=$(agent_ticks)
		echo "$out" >>"$work/$prefix.raw"
		echo "$out" | awk -v p="$prefix" -v ticks=$((t1 - t0)) -v hz="$hz" '$1 ~ /^[0-9]+$/ && NF == 7 {
			for (i = 1; i <= 7; i++) { gsub(/ms/, "", $i) }
			print p "_" $1 "_rate", $4; print p "_" $1 "_p50", $5
			print p "_" $1 "_p99", $6; print p "_" $1 "_p999", $7
			if ($2 > 0) print p "_" $1 "_cpu", ticks * 1e6 / hz / $2
		}' >>"$work/figures.txt"
	done
}

# Figures go to "key value" lines: vproc_C_{rate,p50,p99,p999,cpu} (the Go
# client merging concurrent spawns, its default), unmerged_C_{...}
# (--no-merge: one request per spawn), life_C_{...} (lifecycles) and
# raftR_C_{entries,records,p50,p99,cpu} for concurrency C and R
# records/entry. cpu is CPU µs per acknowledged operation: the three
# agents' (utime + stime from /proc/PID/stat over each `vproc bench`
# invocation, the client excluded), raw raft's one process over its
# measured window.
# Each run has a cluster of its own: the runs are independent samples, and
# no run measures a table that earlier runs filled (exited processes stay
# in the table for --retention, an hour by default).
for run in $(seq "$RUNS"); do
	start_cluster
	echo "run $run/$RUNS: vproc bench spawn" >&2
	bench vproc spawn
	echo "run $run/$RUNS: vproc bench spawn --no-merge" >&2
	bench unmerged spawn --no-merge
	if [ "$LIFECYCLE" = 1 ]; then
		echo "run $run/$RUNS: vproc bench lifecycle" >&2
		bench life lifecycle
		echo "run $run/$RUNS: fork+exec+wait of /bin/true" >&2
		(cd "$root" && go test -run '^$' -bench 'ForkExecTrue' -benchtime 2s ./node/) |
			awk '/lifecycles\/s/ { for (i = 1; i <= NF; i++) if ($(i+1) == "lifecycles/s") print "forkexec_rate", $i }' >>"$work/figures.txt"
	fi
	stop_cluster
	echo "run $run/$RUNS: rawraft" >&2
	"$work/rawraft" --concurrency "$CONCURRENCY" --duration "$DURATION" --records 1,100 |
		tee -a "$work/rawraft.raw" |
		awk -F'|' '$2 ~ /^ *[0-9]+ *$/ {
			for (i = 2; i <= 9; i++) { gsub(/ |ms/, "", $i) }
			k = "raft" $3 "_" $2
			print k "_entries", $4; print k "_records", $5; print k "_p50", $6; print k "_p99", $7; print k "_cpu", $9
		}' >>"$work/figures.txt"
done

# median KEY prints the median of KEY's values, or n/a.
median() {
	awk -v k="$1" '$1 == k && $2 ~ /^[0-9.eE+-]+$/ { print $2 }' "$work/figures.txt" | sort -g |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "n/a"; exit }
			if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cat <<INFO
## spawn throughput: vproc vs raw raft

- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r), $(go version | awk '{print $3}')
- command: \`RUNS=$RUNS DURATION=$DURATION CONCURRENCY=$CONCURRENCY test/bench-cluster.sh\`
- vproc: three agents on 127.0.0.1 with raft-boltdb stores, \`vproc bench spawn\` spawning
  \`true\` against the leader ($leader) through the Go client; a spawn counts when its PID
  returns (spawn entry and placement committed); "vproc" lets the client merge concurrent
  spawns into shared requests (its default), "unmerged" sends one request per spawn
- raw raft: the same three-node raft, store and timing in one process (test/rawraft), a
  ~100-byte record per entry, and 100 records per entry (the ceiling)
- CPU µs per acknowledged operation: the three agents' utime + stime (/proc/PID/stat) over
  each \`vproc bench\` invocation (one per concurrency; the client excluded), raw raft's one
  process (servers and load generator) over its measured window
- each figure is the median of $RUNS runs; latencies in ms; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)
INFO
echo
echo "| concurrency | vproc spawns/s | vproc p50 / p99 / p999 | vproc CPU µs/spawn | unmerged spawns/s | unmerged p50 / p99 | unmerged CPU µs/spawn | raft entries/s (1 rec) | raft p50 / p99 | raft CPU µs/entry | raft records/s (100 rec/entry) | raft p50 / p99 | vproc ÷ raft (1 rec) | unmerged ÷ raft | vproc CPU ÷ raft CPU | vproc ÷ 100-rec ceiling |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in ${CONCURRENCY//,/ }; do
	vr=$(median "vproc_${c}_rate")
	ur=$(median "unmerged_${c}_rate")
	r1=$(median "raft1_${c}_entries")
	r100=$(median "raft100_${c}_records")
	awk -v c="$c" -v vr="$vr" -v ur="$ur" -v r1="$r1" -v r100="$r100" \
		-v v50="$(median "vproc_${c}_p50")" -v v99="$(median "vproc_${c}_p99")" -v v999="$(median "vproc_${c}_p999")" \
		-v u50="$(median "unmerged_${c}_p50")" -v u99="$(median "unmerged_${c}_p99")" \
		-v a50="$(median "raft1_${c}_p50")" -v a99="$(median "raft1_${c}_p99")" \
		-v b50="$(median "raft100_${c}_p50")" -v b99="$(median "raft100_${c}_p99")" \
		-v vc="$(median "vproc_${c}_cpu")" -v uc="$(median "unmerged_${c}_cpu")" -v rc="$(median "raft1_${c}_cpu")" '
	function ratio(a, b) { return (a == "n/a" || b == "n/a" || b == 0) ? "n/a" : sprintf("%.2f", a / b) }
	function us(a) { return a == "n/a" ? a : sprintf("%.1f", a) }
	BEGIN {
		ceil = (vr == "n/a" || r100 == "n/a" || r100 == 0) ? "n/a" : sprintf("%.1f %%", 100 * vr / r100)
		printf "| %s | %s | %s / %s / %s | %s | %s | %s / %s | %s | %s | %s / %s | %s | %s | %s / %s | %s | %s | %s | %s |\n",
			c, vr, v50, v99, v999, us(vc), ur, u50, u99, us(uc), r1, a50, a99, us(rc), r100, b50, b99,
			ratio(vr, r1), ratio(ur, r1), ratio(vc, rc), ceil
	}'
done

if [ "$LIFECYCLE" = 1 ]; then
	echo
	echo "## whole lifecycles (spawn, run \`true\`, exit, wait): vproc vs fork+exec+wait"
	echo
	echo "fork+exec+wait of /bin/true on this machine, one after the other: $(median forkexec_rate)/s (median)"
	echo
	echo "| concurrency | vproc lifecycles/s | p50 / p99 ms | agents' CPU µs/lifecycle | ÷ fork+exec+wait |"
	echo "|---:|---:|---:|---:|---:|"
	fe=$(median forkexec_rate)
	for c in ${CONCURRENCY//,/ }; do
		lr=$(median "life_${c}_rate")
		awk -v c="$c" -v lr="$lr" -v fe="$fe" -v p50="$(median "life_${c}_p50")" -v p99="$(median "life_${c}_p99")" \
			-v cpu="$(median "life_${c}_cpu")" '
		BEGIN {
			r = (lr == "n/a" || fe == "n/a" || fe == 0) ? "n/a" : sprintf("%.1f", lr / fe)
			if (cpu != "n/a") cpu = sprintf("%.1f", cpu)
			printf "| %s | %s | %s / %s | %s | %s |\n", c, lr, p50, p99, cpu, r
		}'
	done
fi
