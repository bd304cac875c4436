# bench-lib.sh is sourced by the cluster benchmark drivers
# (bench-cluster.sh, bench-profile.sh): a three-agent cluster on
# 127.0.0.1 that they start fresh and stop, and their temporary directory.
#
# The sourcing script sets NAME (its name, for messages) and may set
# BASE_PORT (node i listens on BASE_PORT+10(i-1) for HTTP, +1 for raft, +2
# for gossip), AGENT_FLAGS (extra flags for every agent) and KEEP=1 (keep
# the temporary directory). It gets root, work (the temporary directory,
# removed on exit), vproc (built into work by build_vproc), start_cluster,
# stop_cluster (also run on exit), pids, leader and leader_addr.

NODES=3
AGENT_FLAGS=${AGENT_FLAGS:-}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
vproc="$work/vproc"
pids=()

cleanup() {
	stop_cluster
	if [ "${KEEP:-}" = 1 ]; then
		echo "$NAME: kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# build_vproc builds the vproc binary into the temporary directory.
build_vproc() {
	(cd "$root" && go build -o "$vproc" ./cmd/vproc)
}

http_port() { echo $((BASE_PORT + 10 * ($1 - 1))); }
join=""
for i in $(seq "$NODES"); do
	join="${join:+$join,}127.0.0.1:$(($(http_port "$i") + 2))"
done

# start_cluster starts three agents with fresh data directories, waits until
# every one answers and the cluster has a leader, and sets leader and
# leader_addr.
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
				echo "$NAME: the cluster did not become healthy within 60s; agent logs:" >&2
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
