#!/usr/bin/env bash
# bench-ipc.sh compares the ipc package's pipes and message queues with the
# Linux kernel's own, on this machine and in the same run. It builds the C
# baseline (test/baseline/ipcbench.c) and the ipc benchmark binary, runs both
# RUNS times, interleaved, and prints a markdown table of the medians.
#
# Usage: test/bench-ipc.sh            (RUNS=5 BENCHTIME=1s by default)
#        RUNS=3 BENCHTIME=500ms test/bench-ipc.sh
set -euo pipefail

RUNS=${RUNS:-5}
BENCHTIME=${BENCHTIME:-1s}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v gcc >/dev/null || { echo "bench-ipc.sh: gcc is required" >&2; exit 1; }
gcc -O2 -o "$work/ipcbench" "$root/test/baseline/ipcbench.c" -lrt
(cd "$root" && go test -c -o "$work/ipc.test" ./ipc)

# go_figures turns Go benchmark output into the "key value" lines the C
# baseline prints.
go_figures() {
	awk '/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name)
		mbs = msgs = ns = ""
		for (i = 2; i <= NF; i++) {
			if ($i == "MB/s") mbs = $(i-1)
			if ($i == "msgs/s") msgs = $(i-1)
			if ($i == "ns/op") ns = $(i-1)
		}
		if (name == "BenchmarkPipeThroughput/write=4KiB") print "pipe_4k_gbps", mbs / 1000
		else if (name == "BenchmarkPipeThroughput/write=64KiB") print "pipe_64k_gbps", mbs / 1000
		else if (name ~ /^BenchmarkMQThroughput\/maxmsg=/) { m = name; sub(/.*=/, "", m); print "mq_" m "_msgs", msgs }
		else if (name == "BenchmarkPipePingPong") print "pipe_pingpong_ns", ns
		else if (name == "BenchmarkMQPingPong") print "mq_pingpong_ns", ns
	}'
}

for i in $(seq "$RUNS"); do
	echo "run $i/$RUNS" >&2
	(cd "$root/ipc" && "$work/ipc.test" -test.run '^$' \
		-test.bench '^Benchmark(Pipe|MQ)(Throughput|PingPong)$' \
		-test.benchtime "$BENCHTIME") | tee -a "$work/go.raw" | go_figures >>"$work/go.txt"
	"$work/ipcbench" >>"$work/linux.txt"
done

# median FILE KEY prints the median of KEY's numeric values in FILE, or n/a.
median() {
	awk -v k="$2" '$1 == k && $2 ~ /^[0-9.eE+-]+$/ { print $2 }' "$1" | sort -g |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "n/a"; exit }
			if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

# row LABEL KEY SCALE DIGITS prints one table row; values are divided by
# SCALE and shown with DIGITS decimals.
row() {
	local g l
	g=$(median "$work/go.txt" "$2")
	l=$(median "$work/linux.txt" "$2")
	awk -v label="$1" -v g="$g" -v l="$l" -v s="$3" -v d="$4" 'BEGIN {
		fg = (g == "n/a") ? "n/a" : sprintf("%." d "f", g / s)
		fl = (l == "n/a") ? "n/a" : sprintf("%." d "f", l / s)
		r = (g == "n/a" || l == "n/a" || l == 0) ? "n/a" : sprintf("%.2f×", g / l)
		printf "| %s | %s | %s | %s |\n", label, fg, fl, r
	}'
}

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mqnote=$(grep -h '^mq_.*n/a' "$work/linux.txt" | sort -u | sed 's/^[^#]*# */  - Linux: /' || true)

cat <<INFO
## ipc benchmarks: vproc vs the Linux kernel

- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r)
- toolchain: $(go version | awk '{print $3}'), $(gcc --version | head -1)
- command: \`RUNS=$RUNS BENCHTIME=$BENCHTIME test/bench-ipc.sh\`
- each figure is the median of $RUNS runs; vproc runs producer and consumer as two
  goroutines of one process (\`go test -bench\`), Linux as two processes (fork)
- message queues carry 64-byte messages with msgsize 64; ping-pong sends 1 byte
  over a pipe pair and a 64-byte message over a queue pair (maxmsg 10)
- ratio is vproc ÷ Linux: above 1 is better for throughput, below 1 for latency
INFO
if [ -n "$mqnote" ]; then
	echo "- queues the kernel refused to create (unprivileged limit fs.mqueue.msg_max = $(cat /proc/sys/fs/mqueue/msg_max 2>/dev/null || echo '?')):"
	echo "$mqnote"
fi
echo
echo "| measure | vproc ipc | Linux kernel | ratio |"
echo "|---|---:|---:|---:|"
row "pipe throughput, 4 KiB writes (GB/s)" pipe_4k_gbps 1 2
row "pipe throughput, 64 KiB writes (GB/s)" pipe_64k_gbps 1 2
row "mq throughput, maxmsg 10 (M msgs/s)" mq_10_msgs 1e6 2
row "mq throughput, maxmsg 256 (M msgs/s)" mq_256_msgs 1e6 2
row "mq throughput, maxmsg 1024 (M msgs/s)" mq_1024_msgs 1e6 2
row "pipe ping-pong round trip (ns)" pipe_pingpong_ns 1 0
row "mq ping-pong round trip (ns)" mq_pingpong_ns 1 0
