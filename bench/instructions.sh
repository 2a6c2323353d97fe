#!/usr/bin/env bash
# Instructions per `get`, counted by callgrind: a figure that does not move with the machine's
# load, so a change to the request path can be judged on a busy machine where req/s cannot.
#
# usage: bench/instructions.sh [BIN]     (default target/release/basalt)
# env:   PORT (1399)  DURATION (20s)
#
# Starts BIN under `valgrind --tool=callgrind` on a fresh data dir, creates one object, warms
# up with 50 gets, zeroes the counters, drives gets with wrk (1 thread, 4 connections) for
# DURATION, dumps the counters and prints the total instructions divided by the requests served.
# The dump stays in the work dir for callgrind_annotate (its path is printed).
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
BIN=${1:-$repo/target/release/basalt}; PORT=${PORT:-1399}; DURATION=${DURATION:-20s}
command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install valgrind)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/basalt-instr.XXXXXX")
env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE valgrind --tool=callgrind \
  --callgrind-out-file="$work/callgrind.%p.out" "$BIN" serve --port "$PORT" \
  --data-dir "$work/data" --app-id bench --master-key benchmaster --log-level warn \
  > "$work/basalt.log" 2>&1 &
vpid=$!
trap 'kill $vpid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -s -o /dev/null "http://127.0.0.1:$PORT/parse/health" && break; sleep 0.5; done
H=(-H "X-Parse-Application-Id: bench" -H "Content-Type: application/json")
id=$(curl -s "${H[@]}" -X POST "http://127.0.0.1:$PORT/parse/classes/BenchItem" \
  -d '{"name":"seed-123","score":512,"tags":["a","b"]}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["objectId"])')
url="http://127.0.0.1:$PORT/parse/classes/BenchItem/$id"
for _ in $(seq 1 50); do curl -s -o /dev/null "${H[@]}" "$url"; done
callgrind_control -z "$vpid" >/dev/null
printf 'wrk.headers["X-Parse-Application-Id"] = "bench"\n' > "$work/get.lua"
wrk -t1 -c4 -d"$DURATION" -s "$work/get.lua" "$url" > "$work/wrk.txt"
callgrind_control -d "$vpid" >/dev/null
sleep 1
reqs=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
dump=$(ls -t "$work"/callgrind.*.out.* | head -1)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "requests $reqs  instructions $total  per get $((total / reqs))"
echo "dump: $dump"
