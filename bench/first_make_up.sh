#!/usr/bin/env bash
# How long the first `make up` takes on a machine that has never set Segell up: from a fresh clone (no .venv, no
# node_modules, no .segell) to the first /health that answers 200.
#
#   bench/first_make_up.sh [--cold] [REPOSITORY]   # default: the repository this script is in (its committed HEAD)
#
# The clone goes to a temporary folder and is removed afterwards, with everything `make up` started. The package
# clients' caches (pip's, uv's, npm's) are used as they are, as on a machine that set up another project before;
# with --cold they are new and empty, so every package is downloaded, as on a machine that never installed any.
# Prints when each step of the set-up was done and, last, one line for scripts: first_make_up_s=NN
set -euo pipefail

cold=""
if [[ "${1:-}" == "--cold" ]]; then
	cold=yes
	shift
fi
repository="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
timeout_s="${FIRST_MAKE_UP_TIMEOUT:-300}"
work="$(mktemp -d)"
if [[ -n "$cold" ]]; then
	export PIP_NO_CACHE_DIR=1 UV_CACHE_DIR="$work/uv-cache" npm_config_cache="$work/npm-cache"
fi
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
make_pid=""

stop() {
	if [[ -n "$make_pid" ]] && kill -0 "$make_pid" 2>/dev/null; then
		# make runs in a process group of its own (set -m below): stop it with segell and anvil.
		kill -TERM -- "-$make_pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$make_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$make_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap stop EXIT

git clone --quiet "$repository" "$work/segell"
cd "$work/segell"

start=$(date +%s.%N)
set -m
SEGELL_PORT="$port" SEGELL_HOME="$work/home" make up >"$work/make-up.log" 2>&1 &
make_pid=$!
set +m

# One HTTP request through bash's /dev/tcp: no process is started per probe, so probing adds no load to the machine
# that is being timed.
healthy() {
	local status=""
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
	IFS= read -r -t 5 status <&3 || true
	exec 3<&- 3>&-
	[[ "$status" == "HTTP/1."?" 200 "* ]]
}

answered=""
while kill -0 "$make_pid" 2>/dev/null; do
	if healthy 2>/dev/null; then
		answered=yes
		break
	fi
	if (($(date +%s) - ${start%.*} > timeout_s)); then
		break
	fi
	sleep 0.2
done
end=$(date +%s.%N)

if [[ -z "$answered" ]]; then
	echo "make up did not answer /health within ${timeout_s} s; its log:" >&2
	tail -n 30 "$work/make-up.log" >&2
	exit 1
fi

# The steps' own durations, from the files each one leaves (the order in which make ran them).
step() { # name, file that marks the step as done
	[[ -e "$2" ]] && printf '  %-24s done %5.1f s after the start\n' "$1" "$(awk "BEGIN { print $(stat -c %.3Y "$2") - $start }")"
}
echo "first make up in $work/segell${cold:+, with empty package caches}:"
step ".venv (pip, then uv)" .venv/.runtime || true
step "node_modules (npm ci)" node_modules/.installed || true
printf 'first_make_up_s=%.0f\n' "$(awk "BEGIN { print $end - $start }")"
