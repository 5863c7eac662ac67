# plugink — see README.md.
GO ?= go
# Every package of every module in go.work (the root module and the example).
PKGS := github.com/plugink/plugink/...
# Each fuzz target runs for a number of executions, about 3 s' worth on 2
# cores, not for a duration: Go 1.26's fuzzing coordinator can fail a
# duration-bound run with "context deadline exceeded" at its end, with no
# failing input (golang/go#75804, fixed in Go 1.27). FUZZTIME=30s (or 1000x)
# runs every target for that instead.
FUZZTIME ?=

# The root module's fuzz targets: name, package, executions (the example's
# are in examples/brpc-client/Makefile).
FUZZ := \
	FuzzPluginHeaders:./loader/internal/pluginfile:1500x \
	FuzzPluginMain:./internal/pluginbuild:5000x \
	FuzzImportPathMatchesGo:./internal/ruletest:6000x \
	FuzzFuncNameMatchesGo:./internal/ruletest:6000x \
	FuzzNamesMakeImportPaths:./internal/ruletest:15000x \
	FuzzEscape:./internal/safetext:20000x \
	FuzzRewriteImports:./build:20000x \
	FuzzParse:./internal/signature:20000x

.PHONY: demo demo-upgrade demo-process demo-loader test test-short mutation fuzz vet bench stress

## demo: the main job: the greeter switches from gRPC to a brpc plugin, static and .so,
## then upgrades the plugin under load (demo-upgrade), then runs it as a child process (demo-process).
demo:
	bash scripts/demo.sh
	bash scripts/demo-upgrade.sh
	bash scripts/demo-process.sh

## demo-upgrade: a rebuilt brpc plugin swapped into the running greeter by SIGHUP, under load.
demo-upgrade:
	bash scripts/demo-upgrade.sh

## demo-process: the brpc plugin as a child process (-tags plugink_process, CGO_ENABLED=0).
demo-process:
	bash scripts/demo-process.sh

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

## fuzz: each fuzz target for its executions, or FUZZTIME (their seed corpora also run in every `go test`).
fuzz:
	@set -e; for t in $(FUZZ); do \
		name=$${t%%:*}; rest=$${t#*:}; pkg=$${rest%%:*}; budget=$(if $(FUZZTIME),$(FUZZTIME),$${rest#*:}); \
		echo "fuzz $$name for $$budget"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $$budget $$pkg; \
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
