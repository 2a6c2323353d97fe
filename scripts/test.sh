#!/usr/bin/env bash
# The whole test suite: formatting, lints, Rust unit and black-box tests, and the official
# Parse SDK suite against the freshly built binary. Run from anywhere: ./scripts/test.sh
#
# The black-box, SDK and security suites run twice: on the embedded SQLite store, then on
# PostgreSQL (each server in its own fresh database on BASALT_TEST_POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432/postgres). Without a reachable PostgreSQL the PostgreSQL
# runs are skipped and said to be, unless BASALT_REQUIRE_POSTGRES=1 makes that a failure.
#
# The multi-node tests (crates/basalt/tests/it/behind_proxy.rs) also need Redis
# (BASALT_TEST_REDIS_URL, default redis://127.0.0.1:6379) and the nginx and redis-server
# programs; without them they are skipped and say so, unless BASALT_REQUIRE_POSTGRES=1 or
# BASALT_REQUIRE_REDIS=1 makes that a failure. .ci/run installs and checks all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts the binary the node suites drive (CARGO_TARGET_DIR is honoured).
target_dir=$(cd "${CARGO_TARGET_DIR:-target}" 2>/dev/null && pwd || echo "$PWD/target")

step() { printf '\n==> %s\n' "$*"; }

pg_url="${BASALT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export BASALT_TEST_POSTGRES_URL="$pg_url"
pg_reachable() { command -v psql >/dev/null && psql "$pg_url" -qAtc 'SELECT 1' >/dev/null 2>&1; }
if pg_reachable; then
  postgres=yes
elif [ "${BASALT_REQUIRE_POSTGRES:-}" = 1 ]; then
  echo "FATAL: PostgreSQL at $pg_url is unreachable and BASALT_REQUIRE_POSTGRES=1" >&2
  exit 1
else
  postgres=no
  printf '\nSKIPPING the PostgreSQL runs: PostgreSQL at %s is unreachable (or psql is missing).\n' "$pg_url"
  printf 'Skipped: crates/basalt-store/tests/postgres.rs, the PostgreSQL unit tests in basalt-store,\n'
  printf 'and the PostgreSQL passes of the black-box (it), SDK and security suites.\n'
fi

# The mail tests run a real SMTP server from the aiosmtpd Python package; installed here when
# missing, as npm packages are below, so this command works on a fresh machine.
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  step "installing aiosmtpd (the mail tests' SMTP server) with pip"
  python3 -m pip install --quiet --disable-pip-version-check aiosmtpd==1.4.6 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages aiosmtpd==1.4.6
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build (the binary the SDK suite drives)"
cargo build --locked -p basalt

step "cargo test (unit, store and black-box tests; the store conformance suite on both stores)"
cargo test --workspace --locked

node_suites() {
  local label=$1
  step "official Parse JS SDK suite (tests/sdk) on $label"
  command -v node >/dev/null || { echo "node is required for tests/sdk (Node.js 20 or newer)" >&2; exit 1; }
  (
    cd tests/sdk
    [ -d node_modules/parse ] && [ -d node_modules/otpauth ] || npm ci --no-audit --no-fund
    # The OpenID Connect provider the social log-in tests run on loopback.
    (cd ../support/oidc && { [ -d node_modules/oidc-provider ] || npm ci --no-audit --no-fund; })
    BASALT_BIN="$target_dir/debug/basalt" npm test
  )

  step "security suite: OWASP API Top 10 attacks (tests/security) on $label"
  (
    cd tests/security
    BASALT_BIN="$target_dir/debug/basalt" node --test --test-concurrency=2 .
  )
}

node_suites SQLite

if [ "$postgres" = yes ]; then
  step "black-box tests (crates/basalt/tests/it) on PostgreSQL"
  BASALT_TEST_STORE=postgres cargo test --locked -p basalt --test it
  (export BASALT_TEST_STORE=postgres; node_suites PostgreSQL)
else
  printf '\nSKIPPED: the PostgreSQL passes of the black-box, SDK and security suites (PostgreSQL at %s is unreachable).\n' "$pg_url"
fi
