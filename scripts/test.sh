#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian/Ubuntu machine: installs what it needs
# (idempotently), builds kyso, and runs every test against isolated SoftHSM2 tokens with
# OpenSSL (and later pdfsig, qpdf, pyHanko, xmlsec1) as independent verifiers; then the
# browser tests: the SDK and demo portal in headless Chromium (tests/e2e, node:test); then the
# installers (scripts/test-installers.sh: the .deb installed and removed, the Windows installer
# cross-built and inspected, the macOS code type-checked).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="$PWD/.venv/bin:$PATH"
cargo build --locked -p kyso
cargo test --locked --workspace "$@"
export KYSO_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/kyso"
(cd tests/e2e && node --test e2e.test.mjs && node --test vnpt.test.mjs)
scripts/test-installers.sh
