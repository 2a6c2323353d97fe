# Shell functions the bench scripts share; sourced, not run.

# wait_listening FILE PID: waits (up to 30 s) for basalt's "listening on URL" line in FILE and
# prints URL; fails at once if PID has exited.
wait_listening() {
  local file=$1 pid=$2 i url
  for i in $(seq 1 300); do
    url=$(awk '/^listening on /{print $3; exit}' "$file" 2>/dev/null)
    [ -n "$url" ] && { echo "$url"; return 0; }
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# pg_vacuum DATABASE_URL: VACUUM ANALYZE the whole database. The PostgreSQL here runs with
# autovacuum off: a table just bulk-loaded has full pages, and one never vacuumed piles up dead
# row versions that every index lookup then walks, which no production table looks like.
pg_vacuum() {
  PGOPTIONS='-c client_min_messages=warning' psql "$1" -qc "VACUUM ANALYZE" >/dev/null
}

# build_release REPO PACKAGE...: cargo build --release of the packages in REPO, unless
# SKIP_BUILD=1 says to use the binaries already built.
build_release() {
  local repo=$1 p args=()
  shift
  [ "${SKIP_BUILD:-}" = 1 ] && return 0
  for p in "$@"; do args+=(-p "$p"); done
  (cd "$repo" && cargo build --release -q "${args[@]}")
}

# release_dir REPO: where cargo puts REPO's release binaries: under CARGO_TARGET_DIR when set
# (relative to REPO, where the build runs), else under REPO/target.
release_dir() {
  local dir=${CARGO_TARGET_DIR:-target}
  case $dir in /*) ;; *) dir="$1/$dir" ;; esac
  echo "$dir/release"
}

# cleanup_on_exit FUNCTION: runs FUNCTION when the script exits, and turns Ctrl-C and SIGTERM
# into exits (status 130 and 143) so that it runs then too.
cleanup_on_exit() {
  trap "$1" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
