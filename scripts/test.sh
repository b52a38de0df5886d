#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian/Ubuntu machine: installs what it needs
# (idempotently), builds kyso, and runs every test against isolated SoftHSM2 tokens with
# OpenSSL (and later pdfsig, qpdf, pyHanko, xmlsec1) as independent verifiers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="$PWD/.venv/bin:$PATH"
cargo build --locked -p kyso
cargo test --locked --workspace "$@"
