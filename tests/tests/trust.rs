//! `kyso trust`: the local CA goes into (and out of) real NSS databases, checked with NSS's own
//! tools (`certutil` lists, `vfychain` validates the server certificate as NSS-based browsers
//! do) and OpenSSL. Each test has its own HOME and XDG folders; no token is involved.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kyso_tests::{kyso_bin, run};
use serde_json::Value;
use tempfile::TempDir;

/// A user's home with kyso's folders inside it.
struct Home {
    dir: TempDir,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("kyso-trust")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn kyso(&self, args: &[&str]) -> Output {
        let mut command = Command::new(kyso_bin());
        command
            .env("HOME", self.path())
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .args(args);
        run(&mut command)
    }

    /// Runs kyso and fails the test if it fails.
    fn kyso_ok(&self, args: &[&str]) -> String {
        let out = self.kyso(args);
        assert!(out.status.success(), "kyso {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn status(&self) -> Value {
        serde_json::from_str(&self.kyso_ok(&["trust", "status", "--json"]))
            .unwrap_or_else(|e| panic!("status JSON: {e}"))
    }

    fn tls(&self, name: &str) -> PathBuf {
        self.path().join("data/kyso/tls").join(name)
    }

    fn shared_db(&self) -> PathBuf {
        self.path().join(".pki/nssdb")
    }

    /// An empty Firefox profile database, as Firefox creates one.
    fn firefox_profile(&self, root: &str, name: &str) -> PathBuf {
        let dir = self.path().join(root).join(name);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        certutil(&dir, &["-N", "--empty-password"]);
        dir
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn tool(program: &str) -> Command {
    let probe = Command::new(program).arg("--help").output();
    assert!(
        probe.is_ok(),
        "`{program}` is missing: run scripts/setup.sh test (package libnss3-tools)"
    );
    Command::new(program)
}

/// `certutil -d sql:<db> <args>`; fails the test if it fails.
fn certutil(db: &Path, args: &[&str]) -> String {
    let out = run(tool("certutil")
        .arg("-d")
        .arg(format!("sql:{}", db.display()))
        .args(args));
    assert!(out.status.success(), "certutil {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The kyso lines of `certutil -L`.
fn kyso_lines(db: &Path) -> Vec<String> {
    certutil(db, &["-L"])
        .lines()
        .filter(|line| line.contains("kyso"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// NSS validates the server certificate for TLS server use with the database's trust.
fn nss_accepts_server_cert(db: &Path, cert: &Path) -> Output {
    run(tool("vfychain")
        .arg("-d")
        .arg(format!("sql:{}", db.display()))
        .args(["-u", "1", "-a"])
        .arg(cert))
}

#[test]
fn install_trusts_the_ca_in_the_shared_nss_db_and_every_firefox_profile() {
    let home = Home::new();
    let profiles = [
        home.firefox_profile(".mozilla/firefox", "abcd1234.default-release"),
        home.firefox_profile("snap/firefox/common/.mozilla/firefox", "wxyz.default"),
    ];
    home.kyso_ok(&["trust", "install"]);

    let cert = home.tls("localhost.pem");
    for db in std::iter::once(home.shared_db()).chain(profiles.iter().cloned()) {
        assert_eq!(
            kyso_lines(&db),
            vec!["kyso local CA C,,".to_owned()],
            "{}",
            db.display()
        );
        let verdict = nss_accepts_server_cert(&db, &cert);
        assert!(
            verdict.status.success(),
            "{}: {}",
            db.display(),
            text(&verdict)
        );
    }

    let status = home.status();
    assert_eq!(status["trusted"], true, "{status}");
    assert_eq!(
        status["ca_path"].as_str(),
        home.tls("ca.pem").to_str(),
        "{status}"
    );
    let stores = status["stores"].as_array().cloned().unwrap_or_default();
    assert_eq!(stores.len(), 3, "{status}");
    assert_eq!(stores[0]["store"], "nss-shared");
    assert_eq!(stores[1]["store"], "firefox");
    for store in &stores {
        assert_eq!(store["trusted"], true, "{store}");
        assert_eq!(store["older_kyso_cas"], 0, "{store}");
        assert_eq!(store["error"], Value::Null, "{store}");
    }
}

#[test]
fn before_install_nothing_is_trusted_and_status_creates_no_database() {
    let home = Home::new();
    let profile = home.firefox_profile(".mozilla/firefox", "p.default");
    let status = home.status();
    assert_eq!(status["trusted"], false, "{status}");
    let stores = status["stores"].as_array().cloned().unwrap_or_default();
    assert_eq!(stores.len(), 1, "only the Firefox profile exists: {status}");
    assert_eq!(stores[0]["trusted"], false);
    assert!(!home.shared_db().exists(), "status must not create stores");
    let verdict = nss_accepts_server_cert(&profile, &home.tls("localhost.pem"));
    assert!(!verdict.status.success(), "{}", text(&verdict));
}

#[test]
fn a_renewed_ca_shows_as_untrusted_until_installed_again() {
    let home = Home::new();
    home.kyso_ok(&["trust", "install"]);
    let old_ca = std::fs::read(home.tls("ca.pem")).unwrap_or_else(|e| panic!("{e}"));

    // A missing server certificate is one of the renewal triggers (with "expires within 30
    // days", unit-tested in agent/src/tls.rs): kyso makes a new CA.
    std::fs::remove_file(home.tls("localhost.pem")).unwrap_or_else(|e| panic!("{e}"));
    let status = home.status();
    let new_ca = std::fs::read(home.tls("ca.pem")).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(old_ca, new_ca);
    assert_eq!(status["trusted"], false, "{status}");
    assert_eq!(status["stores"][0]["trusted"], false, "{status}");
    assert_eq!(status["stores"][0]["older_kyso_cas"], 1, "{status}");
    let text_status = home.kyso_ok(&["trust", "status"]);
    assert!(text_status.contains("older kyso CA"), "{text_status}");
    let verdict = nss_accepts_server_cert(&home.shared_db(), &home.tls("localhost.pem"));
    assert!(!verdict.status.success(), "{}", text(&verdict));

    home.kyso_ok(&["trust", "install"]);
    let status = home.status();
    assert_eq!(status["trusted"], true, "{status}");
    assert_eq!(status["stores"][0]["older_kyso_cas"], 0, "{status}");
    assert_eq!(kyso_lines(&home.shared_db()).len(), 1);
    let verdict = nss_accepts_server_cert(&home.shared_db(), &home.tls("localhost.pem"));
    assert!(verdict.status.success(), "{}", text(&verdict));
}

#[test]
fn uninstall_removes_every_kyso_ca_including_hand_imported_old_ones() {
    let home = Home::new();
    let profile = home.firefox_profile(".mozilla/firefox", "p.default");
    home.kyso_ok(&["trust", "install"]);
    // An old CA the user imported through Firefox's certificate manager, which names the entry
    // after the certificate's common name.
    let old_ca = home.path().join("old-ca.pem");
    std::fs::copy(home.tls("ca.pem"), &old_ca).unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_file(home.tls("localhost.pem")).unwrap_or_else(|e| panic!("{e}"));
    home.kyso_ok(&["trust", "install"]);
    let old = old_ca.to_string_lossy();
    certutil(
        &profile,
        &[
            "-A",
            "-n",
            "kyso local CA (user) 2020-01-01",
            "-t",
            "C,,",
            "-i",
            &old,
        ],
    );
    assert_eq!(kyso_lines(&profile).len(), 2);

    home.kyso_ok(&["trust", "uninstall"]);
    for db in [home.shared_db(), profile] {
        assert_eq!(kyso_lines(&db), Vec::<String>::new(), "{}", db.display());
    }
    let status = home.status();
    assert_eq!(status["trusted"], false, "{status}");
    for store in status["stores"].as_array().cloned().unwrap_or_default() {
        assert_eq!(store["trusted"], false, "{store}");
        assert_eq!(store["older_kyso_cas"], 0, "{store}");
    }
}

#[test]
fn openssl_verifies_the_served_certificate_for_localhost_against_ca_pem() {
    let home = Home::new();
    home.kyso_ok(&["trust", "status"]);
    let out = run(Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(home.tls("ca.pem"))
        .args(["-verify_hostname", "localhost", "-purpose", "sslserver"])
        .arg(home.tls("localhost.pem")));
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn without_certutil_install_fails_with_a_stable_code_and_names_the_package() {
    let home = Home::new();
    let empty = home.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap_or_else(|e| panic!("{e}"));
    let out = run(Command::new(kyso_bin())
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("PATH", &empty)
        .args(["trust", "install"]));
    assert!(!out.status.success());
    let all = text(&out);
    assert!(all.contains("TRUST_STORE_FAILED"), "{all}");
    assert!(all.contains("libnss3-tools"), "{all}");
}
