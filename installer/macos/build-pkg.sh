#!/usr/bin/env bash
# Builds kyso's macOS installer on a Mac (pkgbuild and productbuild come with Xcode):
#   installer/macos/build-pkg.sh VERSION KYSO_BINARY OUTPUT.pkg
# KYSO_BINARY is normally a universal binary (`lipo -create` of the aarch64- and
# x86_64-apple-darwin release builds). The payload is /Applications/kyso.app; the postinstall
# script links /usr/local/bin/kyso and runs `kyso install` for the user at the console.
#
# Signing and notarization need Apple Developer ID certificates (the release workflow has them
# as commented steps): set CODESIGN_IDENTITY ("Developer ID Application: ...") to sign the app
# with the hardened runtime, and INSTALLER_IDENTITY ("Developer ID Installer: ...") to sign the
# .pkg; then `xcrun notarytool submit OUTPUT.pkg --wait ...` and `xcrun stapler staple OUTPUT.pkg`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$1"
binary="$2"
output="$3"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
app="$work/root/Applications/kyso.app"
mkdir -p "$app/Contents/MacOS"
install -m 755 "$binary" "$app/Contents/MacOS/kyso"
sed "s/@VERSION@/$version/g" "$here/Info.plist" >"$app/Contents/Info.plist"

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
  codesign --force --timestamp --options runtime --sign "$CODESIGN_IDENTITY" "$app"
fi

pkgbuild --root "$work/root" --scripts "$here/scripts" --identifier vn.kyso.kyso \
  --version "$version" --install-location / "$work/kyso-component.pkg"
sign=()
[ -z "${INSTALLER_IDENTITY:-}" ] || sign=(--sign "$INSTALLER_IDENTITY")
productbuild --package "$work/kyso-component.pkg" --identifier vn.kyso.kyso \
  --version "$version" ${sign[@]+"${sign[@]}"} "$output"
echo "built $output"
