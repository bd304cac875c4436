# vproc agent configuration shared by the nodes of deploy/docker-compose.yml.
# Each node adds its own --name and --advertise on the command line (flags
# override this file). `vproc agent --config FILE --print-config` shows
# every key with its effective value.

data_dir = "/data"

# Listen on every interface of the container; the other nodes and the
# published port reach it through the compose network.
http_addr   = "0.0.0.0:7070"
raft_addr   = "0.0.0.0:7071"
gossip_addr = "0.0.0.0:7072"

# The three nodes bootstrap the cluster together once they see each other;
# compose service names resolve on the compose network.
bootstrap_expect = 3
join             = ["vproc1:7072", "vproc2:7072", "vproc3:7072"]

# Exited processes spawned from the command line stay visible (ps -a,
# wait) this long. SIGHUP re-reads it, and log_level.
retention = "1h"
log_level = "info"
