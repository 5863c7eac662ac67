#!/usr/bin/env bash
# vs-brpc.sh: Apache bRPC's own echo client (pthread and bthread) against
# this module's brpc plugin (the greeter's load mode), both calling the same
# bRPC example/multi_threaded_echo_c++ server over one connection with an
# 11-byte message. For 1 and 64 callers, it runs the three clients in turn,
# ROUNDS times (alternating, so that a change in the machine's load hits
# each alike), each for SECONDS after a 2-second warm-up, and prints one
# line per run: client, callers, calls/s, p99 in microseconds.
#
#   BRPC_EXAMPLE=<bRPC build>/example/multi_threaded_echo_c++ scripts/vs-brpc.sh
#
# BRPC_EXAMPLE is the directory holding the built echo_server and
# echo_client. GREETER is the greeter binary (default: built here).
set -euo pipefail
: "${BRPC_EXAMPLE:?set BRPC_EXAMPLE to the built bRPC example/multi_threaded_echo_c++ directory}"
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CALLERS=${CALLERS:-"1 64"}
PORT=${PORT:-8002}
DUMMY=${DUMMY:-8010}
cd "$(dirname "$0")/.."
if [[ -z "${GREETER:-}" ]]; then
  GREETER=$(mktemp -d)/greeter
  go build -o "$GREETER" ./cmd/greeter
fi

(cd "$BRPC_EXAMPLE" && exec ./echo_server --port="$PORT") >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
sleep 1

var() { curl -s "127.0.0.1:$DUMMY/vars/$1" | tr -d '\r' | sed 's/.*: //'; }

# cpu PID: the process's user+system CPU time so far, in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))

# per_call TICKS CALLS: CPU microseconds per call.
per_call() { awk -v t="$1" -v n="$2" -v us="$TICK_US" 'BEGIN { printf "%.2f", t * us / n }'; }

# cpp USE_BTHREAD CALLERS: bRPC's client; calls/s and p99 from its bvars.
cpp() {
  "$BRPC_EXAMPLE/echo_client" --server="127.0.0.1:$PORT" --use_bthread="$1" --thread_num="$2" \
    --request_size=11 --dummy_port="$DUMMY" >/dev/null 2>&1 &
  local client=$!
  sleep 2
  local n0 s0 c0; n0=$(var client_count); s0=$(cpu "$server"); c0=$(cpu "$client")
  sleep "$SECONDS_PER_RUN"
  local n1 s1 c1 p99 errs
  n1=$(var client_count); s1=$(cpu "$server"); c1=$(cpu "$client")
  p99=$(var client_latency_99); errs=$(var client_error_count)
  kill -INT "$client"; wait "$client" 2>/dev/null || true
  local n=$(( n1 - n0 ))
  echo "calls/s=$(( n / SECONDS_PER_RUN )) p99-µs=$p99 server-cpu-µs/call=$(per_call $(( s1 - s0 )) $n) client-cpu-µs/call=$(per_call $(( c1 - c0 )) $n) errors=$errs"
}

# gobrpc CALLERS: the greeter's load mode with the brpc plugin (its CPU
# time includes its start, a few milliseconds).
gobrpc() {
  "$GREETER" --client=brpc -brpc_addr "127.0.0.1:$PORT" -c "$1" -request_size 11 -d 2s >/dev/null
  local s0 out times; s0=$(cpu "$server")
  times=$(mktemp)
  out=$( { TIMEFORMAT='%U %S'; time "$GREETER" --client=brpc -brpc_addr "127.0.0.1:$PORT" -c "$1" \
    -request_size 11 -d "${SECONDS_PER_RUN}s"; } 2>"$times")
  local s1 n cs; s1=$(cpu "$server")
  n=$(sed -E 's/.* calls=([0-9]+) .*/\1/' <<<"$out")
  cs=$(awk '{ printf "%.0f", ($1 + $2) * 1000000 }' "$times"); rm -f "$times"
  echo "$(sed -E 's/.*calls\/s=([0-9]+).*p99-µs=([0-9.]+).*/calls\/s=\1 p99-µs=\2/' <<<"$out")" \
    "server-cpu-µs/call=$(per_call $(( s1 - s0 )) "$n") client-cpu-µs/call=$(awk -v c="$cs" -v n="$n" 'BEGIN { printf "%.2f", c / n }')"
}

for c in $CALLERS; do
  for r in $(seq "$ROUNDS"); do
    echo "pthread callers=$c round=$r $(cpp false "$c")"
    echo "bthread callers=$c round=$r $(cpp true "$c")"
    echo "go-brpc callers=$c round=$r $(gobrpc "$c")"
  done
done
