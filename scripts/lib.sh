# Shared helpers for Specula's scripts: install what is missing, skip what is there.
# Sourced, not run. Every installer is idempotent and quiet when nothing is to do.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Must match the `wasm-bindgen` crate pinned in Cargo.toml.
WASM_BINDGEN_VERSION="0.2.130"
SITE_DIR="$ROOT/target/site"
WASM_PROFILE="wasm-release"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Run a command as root (directly, or through sudo when available).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi
}

ensure_rust() {
  command -v cargo >/dev/null || die "cargo not found: install Rust with rustup first"
  # rust-toolchain.toml pins the toolchain; make sure it has the wasm target.
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_wasm_bindgen() {
  if command -v wasm-bindgen >/dev/null && [ "$(wasm-bindgen --version | awk '{print $2}')" = "$WASM_BINDGEN_VERSION" ]; then
    return
  fi
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  local work
  work="$(mktemp -d)"
  # `cargo install --locked` fails: its lock names webpki-roots 1.0.11, which the
  # registry no longer serves. Install from the published source with that one
  # dependency moved to 1.0.10.
  (cd "$work" && cargo info "wasm-bindgen-cli@$WASM_BINDGEN_VERSION" >/dev/null)
  local src
  src="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"wasm-bindgen-cli-$WASM_BINDGEN_VERSION" | head -n1)"
  [ -d "$src" ] || die "wasm-bindgen-cli source not found after download"
  cp -r "$src" "$work/cli"
  (cd "$work/cli" && cargo update -q -p webpki-roots --precise 1.0.10 && cargo install --quiet --path . --locked --force)
  rm -rf "$work"
}

ensure_wasm_opt() {
  if [ ! -x "$ROOT/tools/node_modules/.bin/wasm-opt" ]; then
    log "installing wasm-opt (binaryen from npm)"
    npm ci --prefix "$ROOT/tools" --no-audit --no-fund --loglevel=error
  fi
}

# Where wasm-bindgen and wasm-opt write before the files get their names.
STAGING_DIR="$ROOT/target/site-staging"
# The site root's record of the bundle's current name (read by the server).
BUNDLE_NAME_FILE="bundle-name.txt"

# Builds the browser bundle and stylesheet into target/site/pkg under
# content-hashed names (`specula-<hash>.js`, `…_bg.wasm`, `….css`), so that
# browsers may keep them for good, and records the name in
# target/site/bundle-name.txt for the server.
build_site() {
  ensure_rust
  ensure_wasm_bindgen
  ensure_wasm_opt
  log "building the browser bundle"
  cargo build --locked -p frontend --lib --target wasm32-unknown-unknown --profile "$WASM_PROFILE"
  local wasm="$ROOT/target/wasm32-unknown-unknown/$WASM_PROFILE/frontend.wasm"
  mkdir -p "$STAGING_DIR"
  # Skip the post-processing when the wasm has not changed since the last run.
  if [ ! -f "$STAGING_DIR/specula_bg.wasm" ] || [ "$wasm" -nt "$STAGING_DIR/specula_bg.wasm" ]; then
    wasm-bindgen --target web --no-typescript --out-dir "$STAGING_DIR" --out-name specula "$wasm"
    # --converge repeats the passes while they still shrink the module (~1%).
    "$ROOT/tools/node_modules/.bin/wasm-opt" -Oz --converge --enable-bulk-memory --enable-nontrapping-float-to-int \
      "$STAGING_DIR/specula_bg.wasm" -o "$STAGING_DIR/specula_bg.wasm"
  fi
  cp "$ROOT/style/main.css" "$STAGING_DIR/specula.css"
  local hash name pkg="$SITE_DIR/pkg"
  hash=$(cat "$STAGING_DIR/specula_bg.wasm" "$STAGING_DIR/specula.js" "$STAGING_DIR/specula.css" | sha256sum | cut -c1-12)
  name="specula-$hash"
  if [ ! -f "$pkg/$name.js" ]; then
    rm -rf "$pkg"
    mkdir -p "$pkg"
    cp "$STAGING_DIR/specula_bg.wasm" "$pkg/${name}_bg.wasm"
    # The script's fallback URL for the wasm names the file it sits beside.
    sed "s/specula_bg\.wasm/${name}_bg.wasm/g" "$STAGING_DIR/specula.js" >"$pkg/$name.js"
    cp "$STAGING_DIR/specula.css" "$pkg/$name.css"
    node "$ROOT/tools/compress.mjs" "$pkg/${name}_bg.wasm" "$pkg/$name.js" "$pkg/$name.css"
  fi
  printf '%s\n' "$name" >"$SITE_DIR/$BUNDLE_NAME_FILE"
  cp -r "$ROOT/public/." "$SITE_DIR/"
}

# The most the wasm may weigh as served (brotli): 450 KB. It stands at
# 445.8 KB (the checkout path moves it by a few hundred bytes); BENCHMARKS.md
# lists what weighs most.
BUNDLE_BUDGET_BYTES=450000

check_bundle_size() {
  local size name
  name=$(cat "$SITE_DIR/$BUNDLE_NAME_FILE")
  size=$(stat -c %s "$SITE_DIR/pkg/${name}_bg.wasm.br")
  log "browser bundle: $size B as served (brotli), budget $BUNDLE_BUDGET_BYTES B"
  if [ "$size" -gt "$BUNDLE_BUDGET_BYTES" ]; then
    echo "the browser bundle grew past its budget: $size > $BUNDLE_BUDGET_BYTES bytes (brotli)" >&2
    return 1
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    log "installing Debian's chromium for the browser tests"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
  fi
}

ensure_end2end_packages() {
  local dir="$ROOT/end2end"
  # Reinstall only when the lock file changed since the last install.
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "installing the browser-test packages (no browser download)"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
}

# A Python for the Rust tests' helpers (the alert email tests' SMTP server,
# aiosmtpd), in target/test-venv; exported as SPECULA_TEST_PYTHON.
AIOSMTPD_VERSION="1.4.6"
ensure_test_python() {
  local venv="$ROOT/target/test-venv"
  if ! "$venv/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
    log "installing aiosmtpd $AIOSMTPD_VERSION into target/test-venv"
    # Debian's python3 comes without the venv module (package python3-venv).
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      log "installing Debian's python3-venv"
      as_root apt-get update -qq
      DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
      rm -rf "$venv"
      python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
  fi
  export SPECULA_TEST_PYTHON="$venv/bin/python"
}

# A TCP port nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs a named step and reports how long it took.
step() {
  local name="$1"; shift
  local start=$SECONDS
  log "$name"
  "$@"
  log "$name: done in $((SECONDS - start)) s"
}
