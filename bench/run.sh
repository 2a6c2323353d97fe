#!/usr/bin/env bash
# basalt vs Parse Server (on PostgreSQL) vs a bare-axum ceiling, measured side by side in one run.
#
# usage: bench/run.sh
# env:   DURATION (10s)  CONNS (32)  THREADS (2)  SEED (10000)
#        WORKLOADS ("get query update count me create"; any of create get query update count me)
#        PARSE_PORT (1341)  PARSE_DB (parse_bench)  PGURL (postgres://postgres@127.0.0.1:5432)
#        BASALT_STORE (sqlite; postgres = basalt on a fresh database BASALT_DB (basalt_bench) on
#                the same PostgreSQL server as Parse)
#        NODES (1; 2 = also measure two basalt nodes on that same database, BASALT_STORE=postgres
#                only: after basalt's run of each workload, the same workload against both nodes,
#                load split evenly by two wrk processes with CONNS/2 connections and THREADS/2
#                threads (at least 1) each; reported as "basalt x2 nodes" with the two-node /
#                one-node throughput ratio)
#        NODE_ROUNDS (1; with NODES=2, measure one node then two this many times in turn for
#                each workload and judge the two-node loss by the median of the rounds' ratios:
#                on this machine the same setup can differ by more than 10% from run to run)
#        WARMUP (2s; an unrecorded wrk run before each measured one, so Node's JIT and caches are
#                warm; 0 = none)
#        SKIP_BUILD (unset; 1 = use the existing release binaries, in $CARGO_TARGET_DIR/release when
#                CARGO_TARGET_DIR is set, else target/release)
#        NOISY_PCT (20) RETRIES (3): a run during which processes other than the server, wrk and
#                (for Parse) PostgreSQL used more than NOISY_PCT% of a core is measured again, up
#                to RETRIES times; the attempt that shared the machine least is kept, and the
#                report flags it if even that one was over NOISY_PCT
#        OUT (bench/results/latest.json)
#
# Starts, in this order: Parse Server 9.10.0 through the anchor's start.sh (run from a private
# copy, see below) on a freshly created database, basalt (release build, embedded SQLite, fresh
# temporary data dir) and the ceiling (bench-ceiling: fixed 150-byte object, no store). Seeds
# SEED BenchItem objects into Parse and basalt through /batch, gives both the same index on
# score, then runs wrk with the anchor's lua/parse.lua for each workload, Parse then basalt,
# and the ceiling right after basalt's get. With NODES=2, a second basalt node starts after the
# seeding (same database, keys and app id, its own data dir) and stays up for the whole run; each
# workload is measured on both nodes together right after basalt's single-node run, `me` with the
# session token made on node 1.
# Prints a markdown table and writes the rows to OUT. Everything it starts is stopped on exit.
# basalt and the ceiling run without RUST_BACKTRACE/RUST_LIB_BACKTRACE, as in production: with
# them set, every anyhow error (even one built and dropped) captures a backtrace.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
repo=$(git -C "$here" rev-parse --show-toplevel)
anchor=$(cd "$repo/../shared/anchors/parse-server" && pwd)

DURATION=${DURATION:-10s}; CONNS=${CONNS:-32}; THREADS=${THREADS:-2}; SEED=${SEED:-10000}
# create runs last by default: it grows the table, and basalt creates several times more rows than
# Parse in the same time, which would make basalt's count (and query) scan a bigger table.
WORKLOADS=${WORKLOADS:-"get query update count me create"}
PARSE_PORT=${PARSE_PORT:-1341}; PARSE_DB=${PARSE_DB:-parse_bench}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
BASALT_STORE=${BASALT_STORE:-sqlite}; BASALT_DB=${BASALT_DB:-basalt_bench}
NODES=${NODES:-1}; NODE_ROUNDS=${NODE_ROUNDS:-1}
# Whose CPU the PostgreSQL processes count as (cpu_share.py), rather than as interference.
export BENCH_PG_SERVERS=parse
[ "$BASALT_STORE" = postgres ] && BENCH_PG_SERVERS="parse basalt basalt_x2"
OUT=${OUT:-$here/results/latest.json}
WARMUP=${WARMUP:-2s}
NOISY_PCT=${NOISY_PCT:-20}; RETRIES=${RETRIES:-3}
APP_ID=bench; MASTER_KEY=benchmaster

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

case $NODES in 1|2) ;; *) die "NODES must be 1 or 2 (got '$NODES')" ;; esac
case $NODE_ROUNDS in ''|*[!0-9]*|0) die "NODE_ROUNDS must be a positive whole number (got '$NODE_ROUNDS')" ;; esac
if [ "$NODES" = 2 ] && [ "$BASALT_STORE" != postgres ]; then
  die "NODES=2 needs BASALT_STORE=postgres: two basalt nodes share one PostgreSQL database," \
    "while the embedded SQLite store belongs to a single process"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/basalt-bench.XXXXXX")
mkdir -p "$work/raw"
basalt_pid=""; basalt2_pid=""; ceiling_pid=""; parse_pid=""; parse_started=0; wrk_pids=""
# Parse runs from a private copy of the anchor in the work dir (node_modules linked, not copied):
# start.sh writes its pid file and log next to itself and Parse writes files/ and logs/ into its
# working directory, so nothing lands in shared/ (start.sh only switches to its own /tmp copy
# when the anchor is unwritable, and as root it is always writable), and our stop.sh can only
# ever stop our own Parse.
parse_dir="$work/parse-anchor"

stop_pid() { # pid: TERM, wait up to 5 s, then KILL
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT
  trap '' INT TERM  # a second signal must not cut the cleanup short
  for p in $wrk_pids; do stop_pid "$p"; done
  [ -n "$ceiling_pid" ] && stop_pid "$ceiling_pid"
  [ -n "$basalt2_pid" ] && stop_pid "$basalt2_pid"
  [ -n "$basalt_pid" ] && stop_pid "$basalt_pid"
  if [ "$parse_started" = 1 ]; then
    PORT=$PARSE_PORT "$parse_dir/stop.sh" >/dev/null 2>&1
    [ -n "$parse_pid" ] && stop_pid "$parse_pid"
  fi
  wait 2>/dev/null
  if [ "$rc" != 0 ]; then
    log "failed (exit $rc); server logs:"
    for f in "$work"/*.log "$parse_dir/parse-$PARSE_PORT.log"; do
      [ -s "$f" ] && { echo "--- $f (last 20 lines)" >&2; tail -20 "$f" >&2; }
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
cleanup_on_exit cleanup

# ---- prerequisites -------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  log "installing wrk (apt)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  { $sudo apt-get install -y -qq wrk || { $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk; }; } >/dev/null 2>&1 \
    || die "cannot install wrk"
fi
for tool in python3 curl psql node git; do command -v "$tool" >/dev/null || die "$tool is required"; done
psql "$PGURL/postgres" -qtAc "select 1" >/dev/null 2>&1 || die "PostgreSQL is not reachable at $PGURL"

[ "${SKIP_BUILD:-}" = 1 ] || log "cargo build --release -p basalt -p basalt-bench-ceiling"
build_release "$repo" basalt basalt-bench-ceiling || die "release build failed"
release=$(release_dir "$repo")
basalt_bin="$release/basalt"; ceiling_bin="$release/bench-ceiling"
[ -x "$basalt_bin" ] && [ -x "$ceiling_bin" ] || die "missing release binaries in $release"

# ---- start the servers ---------------------------------------------------------------------
if (exec 3<>"/dev/tcp/127.0.0.1/$PARSE_PORT") 2>/dev/null; then
  die "port $PARSE_PORT is in use (a leftover Parse? see ps/ss); set PARSE_PORT"
fi
log "Parse Server: fresh database $PARSE_DB, port $PARSE_PORT"
mkdir -p "$parse_dir"
for f in "$anchor"/* "$anchor"/.gitignore; do
  case ${f##*/} in node_modules|files|logs|*.log|*.pid) ;; *) cp -r "$f" "$parse_dir/" ;; esac
done
chmod -R u+w "$parse_dir"
# without the anchor's node_modules, start.sh runs npm ci in the copy
[ -d "$anchor/node_modules/parse-server" ] && ln -s "$anchor/node_modules" "$parse_dir/node_modules"
PGOPTIONS='-c client_min_messages=warning' psql "$PGURL/postgres" -qc "drop database if exists $PARSE_DB with (force)" >/dev/null
parse_started=1
PORT=$PARSE_PORT DB=$PARSE_DB PGURL=$PGURL "$parse_dir/start.sh" > "$work/parse-start.log" 2>&1 \
  || die "Parse Server did not start: $(cat "$work/parse-start.log")"
parse_pid=$(cat "$parse_dir/parse-$PARSE_PORT.pid" 2>/dev/null || true)
parse_url="http://127.0.0.1:$PARSE_PORT/parse"

basalt_store_args=()
if [ "$BASALT_STORE" = postgres ]; then
  # Same PostgreSQL server as Parse, its own freshly created database.
  PGOPTIONS="-c client_min_messages=warning" psql "$PGURL/postgres" -qc "drop database if exists $BASALT_DB with (force)" -c "create database $BASALT_DB" \
    >/dev/null || die "cannot create database $BASALT_DB"
  basalt_store_args=(--database-uri "$PGURL/$BASALT_DB?sslmode=disable")
  log "basalt: $basalt_bin (PostgreSQL database $BASALT_DB)"
else
  log "basalt: $basalt_bin (fresh data dir, embedded SQLite)"
fi
# start_basalt NAME: a basalt node with its own data dir NAME-data, output to NAME.out and NAME.log
# in the work dir; sets started_pid (a $(...) subshell could not hand the pid back to wait on)
start_basalt() {
  env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$basalt_bin" serve --listen 127.0.0.1:0 \
    --data-dir "$work/$1-data" --app-id "$APP_ID" --master-key "$MASTER_KEY" \
    "${basalt_store_args[@]}" > "$work/$1.out" 2> "$work/$1.log" &
  started_pid=$!
}
start_basalt basalt; basalt_pid=$started_pid
basalt_url=$(wait_listening "$work/basalt.out" "$basalt_pid") || die "basalt did not start"

env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$ceiling_bin" 127.0.0.1:0 > "$work/ceiling.out" 2> "$work/ceiling.log" &
ceiling_pid=$!
ceiling_url=$(wait_listening "$work/ceiling.out" "$ceiling_pid") || die "bench-ceiling did not start"
log "parse $parse_url  basalt $basalt_url  ceiling $ceiling_url"

# ---- seed, index, session ------------------------------------------------------------------
H=(-H "X-Parse-Application-Id: $APP_ID" -H "Content-Type: application/json")
prepare() { # name base_url: seeds, adds the index, tries a signup (token file empty when none)
  local name=$1 url=$2 t0 user resp
  t0=$(date +%s.%N)
  python3 "$here/seed.py" "$url" "$APP_ID" "$MASTER_KEY" "$SEED" > "$work/$name-ids.txt" \
    || die "seeding $name failed"
  log "$name: seeded $(wc -l < "$work/$name-ids.txt") objects in $(python3 -c "import sys,time; print(round(time.time()-float(sys.argv[1]),1))" "$t0") s"
  curl -sf "${H[@]}" -H "X-Parse-Master-Key: $MASTER_KEY" -X PUT "$url/schemas/BenchItem" \
    -d '{"indexes":{"score_1":{"score":1}}}' >/dev/null || die "$name: adding the score index failed"
  user="bench$RANDOM$RANDOM"
  resp=$(curl -s "${H[@]}" -X POST "$url/users" -d "{\"username\":\"$user\",\"password\":\"pw-$user\"}" || true)
  echo "$resp" > "$work/$name-signup.txt"
  echo "$resp" | python3 -c 'import json,sys
try: print(json.load(sys.stdin).get("sessionToken",""))
except Exception: print("")' > "$work/$name-token.txt"
  [ -s "$work/$name-token.txt" ] && [ -n "$(cat "$work/$name-token.txt")" ] \
    || log "$name: POST /users gave no sessionToken ($resp); 'me' is n/a"
}
prepare parse "$parse_url"
prepare basalt "$basalt_url"
# The PostgreSQL here runs with autovacuum off. A table just bulk-loaded has full pages and a
# table never vacuumed piles up dead row versions that every index lookup then walks, which no
# production table with autovacuum on looks like; vacuum both servers' databases once, alike.
vacuum_db() { pg_vacuum "$PGURL/$1" || die "VACUUM of $1 failed"; }
vacuum_db "$PARSE_DB"
[ "$BASALT_STORE" = postgres ] && vacuum_db "$BASALT_DB"
if [ "$NODES" = 2 ]; then
  # Joins the seeded database the way a node added to a running deployment would; it serves node
  # 1's objects and session token from the shared database.
  start_basalt basalt2; basalt2_pid=$started_pid
  basalt2_url=$(wait_listening "$work/basalt2.out" "$basalt2_pid") || die "basalt node 2 did not start"
  log "basalt node 2 $basalt2_url (same database $BASALT_DB)"
fi

# ---- measure -------------------------------------------------------------------------------
# CPU accounting around each measured run, to tell a clean run from one that shared the machine:
# machine-wide busy time (/proc/stat), the server process's own time, and wrk's (children times).
machine_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
server_ticks() { # pid...: the server's processes together (two basalt nodes count as one server)
  local p s=0
  for p in "$@"; do s=$((s + $(proc_ticks "$p"))); done
  echo "$s"
}
pg_ticks() { # "pid:ticks,..." of every PostgreSQL process (Parse's database work), for cpu_share.py
  local p out=""
  for p in $(pgrep -x postgres || true); do out="$out$p:$(proc_ticks "$p"),"; done
  echo "${out:-none}"
}
# children_secs: CPU seconds of the shell's waited-for children so far (run `times > $work/times.txt`
# in this shell first: in a $(...) subshell, times would count the subshell's children only)
children_secs() { awk 'NR == 2 {
  n = split($0, a, " "); s = 0
  for (i = 1; i <= n; i++) { m = a[i]; sub(/s$/, "", m); split(m, b, "m"); s += b[1] * 60 + b[2] }
  print s }' "$work/times.txt"; }

# wrk_all DURATION OUT WORKLOAD TOKEN IDS_FILE URL...: one wrk per URL, all at once, with CONNS and
# THREADS split evenly between them (threads at least 1 each); the Nth one's output goes to OUT.N.
# Fails when any wrk failed. The wrks run in the background and the shell waits for them, so a
# signal stops the run at once.
wrk_all() {
  local d=$1 out=$2 w=$3 token=$4 ids=$5; shift 5
  local n=$# i=0 u hostport path conns threads p rc=0
  threads=$((THREADS / n)); [ "$threads" -ge 1 ] || threads=1
  wrk_pids=""
  for u in "$@"; do
    i=$((i + 1))
    conns=$((CONNS / n)); if [ "$i" -le $((CONNS % n)) ]; then conns=$((conns + 1)); fi
    hostport=$(echo "$u" | sed -E 's#^(https?://[^/]+).*#\1#'); path=$(echo "$u" | sed -E 's#^https?://[^/]+##')
    WORKLOAD=$w BASE_PATH=$path APP_ID=$APP_ID SESSION_TOKEN=$token IDS_FILE=$ids \
      wrk -t"$threads" -c"$conns" -d"$d" --latency -s "$anchor/lua/parse.lua" "$hostport" > "$out.$i" 2>&1 &
    wrk_pids="$wrk_pids $!"
  done
  for p in $wrk_pids; do wait "$p" || rc=1; done
  wrk_pids=""
  return "$rc"
}

# run_wrk NAME WORKLOAD DATA "SERVER_PIDS" URL...: measures WORKLOAD against the URLs together
# (wrk_all) with DATA's seeded ids and session token (DATA: parse or basalt). Raw wrk output to
# raw/NAME__WORKLOAD.txt (with several URLs, each wrk's output after a "=== wrk N URL" line), CPU
# shares to raw/NAME__WORKLOAD.cpu (SERVER_PIDS together as the server), or the reason it was
# skipped to raw/NAME__WORKLOAD.skip
run_wrk() {
  local name=$1 w=$2 data=$3 spids=$4; shift 4
  local urls=("$@") n=$# ids="$work/$data-ids.txt" token="" u resp i m0 m1 s0 s1 c0 c1 p0 p1 t0 t1
  local attempt other tag best="" best_other=0 tries=0
  if [ "$w" = me ]; then
    token=$(cat "$work/$data-token.txt" 2>/dev/null || true)
    if [ -z "$token" ]; then
      log "$name me: skipped (no session token)"
      echo "POST /users gave no sessionToken: $(cat "$work/$data-signup.txt" 2>/dev/null)" > "$work/raw/${name}__me.skip"
      return 0
    fi
    # Across nodes the token made on the first must hold on every one; measuring error replies
    # instead would report their speed.
    if [ "$n" -gt 1 ]; then
      for u in "${urls[@]}"; do
        resp=$(curl -s -H "X-Parse-Application-Id: $APP_ID" -H "X-Parse-Session-Token: $token" "$u/users/me" || true)
        if ! echo "$resp" | grep -q '"objectId"'; then
          log "$name me: skipped ($u refused the session token made on ${urls[0]}: $resp)"
          echo "$u refused the session token made on ${urls[0]}: $resp" > "$work/raw/${name}__me.skip"
          return 0
        fi
      done
    fi
  fi
  if [ "$WARMUP" != 0 ]; then
    wrk_all "$WARMUP" "$work/warmup" "$w" "$token" "$ids" "${urls[@]}" || true
  fi
  for attempt in $(seq 0 "$RETRIES"); do
    tag="$work/try-${name}__$w-$attempt"; tries=$((attempt + 1))
    times > "$work/times.txt"; c0=$(children_secs)
    # shellcheck disable=SC2086 # spids is a list of pids
    m0=$(machine_ticks); s0=$(server_ticks $spids); p0=$(pg_ticks); t0=$(date +%s.%N)
    wrk_all "$DURATION" "$tag.wrk" "$w" "$token" "$ids" "${urls[@]}" \
      || log "$name $w: wrk failed: $(tail -3 "$tag".wrk.*)"
    # shellcheck disable=SC2086
    m1=$(machine_ticks); s1=$(server_ticks $spids); p1=$(pg_ticks); t1=$(date +%s.%N)
    times > "$work/times.txt"; c1=$(children_secs)
    if [ "$n" = 1 ]; then
      mv "$tag.wrk.1" "$tag.txt"
    else
      for i in $(seq 1 "$n"); do echo "=== wrk $i ${urls[i-1]}"; cat "$tag.wrk.$i"; done > "$tag.txt"
    fi
    python3 "$here/cpu_share.py" "$name" "$m0" "$m1" "$s0" "$s1" "$c0" "$c1" "$p0" "$p1" "$t0" "$t1" \
      > "$tag.cpu"
    other=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["other_pct"])' "$tag.cpu")
    log "$name $w: $(awk '/Requests\/sec/ {s += $2; a = a (n++ ? " + " : "") $2}
      END {if (n == 1) print a " req/s"; else if (n) printf "%.2f req/s (%s)\n", s, a}' "$tag.txt") $(cat "$tag.cpu")"
    if [ -z "$best" ] || [ "$other" -lt "$best_other" ]; then best=$tag; best_other=$other; fi
    sleep 1
    [ "$other" -gt "$NOISY_PCT" ] || break
    if [ "$attempt" -lt "$RETRIES" ]; then
      log "$name $w: something else used ${other}% of a core; measuring again"
    fi
  done
  # keep the attempt that shared the machine least
  cp "$best.txt" "$work/raw/${name}__$w.txt"; cp "$best.cpu" "$work/raw/${name}__$w.cpu"
  echo "$tries" > "$work/raw/${name}__$w.tries"
  return 0
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
first_workload=1
for w in $WORKLOADS; do
  case $w in create|get|query|update|count|me) ;; *) die "unknown workload $w" ;; esac
  # Autovacuum is off here (see vacuum_db): without this, a workload would also walk the dead row
  # versions the one before it left, and basalt's update run leaves some twenty times as many as
  # Parse's. Vacuuming between workloads stands in for autovacuum, for both servers alike.
  if [ -z "$first_workload" ]; then
    vacuum_db "$PARSE_DB"
    if [ "$BASALT_STORE" = postgres ]; then vacuum_db "$BASALT_DB"; fi
  fi
  first_workload=""
  run_wrk parse "$w" parse "$parse_pid" "$parse_url"
  run_wrk basalt "$w" basalt "$basalt_pid" "$basalt_url"
  # right after the single node, so drift on the machine hits both alike
  if [ "$NODES" = 2 ]; then
    run_wrk basalt_x2 "$w" basalt "$basalt_pid $basalt2_pid" "$basalt_url" "$basalt2_url"
    for r in $(seq 2 "$NODE_ROUNDS"); do
      run_wrk "basalt_r$r" "$w" basalt "$basalt_pid" "$basalt_url"
      run_wrk "basalt_x2_r$r" "$w" basalt "$basalt_pid $basalt2_pid" "$basalt_url" "$basalt2_url"
    done
  fi
  if [ "$w" = get ]; then run_wrk ceiling get basalt "$ceiling_pid" "$ceiling_url"; fi
done

# ---- report --------------------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
commit=$(git -C "$repo" rev-parse --short HEAD)
git -C "$repo" diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null || commit="$commit+dirty"
BUILD=$([ "${SKIP_BUILD:-}" = 1 ] && echo "skipped (existing binaries)" || echo "cargo build --release") \
NOISY_PCT=$NOISY_PCT LOAD_BEFORE=$load_before LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg) WARMUP=$WARMUP \
DURATION=$DURATION CONNS=$CONNS THREADS=$THREADS SEED=$SEED WORKLOADS=$WORKLOADS COMMIT=$commit \
BASALT_STORE=$BASALT_STORE NODES=$NODES NODE_ROUNDS=$NODE_ROUNDS \
  python3 "$here/report.py" "$work/raw" "$OUT"
log "rows written to $OUT"
