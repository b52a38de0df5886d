#!/usr/bin/env bash
# Builds kyso's installers on this Linux machine and checks them (installer/README.md):
#   scripts/test-installers.sh deb       the .deb (cargo-deb): dpkg -i, `kyso doctor`, a user's
#                                        start at login against the package's autostart entry,
#                                        dpkg -r, dpkg --purge, and nothing left behind
#   scripts/test-installers.sh windows   cross-builds kyso.exe (x86_64-pc-windows-gnu), makes the
#                                        NSIS installer, checks it is a PE installer that holds
#                                        exactly that kyso.exe, a GUI-subsystem program
#   scripts/test-installers.sh macos     type-checks (clippy) kyso for aarch64- and
#                                        x86_64-apple-darwin
#   scripts/test-installers.sh [all]     the three, in that order
# Needs what `scripts/setup.sh installers` installs (run by scripts/test.sh). Test builds use
# quick profiles (dev for the .deb, installer-test for Windows); release builds are the release
# workflow's (.github/workflows/release.yml). Prints how long each part took.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
out="$target_dir/installers"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
mkdir -p "$out"

fail() {
  echo "test-installers: FAIL: $*" >&2
  exit 1
}

step() {
  echo "test-installers: $*" >&2
}

# --- Linux: the .deb ---------------------------------------------------------------------

# The paths the package writes to (and dpkg's own records of it), listed without the
# package-independent caches that dpkg triggers may refresh.
deb_listing() {
  find /usr/bin /usr/share/applications /usr/share/icons/hicolor /usr/share/doc \
    /etc/xdg /var/lib/dpkg/info -xdev 2>/dev/null \
    | grep -v -e '/icon-theme\.cache$' -e '/mimeinfo\.cache$' -e '/desktop\.[a-z_@A-Z]*\.cache$' \
    | LC_ALL=C sort
}

deb_installed() {
  dpkg-query -W -f='${Status}' kyso 2>/dev/null | grep -q "install ok installed"
}

test_deb() {
  command -v cargo-deb >/dev/null || fail "cargo-deb is missing: run scripts/setup.sh installers"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if dpkg-query -W -f='${Status}' kyso 2>/dev/null | grep -q "installed"; then
    fail "a kyso package is already on this machine; remove it first: $sudo dpkg --purge kyso"
  fi

  step "deb: building (cargo deb, dev profile, stripped)"
  rm -f "$out"/kyso_*.deb
  # The dev profile reuses the test build (a release build would add many minutes); the
  # release workflow builds the release profile. cargo-deb 3.8 warns that it is meant for
  # release builds: what is tested here is the package, not the optimiser.
  cargo deb --locked -p kyso --profile dev --strip --output "$out" >&2
  local deb
  deb="$(ls "$out"/kyso_*.deb)"
  dpkg-deb --info "$deb" >&2
  dpkg-deb --contents "$deb" >&2
  for path in ./usr/bin/kyso ./usr/share/applications/kyso.desktop \
    ./usr/share/icons/hicolor/scalable/apps/kyso.svg ./etc/xdg/autostart/kyso.desktop; do
    dpkg-deb --contents "$deb" | awk '{print $6}' | grep -qx "$path" || fail "$path not in $deb"
  done
  dpkg-deb --info "$deb" conffiles | grep -qx /etc/xdg/autostart/kyso.desktop \
    || fail "the autostart entry is not a conffile"
  desktop-file-validate installer/linux/kyso.desktop installer/linux/kyso-autostart.desktop

  local before after home
  before="$(mktemp)"
  after="$(mktemp)"
  home="$(mktemp -d)"
  deb_listing >"$before"
  # Whatever happens below, the package does not stay installed.
  trap '$sudo dpkg --purge kyso >/dev/null 2>&1 || true; rm -rf "$home"' EXIT

  step "deb: dpkg -i"
  $sudo dpkg -i "$deb" >&2
  deb_installed || fail "dpkg -i did not install kyso"
  [ -x /usr/bin/kyso ] || fail "/usr/bin/kyso missing after dpkg -i"
  file -L /usr/bin/kyso | grep -q ", stripped" || fail "/usr/bin/kyso is not stripped: $(file -L /usr/bin/kyso)"
  /usr/bin/kyso --version >&2

  # A user of the installed package, in an empty HOME (nothing of this machine's user touched).
  run_as_user() {
    env -u XDG_CONFIG_DIRS HOME="$home" XDG_CONFIG_HOME="$home/.config" \
      XDG_DATA_HOME="$home/.local/share" "$@"
  }
  step "deb: kyso doctor"
  local status=0
  run_as_user /usr/bin/kyso doctor --offline >&2 || status=$?
  # Non-zero means "something needs fixing" (no token here); a signal or a missing program is not.
  [ "$status" -lt 2 ] || fail "kyso doctor exited with $status"

  step "deb: start at login follows the package's entry in /etc/xdg/autostart"
  local json
  json="$(run_as_user /usr/bin/kyso install --json)"
  echo "$json" | grep -q '"location": *"/etc/xdg/autostart/kyso.desktop"' \
    || fail "kyso install does not report the system autostart entry: $json"
  [ ! -e "$home/.config/autostart/kyso.desktop" ] || fail "install wrote a user entry beside the system one"
  run_as_user /usr/bin/kyso uninstall --purge --json >&2
  grep -qx 'Hidden=true' "$home/.config/autostart/kyso.desktop" \
    || fail "turning start at login off did not hide the system entry for the user"

  step "deb: dpkg -r"
  $sudo dpkg -r kyso >&2
  [ ! -e /usr/bin/kyso ] || fail "/usr/bin/kyso left after dpkg -r"
  [ -e /etc/xdg/autostart/kyso.desktop ] || fail "dpkg -r removed the conffile (it should keep it until --purge)"
  step "deb: dpkg --purge"
  $sudo dpkg --purge kyso >&2
  ! dpkg-query -W -f='${Status}' kyso 2>/dev/null | grep -q "installed" || fail "dpkg still knows kyso"
  deb_listing >"$after"
  if ! diff -u "$before" "$after" >&2; then
    fail "files left behind or removed by the package (diff above)"
  fi
  rm -f "$before" "$after"
  trap - EXIT
  rm -rf "$home"
  step "deb: OK ($(du -h "$deb" | cut -f1) $(basename "$deb"); installed, doctor ran, removed, purged, nothing left)"
}

# --- Windows: the NSIS installer ----------------------------------------------------------

test_windows() {
  local target=x86_64-pc-windows-gnu profile=installer-test
  command -v makensis >/dev/null || fail "makensis is missing: run scripts/setup.sh installers (package nsis)"
  command -v 7z >/dev/null || fail "7z is missing: run scripts/setup.sh installers (package p7zip-full)"

  step "windows: cross-building kyso.exe ($target, profile $profile)"
  cargo build --locked -p kyso --target "$target" --profile "$profile" >&2
  local exe="$target_dir/$target/$profile/kyso.exe"
  local kind
  kind="$(file -b "$exe")"
  echo "$kind" | grep -q '^PE32+ executable (GUI) x86-64' \
    || fail "kyso.exe is not a 64-bit GUI-subsystem program: $kind"

  step "windows: makensis"
  local setup="$out/kyso-$version-setup.exe"
  rm -f "$setup"
  # -WX: a warning (a missing file, a bad string) fails the build.
  makensis -WX -V2 -DKYSO_EXE="$exe" -DVERSION="$version" -DOUTFILE="$setup" \
    installer/windows/kyso.nsi >&2
  kind="$(file -b "$setup")"
  echo "$kind" | grep -q '^PE32 executable (GUI).*Nullsoft Installer' \
    || fail "$setup is not an NSIS installer: $kind"

  step "windows: the installer holds the kyso.exe just built"
  local unpacked
  unpacked="$(mktemp -d)"
  7z x -y -o"$unpacked" "$setup" >/dev/null
  [ -f "$unpacked/kyso.exe" ] || fail "no kyso.exe in $setup: $(7z l "$setup")"
  cmp "$exe" "$unpacked/kyso.exe" || fail "the kyso.exe in $setup differs from $exe"
  file -b "$unpacked/kyso.exe" | grep -q '(GUI)' || fail "the packed kyso.exe is not a GUI program"
  rm -rf "$unpacked"
  step "windows: OK ($(du -h "$setup" | cut -f1) $(basename "$setup"))"
}

# --- macOS: type-check ---------------------------------------------------------------------

test_macos() {
  # ring's build script compiles C, which for Apple targets wants an Apple SDK. Instead: clang
  # (it targets Darwin itself), SDKROOT at installer/macos/check-sdk (clang's sysroot for
  # Darwin: a stand-in TargetConditionals.h, the one SDK header ring reads), and ring's own
  # no-libc mode (RING_CORE_NOSTDLIBINC; -ffreestanding keeps clang's x86 intrinsics headers
  # from including stdlib.h). Enough to type-check and lint; linking would need the SDK.
  command -v clang >/dev/null || fail "clang is missing: run scripts/setup.sh installers"
  local cflags="-DRING_CORE_NOSTDLIBINC=1 -ffreestanding"
  for target in aarch64-apple-darwin x86_64-apple-darwin; do
    step "macos: cargo clippy --target $target (type-check and lints)"
    SDKROOT="$PWD/installer/macos/check-sdk" \
      CC_aarch64_apple_darwin=clang CFLAGS_aarch64_apple_darwin="$cflags" \
      CC_x86_64_apple_darwin=clang CFLAGS_x86_64_apple_darwin="$cflags" \
      cargo clippy --locked -p kyso --target "$target" -- -D warnings >&2
  done
  step "macos: OK (kyso type-checks and is lint-clean for aarch64- and x86_64-apple-darwin)"
}

timed() {
  local start=$SECONDS
  "test_$1"
  step "$1 took $((SECONDS - start)) s"
}

mode="${1:-all}"
case "$mode" in
  deb | windows | macos) timed "$mode" ;;
  all) for m in deb windows macos; do timed "$m"; done ;;
  *) fail "unknown mode $mode (deb, windows, macos or all)" ;;
esac
