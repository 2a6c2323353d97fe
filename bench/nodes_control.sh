#!/usr/bin/env bash
# How much of two nodes' loss against one is coordination: a control run on PostgreSQL.
#
# usage: bench/nodes_control.sh
# env:   WORKLOADS ("get update me")  ROUNDS (3)  DURATION (10s)  WARMUP (2s)  CONNS (32)
#        SEED (10000)  PGURL (postgres://postgres@127.0.0.1:5432)
#        SKIP_BUILD (1 = use the existing target/release/basalt)
#        SPLIT (unset; 1 = also measure two nodes that each have a core of their own, see below)
#
# Starts three basalt nodes on PostgreSQL, each on a free port with its own data dir:
#   A1 and A2 share database basalt_nodes_a, as a two-node deployment does;
#   B alone uses database basalt_nodes_b, seeded the same way (SEED BenchItem objects, the score
#   index, one signed-up user).
# All three stay up for the whole run, so every configuration has the same processes on the
# machine. Then, per workload and round, with wrk and the anchor's lua/parse.lua:
#   one       A1 alone, wrk -t2 -cCONNS;
#   shared    A1 and A2 at once, wrk -t1 -cCONNS/2 each, the same database: what bench/run.sh
#             NODES=2 measures;
#   separate  A1 and B at once, wrk -t1 -cCONNS/2 each, two databases: two nodes that share no
#             rows, no sessions and no cache-invalidation traffic, so nothing to coordinate;
#   split     with SPLIT=1, C1 and C2 at once on basalt_nodes_a, wrk -t1 -cCONNS/2 each: two more
#             nodes started under `taskset -c 0` and `taskset -c 1`, each sized for the one core
#             it may use (one runtime worker, that core's connections), as two containers with
#             a core each would be; PostgreSQL and wrk still use both cores.
# It prints each round's req/s and two-node / one-node ratios, and the medians. What "shared"
# loses beyond "separate" is the cost of coordination; what both lose is the cost of running
# two processes, and two smaller batches, on the same cores.
# Each run also records the CPU time spent per request (from /proc): the whole machine's, the
# measured nodes' and PostgreSQL's; and the machine's context switches per request. On a
# machine the load keeps busy, throughput is the cores divided by that cost, and the cost is
# steadier from run to run than req/s; coordination work (invalidations, shared sessions,
# notifications) would show as more CPU per request in "shared" than in "separate", and on
# which side.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
repo=$(git -C "$here" rev-parse --show-toplevel)
anchor=$(cd "$repo/../shared/anchors/parse-server" && pwd)
WORKLOADS=${WORKLOADS:-get update me}; ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}; CONNS=${CONNS:-32}; SEED=${SEED:-10000}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
APP_ID=bench; MASTER_KEY=benchmaster
half=$((CONNS / 2))

log() { printf '[control %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
for tool in wrk psql python3 curl; do command -v "$tool" >/dev/null || die "$tool is required"; done
psql "$PGURL/postgres" -qtAc "select 1" >/dev/null 2>&1 || die "PostgreSQL is not reachable at $PGURL"

# drop_db NAME [psql args...]: drops the database if it exists, then runs the further commands.
drop_db() {
  local db=$1; shift
  PGOPTIONS='-c client_min_messages=warning' psql "$PGURL/postgres" -q \
    -c "drop database if exists $db with (force)" "$@"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/basalt-control.XXXXXX")
pids=()
cleanup() {
  local rc=$?
  set +e
  trap - EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  for db in basalt_nodes_a basalt_nodes_b; do drop_db "$db" >/dev/null 2>&1; done
  rm -rf "$work"
  exit "$rc"
}
cleanup_on_exit cleanup

build_release "$repo" basalt || die "release build failed"
bin=$(release_dir "$repo")/basalt

for db in basalt_nodes_a basalt_nodes_b; do
  drop_db "$db" -c "create database $db" >/dev/null || die "could not create database $db"
done

# start NAME DATABASE: starts a node (under the command PIN names, when set) and sets url_NAME
# to its URL. Not run in a command
# substitution, so that its pid reaches `pids` and the cleanup stops it.
start() {
  # shellcheck disable=SC2086
  ${PIN:-} env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$bin" serve --listen 127.0.0.1:0 \
    --data-dir "$work/$1" --database-uri "$PGURL/$2" --app-id "$APP_ID" --master-key "$MASTER_KEY" \
    > "$work/$1.out" 2> "$work/$1.log" &
  local pid=$!
  pids+=("$pid")
  printf -v "pid_$1" '%s' "$pid"
  local url
  url=$(wait_listening "$work/$1.out" "$pid") || die "node $1 did not start: $(tail -3 "$work/$1.log")"
  printf -v "url_$1" '%s' "$url"
}

# prepare URL NAME: seeds SEED objects and the index, signs a user up; ids in NAME.ids, token in NAME.token
prepare() {
  python3 "$here/seed.py" "$1" "$APP_ID" "$MASTER_KEY" "$SEED" > "$work/$2.ids" || die "seeding $2 failed"
  curl -sf -H "X-Parse-Application-Id: $APP_ID" -H "X-Parse-Master-Key: $MASTER_KEY" \
    -H "Content-Type: application/json" -X PUT "$1/schemas/BenchItem" \
    -d '{"indexes":{"score_1":{"score":1}}}' >/dev/null || die "adding the index on $2 failed"
  curl -sf -H "X-Parse-Application-Id: $APP_ID" -H "Content-Type: application/json" -X POST "$1/users" \
    -d "{\"username\":\"control-$2\",\"password\":\"control-password-1\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessionToken"])' > "$work/$2.token" \
    || die "signing up on $2 failed"
}

start a1 basalt_nodes_a; a1=$url_a1; prepare "$a1" a
start a2 basalt_nodes_a; a2=$url_a2
start b basalt_nodes_b; b=$url_b; prepare "$b" b
if [ "${SPLIT:-}" = 1 ]; then
  command -v taskset >/dev/null || die "SPLIT=1 needs taskset (util-linux)"
  [ "$(nproc)" -ge 2 ] || die "SPLIT=1 needs two cores"
  PIN="taskset -c 0" start c1 basalt_nodes_a; c1=$url_c1
  PIN="taskset -c 1" start c2 basalt_nodes_a; c2=$url_c2
fi
# As bench/run.sh does: this PostgreSQL runs with autovacuum off, and a table that was never
# analysed gets no statistics, so the query workload's plan would be a poor one.
for db in basalt_nodes_a basalt_nodes_b; do
  pg_vacuum "$PGURL/$db" || die "VACUUM of $db failed"
done
log "A1 $a1 and A2 $a2 on basalt_nodes_a, B $b on basalt_nodes_b; $SEED objects each"

# load URL DATA CONNS THREADS WORKLOAD DURATION: prints "requests req/s"
load() {
  local hostport path
  hostport=$(echo "$1" | sed -E 's#^(https?://[^/]+).*#\1#'); path=$(echo "$1" | sed -E 's#^https?://[^/]+##')
  WORKLOAD=$5 BASE_PATH=$path APP_ID=$APP_ID IDS_FILE="$work/$2.ids" SESSION_TOKEN=$(cat "$work/$2.token") \
    wrk -t"$4" -c"$3" -d"$6" -s "$anchor/lua/parse.lua" "$hostport" \
    | awk '/ requests in /{n=$1} /^Requests\/sec/{r=$2} END{print n, r}'
}

# pair URL1 DATA1 URL2 DATA2 WORKLOAD: both at once, prints the summed "requests req/s"
pair() {
  load "$1" "$2" "$half" 1 "$5" "$DURATION" > "$work/pair1" & local first=$!
  load "$3" "$4" "$half" 1 "$5" "$DURATION" > "$work/pair2"
  wait "$first"
  cat "$work/pair1" "$work/pair2" | awk '{n+=$1; r+=$2} END{print n, r}'
}

# CPU ticks (user + system): the whole machine's busy time, and the listed processes' own.
machine_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
context_switches() { awk '/^ctxt /{print $2}' /proc/stat; }
process_ticks() {
  local p s=0
  for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$s"
}

# measure "NODE PIDS" COMMAND...: runs COMMAND (load or pair) and prints
# "req/s machine-µs node-µs postgres-µs switches", CPU time per request then the machine's
# context switches per request. The
# PostgreSQL backends are the ones running when it starts: the nodes' pools are warm by then.
measure() {
  local nodes=$1; shift
  local pg m0 n0 p0 c0 out
  pg=$(pgrep -x postgres | tr '\n' ' ')
  # shellcheck disable=SC2086
  m0=$(machine_ticks); n0=$(process_ticks $nodes); p0=$(process_ticks $pg); c0=$(context_switches)
  out=$("$@")
  # shellcheck disable=SC2086
  echo "$out $(( $(machine_ticks) - m0 )) $(( $(process_ticks $nodes) - n0 )) $(( $(process_ticks $pg) - p0 )) $(( $(context_switches) - c0 ))" \
    | awk -v hz="$(getconf CLK_TCK)" '{us = 1e6 / hz / $1
        printf "%s %.1f %.1f %.1f %.2f\n", $2, $3 * us, $4 * us, $5 * us, $6 / $1}'
}

results="$work/results.txt"
for w in $WORKLOADS; do
  targets=("$a1 a" "$a2 a" "$b b")
  [ "${SPLIT:-}" = 1 ] && targets+=("$c1 a" "$c2 a")
  for target in "${targets[@]}"; do
    read -r url data <<< "$target"; load "$url" "$data" "$half" 1 "$w" "$WARMUP" >/dev/null
  done
  for r in $(seq 1 "$ROUNDS"); do
    one=$(measure "$pid_a1" load "$a1" a "$CONNS" 2 "$w" "$DURATION")
    shared=$(measure "$pid_a1 $pid_a2" pair "$a1" a "$a2" a "$w")
    separate=$(measure "$pid_a1 $pid_b" pair "$a1" a "$b" b "$w")
    printf '%s\n' "$w $r one $one" "$w $r shared $shared" "$w $r separate $separate" >> "$results"
    line="one $one; shared $shared; separate $separate"
    if [ "${SPLIT:-}" = 1 ]; then
      split=$(measure "$pid_c1 $pid_c2" pair "$c1" a "$c2" a "$w")
      echo "$w $r split $split" >> "$results"
      line="$line; split $split"
    fi
    log "$w round $r (req/s; CPU µs per request: machine, nodes, postgres; switches per request): $line"
  done
done

python3 - "$results" "$(git -C "$repo" rev-parse --short HEAD)" "$CONNS" "$DURATION" <<'PY'
import statistics, sys
NAMES = {"one": "one node", "shared": "two nodes, one database",
         "separate": "two nodes, two databases", "split": "two nodes, a core each, one database"}
runs = {}  # workload -> round -> setup -> [req/s, machine µs, nodes µs, postgres µs, switches]
for w, r, setup, *vals in (l.split() for l in open(sys.argv[1])):
    runs.setdefault(w, {}).setdefault(r, {})[setup] = list(map(float, vals))
setups = [s for s in NAMES if any(s in rnd for rounds in runs.values() for rnd in rounds.values())]
pairs = setups[1:]
print(f"commit {sys.argv[2]}, wrk {sys.argv[3]} connections in all, {sys.argv[4]} per run\n")
print("| workload | round | one node req/s | " + " | ".join(f"{NAMES[s]} | ratio" for s in pairs) + " |")
print("|---|---:|---:|" + "---:|---:|" * len(pairs))
for w, rounds in runs.items():
    for r, rnd in rounds.items():
        one = rnd["one"][0]
        cells = " | ".join(f"{rnd[s][0]:,.0f} | {rnd[s][0] / one:.2f}" for s in pairs)
        print(f"| {w} | {r} | {one:,.0f} | {cells} |")

def median_ratio(rounds, s):
    return statistics.median(rnd[s][0] / rnd["one"][0] for rnd in rounds.values())

print("\n| workload | " + " | ".join(f"median ratio, {NAMES[s]}" for s in pairs)
      + " | lost to coordination (two databases − one) |")
print("|---|" + "---:|" * (len(pairs) + 1))
for w, rounds in runs.items():
    ratios = {s: median_ratio(rounds, s) for s in pairs}
    cells = " | ".join(f"{ratios[s]:.2f}" for s in pairs)
    print(f"| {w} | {cells} | {ratios['separate'] - ratios['shared']:+.2f} |")
print("\nPer request, medians over rounds: CPU time in µs (machine = all processes; nodes = the "
      "measured basalt nodes; postgres = its backends) and the machine's context switches\n")
print("| workload | setup | machine µs | nodes µs | postgres µs | context switches |")
print("|---|---|---:|---:|---:|---:|")
for w, rounds in runs.items():
    for s in setups:
        cols = [statistics.median(rnd[s][i] for rnd in rounds.values()) for i in (1, 2, 3, 4)]
        print(f"| {w} | {NAMES[s]} | {cols[0]:.0f} | {cols[1]:.0f} | {cols[2]:.0f} | {cols[3]:.2f} |")
PY
