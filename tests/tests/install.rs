//! `kyso install` / `kyso uninstall` in a temporary HOME (the harness's own HOME and XDG
//! folders): the local CA goes into real NSS databases (checked with NSS's `certutil`), start
//! at login is written, and uninstalling removes all of it — every file and folder install
//! added, compared with a recursive listing of the HOME taken before.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use kyso_tests::{run, SoftHsm};
use serde_json::Value;

/// Every file and folder under `root`, relative to it.
fn listing(root: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeSet<String>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            let relative = path.strip_prefix(root).unwrap_or(&path);
            into.insert(relative.to_string_lossy().into_owned());
            if path.is_dir() && !path.is_symlink() {
                walk(root, &path, into);
            }
        }
    }
    let mut all = BTreeSet::new();
    walk(root, root, &mut all);
    all
}

fn certutil(db: &Path, args: &[&str]) -> String {
    let mut command = Command::new("certutil");
    command
        .arg("-d")
        .arg(format!("sql:{}", db.display()))
        .args(args);
    let out = command.output().unwrap_or_else(|e| {
        panic!("`certutil` is missing ({e}): run scripts/setup.sh test (package libnss3-tools)")
    });
    assert!(
        out.status.success(),
        "certutil {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether NSS lists a kyso CA with the TLS-server trust flag `C`.
fn nss_trusts_kyso(db: &Path) -> bool {
    certutil(db, &["-L"])
        .lines()
        .any(|line| line.starts_with("kyso local CA") && line.trim_end().ends_with("C,,"))
}

fn kyso_json(hsm: &SoftHsm, args: &[&str]) -> Value {
    let out = run(hsm.kyso().args(args));
    assert!(
        out.status.success(),
        "kyso {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("kyso {args:?} JSON: {e}"))
}

/// A HOME where the user already has a Firefox profile (which must survive uninstalling).
fn home_with_firefox(hsm: &SoftHsm) -> (std::path::PathBuf, std::path::PathBuf) {
    let home = hsm.scratch().join("home");
    let profile = home.join(".mozilla/firefox/abcd.default-release");
    std::fs::create_dir_all(&profile).unwrap_or_else(|e| panic!("{e}"));
    certutil(&profile, &["-N", "--empty-password"]);
    (home, profile)
}

#[test]
fn install_trusts_the_ca_and_starts_at_login_and_uninstall_leaves_only_the_users_data() {
    let hsm = SoftHsm::new();
    let (home, firefox) = home_with_firefox(&hsm);
    let before = listing(&home);

    let report = kyso_json(&hsm, &["install", "--json"]);
    assert_eq!(report["trust"]["trusted"], true, "{report:#}");
    assert_eq!(report["autostart"]["enabled"], true, "{report:#}");
    let entry = home.join("config/autostart/kyso.desktop");
    let desktop = std::fs::read_to_string(&entry).unwrap_or_else(|e| panic!("{e}"));
    assert!(desktop.contains("Exec=\""), "{desktop}");
    let shared = home.join(".pki/nssdb");
    assert!(nss_trusts_kyso(&shared), "Chrome's NSS database");
    assert!(nss_trusts_kyso(&firefox), "the Firefox profile");

    // Idempotent: a second install changes nothing and still succeeds.
    let again = kyso_json(&hsm, &["install", "--json"]);
    assert_eq!(again["new_ca"], false, "{again:#}");
    assert_eq!(again["trust"]["trusted"], true, "{again:#}");
    let kyso_entries = certutil(&firefox, &["-L"])
        .lines()
        .filter(|l| l.starts_with("kyso"))
        .count();
    assert_eq!(kyso_entries, 1);

    let undone = kyso_json(&hsm, &["uninstall", "--json"]);
    assert_eq!(undone["autostart"]["enabled"], false, "{undone:#}");
    assert!(!entry.exists());
    assert!(!nss_trusts_kyso(&firefox), "kyso's CA left in Firefox");
    assert!(
        certutil(&firefox, &["-L"])
            .lines()
            .all(|l| !l.contains("kyso")),
        "kyso's CA left in Firefox"
    );
    // The user's own Firefox database stays; the one kyso made for Chrome goes.
    assert!(firefox.join("cert9.db").is_file());
    assert!(
        !shared.exists(),
        "the NSS database kyso created is still there"
    );

    // What stays, on purpose: kyso's data folder (local CA, logs, audit log) under the XDG
    // data folder, so reinstalling keeps the user's history. Nothing else.
    let after = listing(&home);
    let added: Vec<_> = after.difference(&before).collect();
    let removed: Vec<_> = before.difference(&after).collect();
    assert!(
        removed.is_empty(),
        "uninstall removed the user's {removed:?}"
    );
    let kept_data = |p: &&String| *p == "data" || p.starts_with("data/kyso");
    assert!(
        added.iter().all(kept_data),
        "left behind besides the data folder: {:?}",
        added.iter().filter(|p| !kept_data(p)).collect::<Vec<_>>()
    );
    assert!(
        undone["kept"].as_array().is_some_and(|kept| kept
            .iter()
            .any(|k| k.as_str().is_some_and(|k| k.ends_with("data/kyso")))),
        "{undone:#}"
    );

    // Uninstalling again has nothing to do and still succeeds.
    kyso_json(&hsm, &["uninstall", "--json"]);
    assert_eq!(listing(&home), after);
}

#[test]
fn uninstall_with_purge_leaves_the_home_exactly_as_it_was() {
    let hsm = SoftHsm::new();
    let (home, firefox) = home_with_firefox(&hsm);
    let before = listing(&home);

    kyso_json(&hsm, &["install", "--json"]);
    assert!(nss_trusts_kyso(&firefox));
    // The agent's own files (config, site permissions) are purged too.
    std::fs::create_dir_all(home.join("config/kyso")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(home.join("config/kyso/config.toml"), "language = \"en\"\n")
        .unwrap_or_else(|e| panic!("{e}"));

    kyso_json(&hsm, &["uninstall", "--purge", "--json"]);
    assert!(!nss_trusts_kyso(&firefox));
    assert_eq!(listing(&home), before);
}

#[test]
fn doctor_names_each_browser_store_and_whether_it_trusts_the_local_ca() {
    let hsm = SoftHsm::new();
    let (_, firefox) = home_with_firefox(&hsm);
    let doctor = |hsm: &SoftHsm| {
        let out = run(hsm.kyso().args(["doctor", "--json", "--offline"]));
        let report: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("doctor JSON: {e}"));
        report["checks"]
            .as_array()
            .map(|checks| {
                checks
                    .iter()
                    .filter(|c| c["id"] == "trust")
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };

    // The CA exists but no store trusts it yet: a failure per store, with the fix.
    run(hsm.kyso().args(["trust", "status"]));
    let untrusted = doctor(&hsm);
    let firefox_check = untrusted
        .iter()
        .find(|c| {
            c["message"]
                .as_str()
                .is_some_and(|m| m.contains(&*firefox.to_string_lossy()))
        })
        .unwrap_or_else(|| panic!("no check names the Firefox profile: {untrusted:#?}"));
    assert_eq!(firefox_check["status"], "fail", "{untrusted:#?}");
    assert!(
        firefox_check["fix"]
            .as_str()
            .is_some_and(|f| f.contains("kyso trust install")),
        "{firefox_check:#}"
    );

    kyso_json(&hsm, &["install", "--json"]);
    let trusted = doctor(&hsm);
    // Chrome's shared database (made by install) and the Firefox profile.
    assert_eq!(trusted.len(), 2, "{trusted:#?}");
    assert!(trusted.iter().all(|c| c["status"] == "ok"), "{trusted:#?}");
    kyso_json(&hsm, &["uninstall", "--purge", "--json"]);
}
