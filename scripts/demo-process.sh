#!/usr/bin/env bash
# make demo, third part: the same greeter and manifest, with the brpc plugin
# as a child process (hashicorp/go-plugin): -tags plugink_process builds the
# host, plugink build -process the plugin's executable, with CGO_ENABLED=0.
# The plugin's process is killed under load: the greeter lives and its
# calls resume. Stops everything it starts.
set -euo pipefail
scripts=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$scripts/lib.sh"
cd "$scripts/../examples/brpc-client"

work=$(mktemp -d "${TMPDIR:-/tmp}/plugink-process.XXXXXX")
server=
plugins_before=
[ -e cmd/greeter/plugins ] && plugins_before=yes
generated_before=
[ -e cmd/greeter/_plugink ] && generated_before=yes
cleanup() {
	for p in ${greeter:-} $server; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
	[ -n "$plugins_before" ] || rm -rf cmd/greeter/plugins
	[ -z "$plugins_before" ] || rm -f cmd/greeter/plugins/client_brpc
	# the plugin's generated main package, which plugink build keeps
	[ -n "$generated_before" ] || rm -rf cmd/greeter/_plugink
}
trap cleanup EXIT INT TERM
fail() { echo "demo-process: $*" >&2; exit 1; }

step "Build the greeter with -tags plugink_process, and the brpc plugin as an executable"
what "no cgo, no pinning to the host's toolchain: the handshake, derived from the client interface's shape, is the contract"
go build -o "$work/echo-server" ./cmd/echo-server
go build -tags plugink_process -o "$work/greeter-process" ./cmd/greeter
echo '$ CGO_ENABLED=0 go tool plugink build -process -C cmd/greeter'
CGO_ENABLED=0 go tool plugink build -process -C cmd/greeter
go version -m cmd/greeter/plugins/client_brpc | grep -E 'CGO_ENABLED|^\s+path' | sed 's/^/   /'
grep client_brpc cmd/greeter/plugins/plugink.sum | grep -v '\.so$' | sed 's/^/   plugink.sum: /'

step "Start the echo server"
start_echo_server "$work/echo-server" "$work/addrs"
addrs=(-grpc_addr "$(awk '/^grpc /{print $2}' "$work/addrs")" -brpc_addr "$(awk '/^brpc /{print $2}' "$work/addrs")")

step "7. --client=brpc, process build: the greeter starts plugins/client_brpc and calls it over RPC"
what "the host's code did not change: the generated client implements client.Client by calls to the plugin's process"
(cd cmd/greeter && show "$work/greeter-process" "${addrs[@]}" --client=brpc)

step "8. The plugin's process killed (SIGKILL) under 8 callers: the greeter lives, the calls resume"
what "the calls in flight fail, each saying which plugin ended and how; the next call starts the plugin again"
greeter=
(cd cmd/greeter && exec "$work/greeter-process" "${addrs[@]}" --client=brpc -n 0 -d 4s -c 8 -keep_going -timeout 5s >"$work/load.out" 2>"$work/load.err") &
greeter=$!
for _ in $(seq 300); do
	grep -q 'calls under way' "$work/load.err" 2>/dev/null && break
	sleep 0.05
done
child=$(pgrep -P "$greeter" -f client_brpc || true)
[ -n "$child" ] || fail "no plugin process under the greeter (pid $greeter)"
echo "\$ kill -KILL $child   # the plugin's process"
kill -KILL "$child"
wait "$greeter" || fail "the greeter failed after its plugin was killed: $(cat "$work/load.err")"
greeter=
sed 's/^/   /' "$work/load.out"
grep -q 'succeeded-after-first-failure=[1-9]' "$work/load.out" || fail "no call succeeded after the kill"

step "9. 64 callers through the process plugin, and the same load with the plugin compiled in"
(cd cmd/greeter && show "$work/greeter-process" "${addrs[@]}" --client=brpc -n 20000 -c 64)
go build -o "$work/greeter" ./cmd/greeter
show "$work/greeter" "${addrs[@]}" --client=brpc -n 20000 -c 64

step "Done: the echo server is stopped, $work removed, the plugin executable removed"
