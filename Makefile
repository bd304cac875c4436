# vproc: make targets. `make test` is the whole test suite (it installs what
# the multi-host tests need first); `make bench` runs the benchmarks.
GO ?= go

.PHONY: test deps unit bench bench-ipc vet

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
