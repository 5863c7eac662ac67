# Shared by the demo scripts: sourced, not run.

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# what says, under a step, what it shows.
what() { printf '   (%s)\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

# start_echo_server EXE ADDRS starts the echo server EXE on loopback (gRPC
# and baidu_std, random ports) in the background, sets $server to its
# pid, and waits until it has written its addresses into the file ADDRS.
start_echo_server() {
	"$1" -grpc 127.0.0.1:0 -brpc 127.0.0.1:0 >"$2" &
	server=$!
	for _ in $(seq 100); do
		grep -q '^brpc ' "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "the echo server wrote no addresses" >&2
	return 1
}
