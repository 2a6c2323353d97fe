#!/usr/bin/env bash
# The whole test suite: formatting, lints, Rust unit and black-box tests, and the official
# Parse SDK suite against the freshly built binary. Run from anywhere: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# Where cargo puts the binary the node suites drive (CARGO_TARGET_DIR is honoured).
target_dir=$(cd "${CARGO_TARGET_DIR:-target}" 2>/dev/null && pwd || echo "$PWD/target")

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build (the binary the SDK suite drives)"
cargo build --locked -p basalt

step "cargo test (unit, store and black-box tests)"
cargo test --workspace --locked

step "official Parse JS SDK suite (tests/sdk)"
command -v node >/dev/null || { echo "node is required for tests/sdk (Node.js 20 or newer)" >&2; exit 1; }
(
  cd tests/sdk
  [ -d node_modules/parse ] && [ -d node_modules/otpauth ] || npm ci --no-audit --no-fund
  # The OpenID Connect provider the social log-in tests run on loopback.
  (cd ../support/oidc && { [ -d node_modules/oidc-provider ] || npm ci --no-audit --no-fund; })
  BASALT_BIN="$target_dir/debug/basalt" npm test
)

step "security suite: OWASP API Top 10 attacks (tests/security)"
(
  cd tests/security
  BASALT_BIN="$target_dir/debug/basalt" node --test --test-concurrency=2 .
)
