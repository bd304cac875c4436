package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples are the examples each verb's --help shows, by command path.
// They are kept here, in one place, so that they read as one set: the
// same names, PIDs and queues from verb to verb. TestEveryVerbHasExamples
// fails for a verb without one.
var examples = map[string]string{
	"vproc agent": `
# One node on this machine, in memory, on the default ports
vproc agent --dev

# A second server on the same machine, joining the first over gossip
vproc agent --name n2 --data-dir /var/lib/vproc/n2 --http-addr 127.0.0.1:12070 --raft-addr 127.0.0.1:12071 --gossip-addr 127.0.0.1:12072 --join 127.0.0.1:7072

# The settings a config file and flags add up to, without starting
vproc agent --config /etc/vproc/agent.hcl --log-level debug --print-config`,
	"vproc spawn": `
# Start a process and keep its PID
pid=$(vproc spawn -- sleep 60)

# With a priority, limits, a restart policy and an environment
vproc spawn --priority 80 --limit cpu=2s:5s,mem=64M --restart on-failure:3 --env MODE=fast -- worker

# Only on nodes labelled zone=a, next to the queue it reads
vproc spawn --constraint zone=a --uses mq:/jobs -- worker`,
	"vproc run": `
# Run a command and exit with its code
vproc run -- echo hi

# A pipeline, inside the cluster's shell
vproc run -- sh -c 'yes | head -n 3 | wc -l'

# Feed it standard input
printf 'b\na\n' | vproc run -i -- sort

# Upload a WebAssembly module and run it
vproc run --wasm ./hello.wasm -- world`,
	"vproc ps": `
# The live processes
vproc ps

# With exited and lost ones, as JSON
vproc ps -a -o json`,
	"vproc top": `
# Refresh every 2 seconds until Ctrl-C
vproc top

# One refresh, for a script
vproc top --once -o json`,
	"vproc kill": `
# SIGTERM to one process
vproc kill 42

# SIGKILL to two processes
vproc kill -s KILL 42 43

# SIGHUP to the whole process group 40
vproc kill -s HUP -- -40`,
	"vproc wait": `
# Wait for one process and exit with its code
vproc wait 42

# Wait for several; on a terminal it shows how many have exited
vproc wait 42 43 44

# Their final statuses as JSON
vproc wait -o json 42 43`,
	"vproc logs": `
# Everything process 42 wrote so far
vproc logs 42

# Follow its output until it exits, each line with its time
vproc logs -f -t 42

# Only its standard error of the last ten minutes
vproc logs --stream stderr --since 10m 42

# The last 20 lines, then follow
vproc logs --tail 20 -f 42`,
	"vproc nodes": `
vproc nodes
vproc nodes -o json`,
	"vproc health": `
# Exit 0 when the cluster has a leader (a readiness probe)
vproc health

# Exit 0 when the agent answers at all (a liveness probe)
vproc health --agent-only

vproc health -o json`,
	"vproc operator raft list-peers": `
vproc operator raft list-peers
vproc operator raft list-peers -o json`,
	"vproc operator keyring install": `
# Rotate the gossip key: install the new one everywhere, use it, remove the old one
vproc operator keyring install "$(vproc keygen)"`,
	"vproc operator keyring use": `
vproc operator keyring use pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=`,
	"vproc operator keyring remove": `
vproc operator keyring remove 4kOq+U3M6lQrQ7RZ8y4c1Y4mS0bRTbgx0n0bVJ4iB5U=`,
	"vproc operator keyring list": `
vproc operator keyring list`,
	"vproc operator scheduler get-config": `
vproc operator scheduler get-config`,
	"vproc operator scheduler set-config": `
# Fill each node before the next one
vproc operator scheduler set-config --strategy binpack`,
	"vproc snapshot save": `
# Save the table to a file, or stream it elsewhere
vproc snapshot save backup.snap
vproc snapshot save - | gzip > backup.snap.gz`,
	"vproc snapshot restore": `
vproc snapshot restore backup.snap
gunzip -c backup.snap.gz | vproc snapshot restore -`,
	"vproc bench spawn": `
# Spawns per second at 1, 16, 64 and 256 concurrent clients, 10s each
vproc bench spawn

# 1000 spawns at concurrency 32, one request per spawn
vproc bench spawn --concurrency 32 --count 1000 --no-merge

# Spawn something else than true
vproc bench spawn --duration 5s -- sleep 0`,
	"vproc bench lifecycle": `
# Whole lifecycles (spawn, run, exit, wait) at 1 and 16 clients
vproc bench lifecycle --concurrency 1,16 --duration 5s -o json`,
	"vproc mq create": `
# A queue of up to 100 messages of up to 1 KiB, on node n2
vproc mq create --node n2 --maxmsg 100 --msgsize 1024 /jobs`,
	"vproc mq send": `
vproc mq send /jobs "resize photo.jpg"

# Priority 10 (received first), failing after 2 seconds when the queue stays full
vproc mq send -p 10 --timeout 2s /jobs urgent`,
	"vproc mq recv": `
vproc mq recv /jobs

# Fail at once when the queue is empty
vproc mq recv --nonblock /jobs`,
	"vproc mq ls": `
vproc mq ls`,
	"vproc mq rm": `
vproc mq rm /jobs`,
	"vproc fifo create": `
vproc fifo create --node n1 /run/events`,
	"vproc fifo ls": `
vproc fifo ls -o json`,
	"vproc fifo rm": `
vproc fifo rm /run/events`,
	"vproc shm ls": `
vproc shm ls`,
	"vproc shm rm": `
vproc shm rm /frames`,
	"vproc program add": `
# Upload a WASI module as the program "hello", then run it
vproc program add hello ./hello.wasm
vproc run -- hello world`,
	"vproc program ls": `
vproc program ls`,
	"vproc program show": `
vproc program show hello`,
	"vproc program rm": `
vproc program rm hello`,
	"vproc version": `
vproc version`,
	"vproc acl bootstrap": `
# The first management token, its secret only
export VPROC_TOKEN=$(vproc acl bootstrap -q)`,
	"vproc acl token create": `
# A token for alice, with at most 100 live processes
vproc acl token create --user alice --max-procs 100

# A management token, its secret only
vproc acl token create --user ops --policy management -q`,
	"vproc acl token list": `
vproc acl token list`,
	"vproc acl token delete": `
vproc acl token delete 2b7c1f4e-5d0a-4c1e-9a57-3f2d8c9b6e10`,
	"vproc acl token self": `
vproc acl token self -o json`,
	"vproc tls ca create": `
vproc tls ca create --dir /etc/vproc`,
	"vproc tls cert create": `
# A node's certificate, and one for the command line
vproc tls cert create --server --node n1
vproc tls cert create --client`,
	"vproc keygen": `
vproc agent --encrypt "$(vproc keygen)"`,
	"vproc completion bash": `
source <(vproc completion bash)`,
	"vproc completion zsh": `
source <(vproc completion zsh)`,
	"vproc completion fish": `
vproc completion fish | source`,
}

// addExamples gives each command of root its examples, indented as cobra
// shows them, unless it has some of its own.
func addExamples(root *cobra.Command) {
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		if ex, ok := examples[cmd.CommandPath()]; ok && cmd.Example == "" {
			cmd.Example = indent(strings.TrimSpace(ex))
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// indent puts two spaces before each line that is not empty.
func indent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "\n")
}
