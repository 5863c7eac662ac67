#!/usr/bin/env bash
# make demo: a service switches its client from gRPC to a brpc plugin without
# changing its code: compiled in (static build, --client=brpc) and loaded
# from a .so (dynamic build, MICRO_PLUGIN). Stops everything it starts.
set -euo pipefail
scripts=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$scripts/lib.sh"
cd "$scripts/../examples/brpc-client"

work=$(mktemp -d "${TMPDIR:-/tmp}/plugink-demo.XXXXXX")
server=
# The plugins the demo builds go where plugink build puts them, beside the
# manifest: removed at the end unless they were there before.
plugins_before=
[ -e cmd/greeter/plugins ] && plugins_before=yes
cleanup() {
	if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
	rm -rf "$work"
	[ -n "$plugins_before" ] || rm -rf cmd/greeter/plugins
}
trap cleanup EXIT INT TERM


step "The greeter's manifest (checked in) and its generated files are current"
what "which plugins the service links is in version control: plugink.yaml; go generate turns it into the generated files (static, dynamic, process, glue)"
cat cmd/greeter/plugink.yaml
show go tool plugink gen -C cmd/greeter -check
echo "The lines the service adds for plugink (cmd/greeter/main.go):"
grep -n 'initPlugins\|go:generate' cmd/greeter/main.go | sed 's/^/   /'

step "Build the echo server and the greeter, static (default) and dynamic (-tags plugink_dynamic)"
what "one source, two builds: the build tag alone chooses whether plugins are compiled in or loaded as .so files"
go build -o "$work/echo-server" ./cmd/echo-server
go build -o "$work/greeter" ./cmd/greeter
go build -tags plugink_dynamic -o "$work/greeter-dynamic" ./cmd/greeter
echo "built into $work"

step "Start the echo server on loopback: gRPC and baidu_std, random ports"
start_echo_server "$work/echo-server" "$work/addrs"
cat "$work/addrs"
addrs=(-grpc_addr "$(awk '/^grpc /{print $2}' "$work/addrs")" -brpc_addr "$(awk '/^brpc /{print $2}' "$work/addrs")")

step "1. Default client (gRPC), static build"
what "the service as it was: its default client"
show "$work/greeter" "${addrs[@]}"

step "2. --client=brpc, static build: the plugin is compiled in"
what "a flag, or its environment variable, selects the plugin by name, as go-micro did"
show "$work/greeter" "${addrs[@]}" --client=brpc
echo '$ MICRO_CLIENT=brpc greeter ...'
MICRO_CLIENT=brpc "$work/greeter" "${addrs[@]}"

step "3. The brpc plugin as a .so, built in the service's module graph for the dynamic host"
what "plugink build compiles it with the host binary's settings and checks it fits; about a minute on 2 cores the first time"
show go tool plugink build -progress -C cmd/greeter -host "$work/greeter-dynamic"
echo "\$ go tool plugink inspect -host $work/greeter-dynamic cmd/greeter/plugins/client_brpc.so   # what the file says, without opening it"
go tool plugink inspect -host "$work/greeter-dynamic" cmd/greeter/plugins/client_brpc.so | grep -E '^(config|pluginpath|sha256|fits host)'

step "4. MICRO_PLUGIN=.../client_brpc.so --client=brpc, dynamic build"
what "the dynamic host checks the file, then loads it: from MICRO_PLUGIN, or from the manifest's plugins/ directory"
so="$PWD/cmd/greeter/plugins/client_brpc.so"
echo "\$ MICRO_PLUGIN=$so greeter-dynamic --client=brpc -plugin_dir $work/none ..."
MICRO_PLUGIN="$so" "$work/greeter-dynamic" "${addrs[@]}" --client=brpc -plugin_dir "$work/none"
echo "\$ (cd cmd/greeter && greeter-dynamic --client=brpc ...)   # the manifest's plugins/ directory"
(cd cmd/greeter && "$work/greeter-dynamic" "${addrs[@]}" --client=brpc)

step "5. An unknown --client fails, listing the clients that exist"
what "a wrong name is an error, not a silent fallback"
if "$work/greeter" "${addrs[@]}" --client=thrift; then
	echo "demo: --client=thrift should have failed" >&2
	exit 1
fi

step "6. A damaged plugin file is refused before it is opened, not a crash of the service"
what "one byte changed: the loader's checks say why, with exit code 1"
cp "$so" "$work/client_brpc.so"
printf '\x07' | dd of="$work/client_brpc.so" bs=1 seek=64 conv=notrunc status=none
echo "\$ MICRO_PLUGIN=$work/client_brpc.so greeter-dynamic --client=brpc ...   # byte 64 changed"
set +e
MICRO_PLUGIN="$work/client_brpc.so" "$work/greeter-dynamic" "${addrs[@]}" --client=brpc -plugin_dir "$work/none"
code=$?
set -e
if [ "$code" -ne 1 ]; then
	echo "demo: the damaged file should have been refused with exit code 1, got $code" >&2
	exit 1
fi

step "Done: the echo server is stopped, $work removed, the plugins built here removed"
echo "Next: README.md, from \"Start here\" (your own service in a few commands); make demo-upgrade alone replays the upgrade."
