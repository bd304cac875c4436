# /etc/vproc/agent.hcl: the configuration of one vproc node run by systemd
# (deploy/systemd/vproc.service reads every *.hcl and *.json file of
# /etc/vproc, in lexical order). Every agent flag has a key, named as the
# flag with '_' for '-'; a flag on the command line overrides its key.
# `vproc agent --config /etc/vproc --print-config` shows every setting in
# effect.

# The node's name, unique in the cluster; the host name when not set.
# name = "node1"

data_dir = "/var/lib/vproc"

# Listen on every interface; advertise the address other nodes and clients
# use (an IP, or a name resolved when the agent starts). Without it, the
# first private IPv4 address of the machine.
http_addr   = "0.0.0.0:7070"
raft_addr   = "0.0.0.0:7071"
gossip_addr = "0.0.0.0:7072"
# advertise = "10.0.0.1"

# Three servers bootstrap the cluster together; each joins the others'
# gossip address (its own may be listed too).
bootstrap_expect = 3
join             = ["10.0.0.1:7072", "10.0.0.2:7072", "10.0.0.3:7072"]

# What this node offers to placement, and labels for spawn --constraint.
# cpus   = 8
# memory = "16G"
labels = { rack = "r1" }

# Reloaded on SIGHUP (systemctl reload vproc).
retention = "1h"
log_level = "info"

# Within systemd's TimeoutStopSec (45s).
shutdown_timeout = "30s"
