#!/usr/bin/env bash
# Sets up and runs Specula on SQLite: installs what is missing, builds the
# release, then runs `specula serve` in the foreground. Every SPECULA_*
# variable you set is passed through (see the README's configuration table).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$ROOT/scripts/build.sh"
log "starting Specula on ${SPECULA_LISTEN:-127.0.0.1:4318} (Ctrl-C stops it)"
exec "$ROOT/target/release/specula" serve "$@"
