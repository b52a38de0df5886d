//! The desktop side: `kyso doctor` against a real SoftHSM token and a real running agent, and
//! start at login. Everything runs in a temporary HOME with its own XDG folders.

use kyso_tests::{agent::Agent, run, SoftHsm};
use serde_json::{json, Value};

fn doctor(hsm: &SoftHsm) -> (bool, Value) {
    let output = run(hsm.kyso().args(["doctor", "--json", "--offline"]));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.success(), report)
}

fn checks<'a>(report: &'a Value, id: &str) -> Vec<&'a Value> {
    report["checks"]
        .as_array()
        .map(|all| all.iter().filter(|c| c["id"] == id).collect())
        .unwrap_or_default()
}

#[test]
fn doctor_reports_the_token_the_expired_certificate_and_the_missing_local_ca() {
    let hsm = SoftHsm::new();
    let (success, report) = doctor(&hsm);
    // No local CA yet: that needs fixing, so the exit code says so.
    assert!(!success, "{report:#}");
    assert_eq!(report["needs_fixing"], true);
    let modules = checks(&report, "modules");
    assert!(modules.iter().all(|c| c["status"] == "ok"), "{report:#}");
    assert_eq!(checks(&report, "token")[0]["status"], "ok", "{report:#}");
    let certificates = checks(&report, "certificate");
    let expired: Vec<_> = certificates
        .iter()
        .filter(|c| c["status"] == "warn")
        .collect();
    assert_eq!(expired.len(), 1, "{report:#}");
    assert!(expired[0]["fix"].is_string());
    let local_ca = checks(&report, "local_ca");
    assert_eq!(local_ca[0]["status"], "fail");
    assert!(local_ca[0]["fix"]
        .as_str()
        .is_some_and(|f| f.contains("kyso install")));
}

#[test]
fn doctor_finds_the_running_agent_over_https_with_the_local_ca() {
    let hsm = SoftHsm::new();
    let agent = Agent::start(&hsm, "", json!({}));
    let (_, report) = doctor(&hsm);
    let found = checks(&report, "agent");
    assert_eq!(found[0]["status"], "ok", "{report:#}");
    assert!(
        found[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("localhost:{}", agent.port))),
        "{report:#}"
    );
    // The agent keeps a rotating log file in its data folder.
    let logs = hsm.scratch().join("home/data/kyso/logs");
    let files: Vec<_> = std::fs::read_dir(&logs)
        .unwrap_or_else(|e| panic!("{}: {e}", logs.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("kyso.") && f.ends_with(".log")),
        "{files:?}"
    );
}

#[test]
fn doctor_says_when_the_agent_file_points_at_a_dead_agent() {
    let hsm = SoftHsm::new();
    let data = hsm.scratch().join("home").join("data").join("kyso");
    std::fs::create_dir_all(&data).unwrap_or_else(|e| panic!("{e}"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        data.join("agent.json"),
        format!(r#"{{"pid": 999999, "port": {closed}, "version": "0.0.0"}}"#),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (success, report) = doctor(&hsm);
    assert!(!success);
    let found = checks(&report, "agent");
    assert_eq!(found[0]["status"], "fail", "{report:#}");
    assert!(found[0]["fix"].is_string());
}
