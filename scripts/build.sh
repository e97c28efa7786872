#!/usr/bin/env bash
# Builds Specula for release: the browser bundle into target/site and the
# server binary target/release/specula.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_site
log "building the server (release)"
cargo build --locked --release -p server --bin specula
log "built target/release/specula and target/site"
