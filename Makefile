# vproc: make targets. `make test` is the whole test suite (it installs what
# the multi-host tests need first); `make bench` runs the benchmarks.
GO ?= go

.PHONY: test deps unit bench bench-ipc bench-cluster vet jepsen

test: deps vet unit

deps:
	@bash test/deps.sh

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-ipc:
	bash test/bench-ipc.sh

bench-cluster:
	bash test/bench-cluster.sh

# The fault suite against real agents: make jepsen DURATION=10m NODES=5 [SEED=N].
# As root it uses network namespaces and iptables; otherwise loopback with
# kill, pause, restart and membership faults only. SEED=0 picks and prints one.
DURATION ?= 3m
NODES ?= 3
SEED ?= 0
JEPSEN_TIMEOUT ?= 2h

jepsen:
	$(GO) test ./test/jepsen -run '^TestJepsen$$' -count=1 -v -timeout $(JEPSEN_TIMEOUT) \
		-args -jepsen.run -jepsen.duration=$(DURATION) -jepsen.nodes=$(NODES) -jepsen.seed=$(SEED)
