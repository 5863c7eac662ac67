# plugink — see README.md.
GO ?= go
# Every package of every module in go.work (the root module and the example).
PKGS := github.com/plugink/plugink/...

.PHONY: demo demo-loader test test-short mutation vet bench

## demo: the main job: the greeter switches from gRPC to a brpc plugin, static and .so.
demo:
	bash scripts/demo.sh

## demo-loader: go-micro's contract by hand: Build a .so, Load, Init, select by --client.
demo-loader:
	$(GO) run ./loader/internal/demo

## test: vet, then every test under the race detector, then the loader's
## mutation test (10,000 damaged plugins, in child processes) without it.
test: vet
	$(GO) test -race -count=1 -timeout 30m $(PKGS)
	$(MAKE) mutation

## mutation: Inspect, Preflight and Load over 10,000 one-byte variants of a
## real plugin's headers: none may crash, panic or hang (PLUGINK_MUTATIONS=n).
mutation:
	$(GO) test -count=1 -timeout 30m -run 'TestMutatedPluginsNeverCrash' -v ./loader

## test-short: every test that builds no program and no plugin, in seconds.
test-short:
	$(GO) test -short -count=1 $(PKGS)

## vet: go vet over every module in the workspace.
vet:
	$(GO) vet $(PKGS)

## bench: the benchmarks behind docs/BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
