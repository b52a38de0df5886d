/* Not Apple's header: a stand-in with the three macros ring's C reads (ring-core/base.h), so
 * that `cargo check --target *-apple-darwin` can compile ring on Linux, where there is no
 * Apple SDK. clang uses $SDKROOT as the sysroot for Darwin targets; scripts/test-installers.sh
 * macos points SDKROOT at installer/macos/check-sdk. Only for type-checking: nothing compiled
 * against it is linked or shipped (real builds use Xcode's SDK on a Mac). */
#ifndef KYSO_CHECK_SDK_TARGET_CONDITIONALS_H
#define KYSO_CHECK_SDK_TARGET_CONDITIONALS_H
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#endif
