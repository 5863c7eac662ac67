# plugink — see README.md.
GO ?= go
# Every package of every module in go.work (the root module and the example).
PKGS := github.com/plugink/plugink/...
FUZZTIME ?= 3s

# The root module's fuzz targets, with their packages (the example's are in
# examples/brpc-client/Makefile).
FUZZ := \
	FuzzPluginHeaders:./loader/internal/pluginfile \
	FuzzPluginMain:./internal/pluginbuild \
	FuzzImportPathMatchesGo:./internal/ruletest \
	FuzzFuncNameMatchesGo:./internal/ruletest \
	FuzzNamesMakeImportPaths:./internal/ruletest \
	FuzzEscape:./internal/safetext \
	FuzzRewriteImports:./build

.PHONY: demo demo-upgrade demo-loader test test-short mutation fuzz vet bench stress

## demo: the main job: the greeter switches from gRPC to a brpc plugin, static and .so,
## then upgrades the plugin under load (demo-upgrade).
demo:
	bash scripts/demo.sh
	bash scripts/demo-upgrade.sh

## demo-upgrade: a rebuilt brpc plugin swapped into the running greeter by SIGHUP, under load.
demo-upgrade:
	bash scripts/demo-upgrade.sh

## demo-loader: go-micro's contract by hand: Build a .so, Load, Init, select by --client.
demo-loader:
	$(GO) run ./loader/internal/demo

## test: vet, then every test under the race detector, then the loader's
## mutation test (10,000 damaged plugins, in child processes) without it,
## then a short fuzzing run of every fuzz target.
test: vet
	$(GO) test -race -count=1 -timeout 30m $(PKGS)
	$(MAKE) mutation
	$(MAKE) fuzz

## mutation: Inspect, Preflight and Load over 10,000 one-byte variants of a
## real plugin's headers: none may crash, panic or hang (PLUGINK_MUTATIONS=n).
mutation:
	PLUGINK_MUTATIONS=$${PLUGINK_MUTATIONS:-10000} $(GO) test -count=1 -timeout 30m -run 'TestMutatedPluginsNeverCrash' -v ./loader

## fuzz: each fuzz target for FUZZTIME (their seed corpora also run in every `go test`).
fuzz:
	@set -e; for t in $(FUZZ); do \
		echo "fuzz $${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) $${t#*:}; \
	done
	$(MAKE) -C examples/brpc-client fuzz FUZZTIME=$(FUZZTIME)

## test-short: every test that builds no program and no plugin, in seconds.
test-short:
	$(GO) test -short -count=1 $(PKGS)

## stress: the example's tests 20 times in a row while two CPU-burning
## processes run beside them (STRESS_RUNS=n): no test may depend on timing.
stress:
	bash scripts/stress.sh

## vet: go vet over every module in the workspace.
vet:
	$(GO) vet $(PKGS)

## bench: the benchmarks behind docs/BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
