#!/usr/bin/env bash
# Installs what kyso's demo and tests need on Debian/Ubuntu, idempotently:
#   scripts/setup.sh demo   -> packages to run the demo (SoftHSM2)
#   scripts/setup.sh test   -> also OpenSSL, OpenSC, NSS tools, PDF/XML validators and a
#                              Python venv (.venv) with pyHanko and signxml, Chromium and the
#                              browser tests' npm packages (tests/e2e, from its lockfile), and
#                              what `installers` installs
#   scripts/setup.sh installers -> what scripts/test-installers.sh needs: cargo-deb, the
#                              Windows cross toolchain (rustup target, MinGW-w64), NSIS, 7-Zip,
#                              clang and the Apple rustup targets for the macOS type-check
# Nothing is reinstalled when it is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-test}"
# The cargo-deb the .deb is built with (also in .github/workflows/release.yml).
CARGO_DEB_VERSION="3.8.0"
packages=(softhsm2 openssl ca-certificates)
if [ "$mode" = test ]; then
  # Native dialogs (zenity) and the headless X server the dialog test drives.
  packages+=(zenity xvfb xdotool x11-apps dbus)
  packages+=(opensc libnss3-tools poppler-utils qpdf xmlsec1 python3-venv time chromium)
  # Node.js runs the browser tests; any install that provides `node` and `npm` will do.
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
  # xwdtopnm/pnmtopng turn the PIN dialog's screenshot into a PNG.
  packages+=(netpbm)
fi
if [ "$mode" = test ] || [ "$mode" = installers ]; then
  # .deb: dpkg-shlibdeps (dpkg-dev) for its dependencies, desktop-file-validate for its entries.
  packages+=(dpkg-dev desktop-file-utils file)
  # Windows: the MinGW-w64 linker, makensis, and 7z to look inside the installer.
  packages+=(gcc-mingw-w64-x86-64 nsis p7zip-full)
  # macOS type-check: clang compiles ring's C for Darwin targets.
  packages+=(clang)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "kyso setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "kyso setup: Rust is not installed; see https://rustup.rs" >&2
  exit 1
fi

if [ "$mode" = test ] || [ "$mode" = installers ]; then
  if ! command -v rustup >/dev/null 2>&1; then
    echo "kyso setup: the installer checks need rustup (for the Windows and macOS targets); see https://rustup.rs" >&2
    exit 1
  fi
  installed_targets="$(rustup target list --installed)"
  for target in x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin; do
    grep -qx "$target" <<<"$installed_targets" || rustup target add "$target"
  done
  if ! command -v cargo-deb >/dev/null 2>&1; then
    cargo install --locked cargo-deb --version "$CARGO_DEB_VERSION"
  fi
fi

if [ "$mode" = test ]; then
  venv=".venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  # Validators written by others: pyHanko (PDF) and signxml (XML).
  if ! "$venv/bin/python" -c "import pyhanko, pyhanko.cli, signxml" >/dev/null 2>&1; then
    "$venv/bin/pip" install -q --disable-pip-version-check "pyhanko[pkcs11]" pyhanko-cli signxml
  fi
  # playwright-core drives Debian's Chromium (no browser download), pinned by the lockfile.
  if ! node -e 'const w = require("./tests/e2e/package.json").dependencies["playwright-core"];
      process.exit(require("./tests/e2e/node_modules/playwright-core/package.json").version === w ? 0 : 1)' 2>/dev/null; then
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
