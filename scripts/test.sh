#!/usr/bin/env bash
# Sets up and runs every check: formatting, clippy, the Rust tests (on SQLite
# and PostgreSQL), the API against its OpenAPI document (Schemathesis) and
# the browser tests in Chromium. Exits non-zero on any failure.
#
# PostgreSQL must run on 127.0.0.1:5432 with trust auth for user `postgres`
# (set SPECULA_TEST_POSTGRES_URL to use another server).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

total_start=$SECONDS
step "installing tools" ensure_rust
ensure_chromium
ensure_end2end_packages
ensure_test_python

step "format check" cargo fmt --all -- --check
step "clippy (server side)" cargo clippy --locked --workspace --exclude frontend --all-targets -- -D warnings
step "clippy (browser side)" cargo clippy --locked -p frontend --target wasm32-unknown-unknown -- -D warnings
step "Rust tests" cargo test --locked --workspace --exclude frontend
step "API contract (Schemathesis)" "$ROOT/scripts/schemathesis/run.sh"
step "building the browser bundle" build_site
step "browser bundle size" check_bundle_size

run_browser_tests() {
  SPECULA_E2E_BIN="$ROOT/target/debug/specula" \
  SPECULA_E2E_PORT="$(free_port)" \
    npm --prefix "$ROOT/end2end" test --silent
}
step "browser tests" run_browser_tests

log "all checks passed in $((SECONDS - total_start)) s"
