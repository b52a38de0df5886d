//! Where PKCS#11 modules (token drivers) live on each OS.
//!
//! Vietnamese CAs ship their own, often rebranded, middleware; the base names below come from
//! `shared/reference/vn-portals.md`. Not every name is verified, so discovery only proposes
//! candidates that exist on disk; loading them is the service's job, which skips and reports
//! the ones that fail.

use std::path::{Path, PathBuf};

/// Environment variable with extra module paths, separated like `PATH`.
pub const MODULES_ENV: &str = "KYSO_PKCS11_MODULES";

/// Base names of known token middleware, without `lib` prefix or extension.
pub const KNOWN_MODULES: &[&str] = &[
    // VNPT-CA
    "vnptca_p11_v10",
    "vnptca_p11_v9",
    "vnptca_p11_v8",
    "vnptca_p11_v7",
    "vnptca_p11_v6",
    "vnptca_p11_v10_s",
    "vnptca_p11_v9_s",
    "vnptca_p11_v8_s",
    "vnptca_p11_v7_s",
    "vnptca_p11_v6_s",
    "vnpt-ca_csp11",
    "vnpt-ca_v34",
    "vnpt-ca_cl_v1",
    // Viettel-CA
    "viettel-ca",
    "viettel-ca_v1",
    "viettel-ca_v2",
    "viettel-ca_v3",
    "viettel-ca_v4",
    "viettel-ca_v5",
    "viettel-ca_v6",
    "viettel-ca_s",
    "viettel-ca_v2_csp",
    // BKAV
    "BkavCA",
    "BkavCAv2S",
    "BkavCAv25",
    "BkavCAv2T",
    "bkavcaetoken",
    "bkavcsp",
    // FPT-CA
    "fpt-ca",
    "fptca_v3",
    "fptca_v4",
    "fptca_v5",
    "fptca_v6",
    "fpt-ca-stx",
    // CA2 / Nacencomm
    "CA2_v34",
    "CA2_csp11",
    "nca_v4",
    "nca_v5",
    "nca_v6",
    "nca_v7",
    "nca_v8",
    "nca_v9",
    "nca_eps2k2a",
    "nca_eps2k3a",
    // Others
    "NEWTEL-CA",
    "safe-ca",
    "Vina-CA",
    "Vina-CAv2",
    "Vina-CAv3",
    "Vina-CAv4",
    "Vina-CAv5",
    "Vina-CAv6",
    "Vina-CAv7",
    "Vina-CAv8",
    "Vina-CAv9",
    "Vina-CAv10",
    "CKCA",
    "ShuttleCsp11_3003",
    "ngp11v211",
    "st3csp11",
    "gclib",
    "psapkcs",
    "ostc1_csp11",
    "eTPKCS11",
    "U1000AUTO",
    "eToken",
    "vdctdcsp11",
    "wdsafe3",
    // Generic middleware
    "opensc-pkcs11",
    "softhsm2",
];

/// Folders searched for the known names on this OS.
fn search_dirs() -> Vec<PathBuf> {
    if cfg!(windows) {
        let root = std::env::var_os("SystemRoot").unwrap_or_else(|| "C:\\Windows".into());
        let root = PathBuf::from(root);
        vec![root.join("System32"), root.join("SysWOW64")]
    } else if cfg!(target_os = "macos") {
        [
            "/usr/local/lib",
            "/Library/OpenSC/lib",
            "/opt/homebrew/lib",
            "/usr/lib",
        ]
        .iter()
        .map(PathBuf::from)
        .collect()
    } else {
        [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu/pkcs11",
            "/usr/lib/pkcs11",
            "/usr/lib/softhsm",
            "/usr/lib",
            "/usr/lib64",
            "/usr/local/lib",
        ]
        .iter()
        .map(PathBuf::from)
        .collect()
    }
}

/// File names a module with `base` name may have on this OS.
fn file_names(base: &str) -> Vec<String> {
    if cfg!(windows) {
        vec![format!("{base}.dll")]
    } else if cfg!(target_os = "macos") {
        vec![format!("lib{base}.dylib"), format!("{base}.dylib")]
    } else {
        vec![format!("lib{base}.so"), format!("{base}.so")]
    }
}

/// Paths from `KYSO_PKCS11_MODULES`.
pub fn modules_from_env() -> Vec<PathBuf> {
    std::env::var_os(MODULES_ENV)
        .map(|value| {
            std::env::split_paths(&value)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Known vendor modules present on this machine, in [`KNOWN_MODULES`] order.
pub fn known_modules_present() -> Vec<PathBuf> {
    let dirs = search_dirs();
    let mut found = Vec::new();
    for base in KNOWN_MODULES {
        for dir in &dirs {
            for name in file_names(base) {
                let path = dir.join(name);
                if path.is_file() {
                    found.push(path);
                }
            }
        }
    }
    found
}

/// The modules to try: `named` first (command line), then the environment, then (when
/// `discover` is set) the known modules present, without duplicates of the same file.
pub fn candidate_modules(named: &[PathBuf], discover: bool) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = named.to_vec();
    all.extend(modules_from_env());
    if discover {
        all.extend(known_modules_present());
    }
    let mut seen = Vec::new();
    all.retain(|path| {
        let key = canonical(path);
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
    all
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_module_named_twice_is_tried_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let module = dir.path().join("libfake.so");
        std::fs::write(&module, b"").unwrap_or_else(|e| panic!("{e}"));
        let via_dotdot = dir.path().join("sub/../libfake.so");
        std::fs::create_dir(dir.path().join("sub")).unwrap_or_else(|e| panic!("{e}"));
        let list = candidate_modules(&[module.clone(), via_dotdot], false);
        assert_eq!(list, vec![module]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn names_on_linux_get_lib_prefix_and_so_suffix() {
        assert_eq!(
            file_names("softhsm2"),
            vec!["libsofthsm2.so", "softhsm2.so"]
        );
    }
}
