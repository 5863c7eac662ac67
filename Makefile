# plugink — see README.md.
GO ?= go
# Every package of every module in go.work (the root module and the example).
PKGS := github.com/plugink/plugink/...

.PHONY: demo demo-loader test vet fuzz bench

## demo: the main job: the greeter switches from gRPC to a brpc plugin, static and .so.
demo:
	bash scripts/demo.sh

## demo-loader: go-micro's contract by hand: Build a .so, Load, Init, select by --client.
demo-loader:
	$(GO) run ./loader/internal/demo

## test: vet, then every test under the race detector, then a short fuzzing run.
test: vet
	$(GO) test -race -count=1 -timeout 30m $(PKGS)
	$(MAKE) fuzz

## fuzz: each fuzz target of examples/brpc-client for a few seconds (FUZZTIME).
fuzz:
	$(MAKE) -C examples/brpc-client fuzz

## vet: go vet over every module in the workspace.
vet:
	$(GO) vet $(PKGS)

## bench: the benchmarks behind docs/BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
