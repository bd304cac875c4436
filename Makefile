# vproc: make targets. `make test` is the whole test suite (it installs what
# the multi-host tests need first); `make check` is the quick gate before a
# commit; `make bench` runs the benchmarks.
GO ?= go

# staticcheck, pinned; `go run` fetches and builds it once into Go's caches.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test check fmt staticcheck short deps unit bench bench-ipc bench-cluster bench-profile vet jepsen jepsen-ci image release deploy-test k8s-test cli-docs

# Every stage runs even when an earlier one fails (a failed unit test
# does not skip the fault suite), and `make test` fails if any did.
test: deps vet
	@status=0; \
	$(MAKE) --no-print-directory unit || status=1; \
	$(MAKE) --no-print-directory k8s-test || status=1; \
	$(MAKE) --no-print-directory deploy-test || status=1; \
	$(MAKE) --no-print-directory jepsen-ci || status=1; \
	exit $$status

deps:
	@bash test/deps.sh

vet:
	$(GO) vet ./...

# The quick gate, a few minutes at most: formatting, vet, staticcheck (its
# checks are chosen in staticcheck.conf), and the unit tests with -short,
# without -race and without the fault suite. `make test` stays the full gate.
check: fmt vet staticcheck short

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$out"; exit 1; fi

staticcheck:
	$(STATICCHECK) ./...

short:
	$(GO) test -short -count=1 -timeout 5m ./...

# VPROC_REQUIRE_BROWSER=1: the web console's browser test fails, instead of
# skipping, when chromium is missing (test/deps.sh installs it).
# The package cluster runs real 3- and 5-node clusters in one process,
# with raft's timing: it runs alone, so that headless Chromium, module
# compiles and the other packages' tests do not starve its elections;
# the other packages then run side by side. Both always run.
unit:
	@status=0; \
	$(GO) test -race -count=1 -timeout 20m ./cluster || status=1; \
	VPROC_REQUIRE_BROWSER=1 $(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -vx 'github.com/vproc/vproc/cluster') || status=1; \
	exit $$status

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The CLI reference in docs/cli, rewritten from the command tree (a test in
# cmd/vproc fails when it is out of date).
cli-docs:
	$(GO) generate ./cmd/vproc

bench-ipc:
	bash test/bench-ipc.sh

bench-cluster:
	bash test/bench-cluster.sh

# Where a replicated spawn's CPU goes, from profiles of three agents.
bench-profile:
	bash test/bench-profile.sh

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

# The fault suite's gate, after the unit tests in `make test`: every scripted
# scenario (the broken builds must be caught, the normal build must pass,
# the regressions must stay fixed), then a mixed-fault random run of
# CI_DURATION with every fault kind. Both always run; what a crashed run
# left behind (namespaces, agents, links) is removed whatever the outcome.
# SEED=0 picks a seed and prints it first ("seed=N"); SEED=N replays it.
CI_DURATION ?= 3m

jepsen-ci:
	@status=0; \
	$(GO) test ./test/jepsen -run '^TestScenario$$' -count=1 -v -timeout 15m -args -jepsen.scenarios || status=1; \
	$(GO) test ./test/jepsen -run '^TestJepsen$$' -count=1 -v -timeout 12m \
		-args -jepsen.run -jepsen.duration=$(CI_DURATION) -jepsen.nodes=3 -jepsen.seed=$(SEED) || status=1; \
	$(GO) test ./test/jepsen -run '^TestCleanup$$' -count=1 -v -args -jepsen.cleanup || status=1; \
	exit $$status

# Deployment (deploy/). The version stamped into binaries and images:
# `vproc version` prints it with the commit.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
IMAGE ?= vproc:latest
DIST ?= dist
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64

# The container image: the static binary FROM scratch (deploy/Dockerfile).
image:
	sh deploy/build-image.sh $(IMAGE) $(VERSION) $(COMMIT)

# Static binaries for each platform, with the version stamped in, and a
# SHA256SUMS file: dist/vproc-VERSION-OS-ARCH.
release:
	rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=$(DIST)/vproc-$(VERSION)-$$os-$$arch; \
		echo "building $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath \
			-ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $$out ./cmd/vproc; \
	done
	cd $(DIST) && sha256sum vproc-* > SHA256SUMS && cat SHA256SUMS

# The 3-node Compose cluster, for real, where a Docker engine answers
# (skipped with one line otherwise). The test tears its cluster and image
# down itself, even on failure or interrupt; the cleanup step removes what
# a killed run may have left.
DEPLOY_TIMEOUT ?= 20m

deploy-test:
	@status=0; \
	$(GO) test ./test/deploy -run '^TestCompose$$' -count=1 -v -timeout $(DEPLOY_TIMEOUT) -args -deploy.run || status=1; \
	$(GO) test ./test/deploy -run '^TestCleanup$$' -count=1 -v -args -deploy.cleanup || status=1; \
	exit $$status

# The Kubernetes manifests, decoded strictly with the API types. A module
# of its own (deploy/k8s/go.mod), so that vproc's own does not carry
# k8s.io/api and k8s.io/apimachinery.
k8s-test:
	cd deploy/k8s && $(GO) test -count=1 ./...
