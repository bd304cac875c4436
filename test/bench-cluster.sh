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
AGENT_FLAGS=${AGENT_FLAGS:-}
LIFECYCLE=${LIFECYCLE:-1}
NODES=3
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()

cleanup() {
	stop_cluster
	if [ "${KEEP:-}" = 1 ]; then
		echo "bench-cluster.sh: kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building vproc and rawraft" >&2
(cd "$root" && go build -o "$work/vproc" ./cmd/vproc && go build -o "$work/rawraft" ./test/rawraft)
vproc="$work/vproc"

http_port() { echo $((BASE_PORT + 10 * ($1 - 1))); }
join=""
for i in $(seq "$NODES"); do
	join="${join:+$join,}127.0.0.1:$(($(http_port "$i") + 2))"
done

# start_cluster starts three agents with fresh data directories, waits until
# every one answers and the cluster has a leader, and sets leader_addr.
start_cluster() {
	local i p deadline
	rm -rf "$work"/n[0-9]*
	pids=()
	for i in $(seq "$NODES"); do
		p=$(http_port "$i")
		# shellcheck disable=SC2086 # AGENT_FLAGS is a list of flags
		"$vproc" agent --name "n$i" --data-dir "$work/n$i" \
			--http-addr "127.0.0.1:$p" --raft-addr "127.0.0.1:$((p + 1))" --gossip-addr "127.0.0.1:$((p + 2))" \
			--bootstrap-expect "$NODES" --join "$join" $AGENT_FLAGS >>"$work/n$i.log" 2>&1 &
		pids+=($!)
	done
	deadline=$((SECONDS + 60))
	for i in $(seq "$NODES"); do
		until "$vproc" --addr "http://127.0.0.1:$(http_port "$i")" health >/dev/null 2>&1; do
			if [ "$SECONDS" -ge "$deadline" ]; then
				echo "bench-cluster.sh: the cluster did not become healthy within 60s; agent logs:" >&2
				tail -n 20 "$work"/n*.log >&2
				exit 1
			fi
			sleep 0.2
		done
	done
	leader=$("$vproc" --addr "http://127.0.0.1:$(http_port 1)" operator raft list-peers | awk '$3 == "leader" { print $1 }')
	leader_addr="http://127.0.0.1:$(http_port "${leader#n}")"
	echo "cluster healthy; leader $leader at $leader_addr" >&2
}

# stop_cluster stops the agents and waits for them to exit.
stop_cluster() {
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	pids=()
}

# Figures go to "key value" lines: vproc_C_{rate,p50,p99,p999} (the Go
# client merging concurrent spawns, its default), unmerged_C_{rate,p50,p99}
# (--no-merge: one request per spawn) and raftR_C_{entries,records,p50,p99}
# for concurrency C and R records/entry.
# Each run has a cluster of its own: the runs are independent samples, and
# no run measures a table that earlier runs filled (exited processes stay
# in the table for --retention, an hour by default).
for run in $(seq "$RUNS"); do
	start_cluster
	echo "run $run/$RUNS: vproc bench spawn" >&2
	"$vproc" --addr "$leader_addr" bench spawn --concurrency "$CONCURRENCY" --duration "$DURATION" |
		tee -a "$work/vproc.raw" |
		awk '$1 ~ /^[0-9]+$/ && NF == 7 {
			for (i = 1; i <= 7; i++) { gsub(/ms/, "", $i) }
			print "vproc_" $1 "_rate", $4; print "vproc_" $1 "_p50", $5
			print "vproc_" $1 "_p99", $6; print "vproc_" $1 "_p999", $7
		}' >>"$work/figures.txt"
	echo "run $run/$RUNS: vproc bench spawn --no-merge" >&2
	"$vproc" --addr "$leader_addr" bench spawn --no-merge --concurrency "$CONCURRENCY" --duration "$DURATION" |
		tee -a "$work/vproc-nomerge.raw" |
		awk '$1 ~ /^[0-9]+$/ && NF == 7 {
			for (i = 1; i <= 7; i++) { gsub(/ms/, "", $i) }
			print "unmerged_" $1 "_rate", $4; print "unmerged_" $1 "_p50", $5
			print "unmerged_" $1 "_p99", $6
		}' >>"$work/figures.txt"
	if [ "$LIFECYCLE" = 1 ]; then
		echo "run $run/$RUNS: vproc bench lifecycle" >&2
		"$vproc" --addr "$leader_addr" bench lifecycle --concurrency "$CONCURRENCY" --duration "$DURATION" |
			tee -a "$work/lifecycle.raw" |
			awk '$1 ~ /^[0-9]+$/ && NF == 7 {
				for (i = 1; i <= 7; i++) { gsub(/ms/, "", $i) }
				print "life_" $1 "_rate", $4; print "life_" $1 "_p50", $5; print "life_" $1 "_p99", $6
			}' >>"$work/figures.txt"
		echo "run $run/$RUNS: fork+exec+wait of /bin/true" >&2
		(cd "$root" && go test -run '^$' -bench 'ForkExecTrue' -benchtime 2s ./node/) |
			awk '/lifecycles\/s/ { for (i = 1; i <= NF; i++) if ($(i+1) == "lifecycles/s") print "forkexec_rate", $i }' >>"$work/figures.txt"
	fi
	stop_cluster
	echo "run $run/$RUNS: rawraft" >&2
	"$work/rawraft" --concurrency "$CONCURRENCY" --duration "$DURATION" --records 1,100 |
		tee -a "$work/rawraft.raw" |
		awk -F'|' '$2 ~ /^ *[0-9]+ *$/ {
			for (i = 2; i <= 8; i++) { gsub(/ |ms/, "", $i) }
			k = "raft" $3 "_" $2
			print k "_entries", $4; print k "_records", $5; print k "_p50", $6; print k "_p99", $7
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
- each figure is the median of $RUNS runs; latencies in ms
INFO
echo
echo "| concurrency | vproc spawns/s | vproc p50 / p99 / p999 | unmerged spawns/s | unmerged p50 / p99 | raft entries/s (1 rec) | raft p50 / p99 | raft records/s (100 rec/entry) | raft p50 / p99 | vproc ÷ raft (1 rec) | unmerged ÷ raft | vproc ÷ 100-rec ceiling |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in ${CONCURRENCY//,/ }; do
	vr=$(median "vproc_${c}_rate")
	ur=$(median "unmerged_${c}_rate")
	r1=$(median "raft1_${c}_entries")
	r100=$(median "raft100_${c}_records")
	awk -v c="$c" -v vr="$vr" -v ur="$ur" -v r1="$r1" -v r100="$r100" \
		-v v50="$(median "vproc_${c}_p50")" -v v99="$(median "vproc_${c}_p99")" -v v999="$(median "vproc_${c}_p999")" \
		-v u50="$(median "unmerged_${c}_p50")" -v u99="$(median "unmerged_${c}_p99")" \
		-v a50="$(median "raft1_${c}_p50")" -v a99="$(median "raft1_${c}_p99")" \
		-v b50="$(median "raft100_${c}_p50")" -v b99="$(median "raft100_${c}_p99")" '
	function ratio(a, b) { return (a == "n/a" || b == "n/a" || b == 0) ? "n/a" : sprintf("%.2f", a / b) }
	BEGIN {
		ceil = (vr == "n/a" || r100 == "n/a" || r100 == 0) ? "n/a" : sprintf("%.1f %%", 100 * vr / r100)
		printf "| %s | %s | %s / %s / %s | %s | %s / %s | %s | %s / %s | %s | %s / %s | %s | %s | %s |\n",
			c, vr, v50, v99, v999, ur, u50, u99, r1, a50, a99, r100, b50, b99, ratio(vr, r1), ratio(ur, r1), ceil
	}'
done

if [ "$LIFECYCLE" = 1 ]; then
	echo
	echo "## whole lifecycles (spawn, run \`true\`, exit, wait): vproc vs fork+exec+wait"
	echo
	echo "fork+exec+wait of /bin/true on this machine, one after the other: $(median forkexec_rate)/s (median)"
	echo
	echo "| concurrency | vproc lifecycles/s | p50 / p99 ms | ÷ fork+exec+wait |"
	echo "|---:|---:|---:|---:|"
	fe=$(median forkexec_rate)
	for c in ${CONCURRENCY//,/ }; do
		lr=$(median "life_${c}_rate")
		awk -v c="$c" -v lr="$lr" -v fe="$fe" -v p50="$(median "life_${c}_p50")" -v p99="$(median "life_${c}_p99")" '
		BEGIN {
			r = (lr == "n/a" || fe == "n/a" || fe == 0) ? "n/a" : sprintf("%.1f", lr / fe)
			printf "| %s | %s | %s / %s | %s |\n", c, lr, p50, p99, r
		}'
	done
fi
