#!/usr/bin/env bash
# make demo-upgrade: the greeter (dynamic build) serves calls under load
# through the brpc plugin while a rebuilt plugin, whose code changed, is
# swapped in by SIGHUP: no call fails, and the new build answers afterwards.
# It works on a throwaway copy of the example module (the demo changes the
# plugin's code) and stops everything it starts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/plugink-upgrade.XXXXXX")
server=
greeter=
cleanup() {
	for p in $greeter $server; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# shellcheck source=lib.sh
. "$root/scripts/lib.sh"
fail() { echo "demo-upgrade: $*" >&2; exit 1; }

step "A throwaway copy of the example module, using this checkout of plugink"
mkdir "$work/mod"
(cd "$root/examples/brpc-client" && tar --exclude='./cmd/greeter/plugins' --exclude='*.so' -cf - .) | tar -xf - -C "$work/mod"
cd "$work/mod"
export GOWORK=off
go mod edit -replace "github.com/plugink/plugink=$root"
echo "The manifest asks for upgrades on a signal: $(grep -o 'upgrade_signal: *[A-Z0-9]*' cmd/greeter/plugink.yaml)"

step "Build the echo server and the dynamic greeter, then generation 1 of the brpc plugin"
what "each plugink build of a changed plugin is a new generation, loadable beside the one running; about a minute per build on 2 cores"
go build -o "$work/echo-server" ./cmd/echo-server
go build -tags plugink_dynamic -o "$work/greeter-dynamic" ./cmd/greeter
show go tool plugink build -progress -C cmd/greeter -host "$work/greeter-dynamic"
cp -r cmd/greeter/plugins "$work/gen1"

step "Change the plugin's code (its String) and build generation 2, kept aside for now"
sed -i 's/^func (c \*brpcClient) String() string { return "brpc" }$/func (c *brpcClient) String() string { return "brpc, rebuilt" }/' plugins/brpc/client.go
grep -q '"brpc, rebuilt"' plugins/brpc/client.go || fail "the plugin's String was not found to change"
show go tool plugink build -progress -C cmd/greeter -host "$work/greeter-dynamic"
cp -r cmd/greeter/plugins "$work/gen2"
rm -r cmd/greeter/plugins && cp -r "$work/gen1" cmd/greeter/plugins
for g in gen1 gen2; do
	printf '%s: ' "$g"
	go tool plugink inspect "$work/$g/client_brpc.so" | grep '^pluginpath'
done

step "Start the echo server; the greeter on generation 1, steady: 8 callers for 10 s"
start_echo_server "$work/echo-server" "$work/addrs"
brpc=$(awk '/^brpc /{print $2}' "$work/addrs")
echo '$ (cd cmd/greeter && greeter-dynamic --client=brpc -follow_upgrades -c 8 -d 10s ...)'
(cd cmd/greeter && "$work/greeter-dynamic" -brpc_addr "$brpc" --client=brpc -follow_upgrades -c 8 -d 10s) | tee "$work/steady"

step "The same, with an upgrade to generation 2 after 3 s"
what "the greeter keeps calling while the plugin is swapped under it"
echo '$ (cd cmd/greeter && greeter-dynamic --client=brpc -follow_upgrades -c 8 -d 10s ...) &'
(cd cmd/greeter && exec "$work/greeter-dynamic" -brpc_addr "$brpc" --client=brpc -follow_upgrades -c 8 -d 10s) >"$work/out" 2>"$work/err" &
greeter=$!

step "After 3 s: install generation 2 (file and plugink.sum, each by rename) and send SIGHUP"
sleep 3
kill -0 "$greeter" 2>/dev/null || { cat "$work/err"; fail "the greeter stopped early"; }
cp "$work/gen2/client_brpc.so" cmd/greeter/plugins/.client_brpc.so.new
cp "$work/gen2/plugink.sum" cmd/greeter/plugins/.plugink.sum.new
mv cmd/greeter/plugins/.client_brpc.so.new cmd/greeter/plugins/client_brpc.so
mv cmd/greeter/plugins/.plugink.sum.new cmd/greeter/plugins/plugink.sum
show kill -HUP "$greeter"

step "The greeter's report"
code=0
wait "$greeter" || code=$?
greeter=
cat "$work/err" "$work/out"
[ "$code" -eq 0 ] || fail "the greeter failed (exit $code): a call failed during the upgrade"
grep -q 'upgrade client/brpc: generation 2 of 2 registered' "$work/err" || fail "no upgrade was logged"
grep -q 'upgraded: calls go to brpc, rebuilt now' "$work/err" || fail "the greeter did not move its calls"
grep -q '^client=brpc callers=8 calls=' "$work/out" || fail "no load result"
grep -q '^client=brpc (brpc, rebuilt) ' "$work/out" || fail "generation 2 did not answer the last call"
steady=$(sed -n 's/.*calls\/s=\([0-9]*\).*/\1/p' "$work/steady" | head -1)
upgraded=$(sed -n 's/.*calls\/s=\([0-9]*\).*/\1/p' "$work/out" | head -1)
echo "calls/s over 10 s: $steady steady; $upgraded in the run with the upgrade (the two runs differ by the machine's noise: the upgrade costs no call)"

step "Done: every call succeeded, and generation 2 answers; everything started is stopped"
echo "Next: README.md, section 9 (Upgrading a plugin in a running host)."
