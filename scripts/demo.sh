#!/usr/bin/env bash
# Starts kyso on its embedded default: provisions the demo SoftHSM token in your data folder
# (never the system token store) and shows it working. Installs what it needs, idempotently.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh demo
cargo build --locked --release -p kyso
exec target/release/kyso demo "$@"
