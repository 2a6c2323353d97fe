#!/usr/bin/env bash
# Where basalt's time goes under load: perf profile of the basalt process during a wrk run.
#
# usage: bench/profile.sh [WORKLOAD...]        (default: get update)
# env:   CONNS (32)  THREADS (2)  SEED (10000)  SECONDS_RECORDED (5)  FREQ (999)
#        CALLGRAPH (dwarf,16384; "fp" for frame pointers, which Rust's std lacks)
#        SKIP_BUILD (1 = use the existing target/release/basalt)
#        OUTDIR (bench/results): writes profile-WORKLOAD.txt there
#        KEEP_DATA (1 = also keep perf-WORKLOAD.data in OUTDIR for `perf report -i`)
#
# Starts basalt (release, embedded SQLite, fresh data dir), seeds SEED BenchItem objects, adds the
# score index, then for each workload runs wrk with the anchor's lua/parse.lua and, after 3 s of
# load, `perf record -p BASALT_PID` for SECONDS_RECORDED seconds. Writes, per workload: the CPU
# time basalt and wrk used during the window, the samples grouped into cost buckets by call stack
# (perf_buckets.py), the top symbols by self time, and inclusive time per function.
# perf here samples cpu-clock (a VM without hardware counters): time spent with interrupts off
# (context switches, wake-ups) shows up on finish_task_switch / _raw_spin_unlock_irqrestore. Needs perf (Debian: linux-perf) and perf_event_paranoid <= 2 or root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
repo=$(git -C "$here" rev-parse --show-toplevel)
anchor=$(cd "$repo/../shared/anchors/parse-server" && pwd)
CONNS=${CONNS:-32}; THREADS=${THREADS:-2}; SEED=${SEED:-10000}
SECONDS_RECORDED=${SECONDS_RECORDED:-5}; FREQ=${FREQ:-999}; CALLGRAPH=${CALLGRAPH:-dwarf,16384}
OUTDIR=${OUTDIR:-$here/results}
APP_ID=bench; MASTER_KEY=benchmaster
workloads=("$@"); [ ${#workloads[@]} -gt 0 ] || workloads=(get update)

log() { printf '[profile %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
command -v perf >/dev/null || die "perf is not installed (apt-get install linux-perf)"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"

work=$(mktemp -d "${TMPDIR:-/tmp}/basalt-profile.XXXXXX")
basalt_pid=""; wrk_pid=""
cleanup() {
  local rc=$?
  set +e
  trap - EXIT
  trap '' INT TERM
  [ -n "$wrk_pid" ] && kill "$wrk_pid" 2>/dev/null
  [ -n "$basalt_pid" ] && kill "$basalt_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
  exit "$rc"
}
cleanup_on_exit cleanup

build_release "$repo" basalt || die "release build failed"
env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$(release_dir "$repo")/basalt" serve --listen 127.0.0.1:0 --data-dir "$work/data" --app-id "$APP_ID" \
  --master-key "$MASTER_KEY" > "$work/basalt.out" 2> "$work/basalt.log" &
basalt_pid=$!
url=$(wait_listening "$work/basalt.out" "$basalt_pid") || die "basalt did not start: $(cat "$work/basalt.log")"
python3 "$here/seed.py" "$url" "$APP_ID" "$MASTER_KEY" "$SEED" > "$work/ids.txt" || die "seeding failed"
curl -sf -H "X-Parse-Application-Id: $APP_ID" -H "X-Parse-Master-Key: $MASTER_KEY" \
  -H "Content-Type: application/json" -X PUT "$url/schemas/BenchItem" \
  -d '{"indexes":{"score_1":{"score":1}}}' >/dev/null || die "adding the index failed"
hostport=$(echo "$url" | sed -E 's#^(https?://[^/]+).*#\1#'); path=$(echo "$url" | sed -E 's#^https?://[^/]+##')
log "basalt pid $basalt_pid at $url, $SEED objects"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
machine_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
mkdir -p "$OUTDIR"
for w in "${workloads[@]}"; do
  WORKLOAD=$w BASE_PATH=$path APP_ID=$APP_ID IDS_FILE="$work/ids.txt" \
    wrk -t"$THREADS" -c"$CONNS" -d"$((SECONDS_RECORDED + 6))s" --latency -s "$anchor/lua/parse.lua" \
    "$hostport" > "$work/wrk-$w.txt" 2>&1 &
  wrk_pid=$!
  sleep 3
  hz=$(getconf CLK_TCK); b0=$(cpu_ticks "$basalt_pid"); w0=$(cpu_ticks "$wrk_pid"); t0=$(date +%s.%N)
  m0=$(machine_ticks)
  perf record -q -F "$FREQ" --call-graph "$CALLGRAPH" -p "$basalt_pid" -o "$work/perf-$w.data" \
    -- sleep "$SECONDS_RECORDED" 2> "$work/perf-$w.err" || die "perf record failed: $(cat "$work/perf-$w.err")"
  b1=$(cpu_ticks "$basalt_pid"); w1=$(cpu_ticks "$wrk_pid"); t1=$(date +%s.%N)
  m1=$(machine_ticks)
  wait "$wrk_pid" || true; wrk_pid=""
  out="$OUTDIR/profile-$w.txt"
  report() { # LINES perf-report-args: first LINES lines, without blank lines, comments and the
    # padding of wide columns (awk reads everything, so no SIGPIPE under pipefail)
    local n=$1; shift
    perf report -i "$work/perf-$w.data" --stdio "$@" 2>/dev/null | grep -v '^$' | grep -v '^#' \
      | sed -E 's/[[:space:]]+(-[[:space:]]+)*$//' | awk -v n="$n" 'NR <= n'
  }
  {
    echo "# basalt profile, workload $w: wrk -t$THREADS -c$CONNS, perf -F $FREQ --call-graph $CALLGRAPH, ${SECONDS_RECORDED}s"
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git -C "$repo" rev-parse --short HEAD), $(nproc) cores"
    python3 -c 'import os, sys; hz,b0,b1,w0,w1,t0,t1=map(float,sys.argv[1:8]); d=t1-t0
(m0, a0), (m1, a1) = (map(float, x.split()) for x in sys.argv[8:10])
busy = (m1 - m0) / max(a1 - a0, 1) * 100 * (os.cpu_count() or 1)
b, w = (b1 - b0) / hz / d * 100, (w1 - w0) / hz / d * 100
print(f"# CPU during the window (100% = one core): basalt {b:.0f}%  wrk {w:.0f}%  "
      f"machine busy {busy:.0f}%  other {busy - b - w:.0f}%  ({d:.1f}s)")' \
      "$hz" "$b0" "$b1" "$w0" "$w1" "$t0" "$t1" "$m0" "$m1"
    echo "# wrk: $(awk '/Requests\/sec/ {print $2 " req/s"}' "$work/wrk-$w.txt"), p50 $(awk '$1=="50%" {print $2}' "$work/wrk-$w.txt"), p99 $(awk '$1=="99%" {print $2}' "$work/wrk-$w.txt")"
    echo
    echo "## Where the time goes (whole-stack buckets, bench/perf_buckets.py)"
    perf script -i "$work/perf-$w.data" -F tid,period,ip,sym --no-inline 2>/dev/null \
      | python3 "$here/perf_buckets.py"
    echo
    echo "## Top symbols by self time (flat)"
    report 60 --no-children --sort dso,symbol -g none --percent-limit 0.5
    echo
    echo "## Inclusive time per function (self + callees), 1% and up, inlined frames left out"
    report 400 --children --sort symbol -g none --percent-limit 1 | awk '!/\(inlined\)$/ && ++n <= 100'
  } > "$out"
  [ "${KEEP_DATA:-}" = 1 ] && cp "$work/perf-$w.data" "$OUTDIR/perf-$w.data"
  log "$w: $(sed -n 3,4p "$out" | tr '\n' ' ') -> $out"
done
