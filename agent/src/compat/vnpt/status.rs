//! Where the compatibility listener ended up, in `<data_dir>/compat-vnpt.json`, written by the
//! agent so `kyso compat vnpt status` and `kyso doctor` can say it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The agent's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerStatus {
    /// The agent's process id.
    pub pid: u32,
    /// The port it listens on; `None` when every port was taken.
    pub port: Option<u16>,
    /// The ports it found taken.
    pub taken: Vec<u16>,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("compat-vnpt.json")
}

impl ListenerStatus {
    /// Writes the report (best effort: a failure is logged, the listener keeps running).
    pub fn write(&self, data_dir: &Path) {
        match serde_json::to_vec(self) {
            Ok(json) => {
                if let Err(e) = crate::paths::write_private_file(&path(data_dir), &json) {
                    tracing::warn!(error = %e, "cannot write the VNPT-CA compatibility status");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot encode the compatibility status"),
        }
    }

    /// The report of the running agent, if the agent that wrote it still runs.
    pub fn read(data_dir: &Path) -> Option<Self> {
        let status: Self = serde_json::from_slice(&std::fs::read(path(data_dir)).ok()?).ok()?;
        let agent = crate::desktop::instance::AgentFile::read(data_dir)?;
        (agent.pid == status.pid).then_some(status)
    }

    /// Removes the report (the listener stopped or is off).
    pub fn remove(data_dir: &Path) {
        let _ = std::fs::remove_file(path(data_dir));
    }
}

/// What `kyso compat vnpt status` and `kyso doctor` say.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// `vnpt_compat` in the config.
    pub enabled: bool,
    /// A running agent reported on its listener.
    pub agent_running: bool,
    /// The port the running listener got.
    pub port: Option<u16>,
    /// Ports found taken (by the running agent, or now when no agent runs).
    pub taken: Vec<u16>,
    /// The ports tried, in order.
    pub ports: Vec<u16>,
    /// One line for people, English.
    pub message: String,
    /// One line for people, Vietnamese.
    pub message_vi: String,
}

impl StatusReport {
    /// Whether the listener is on but could not get any port.
    pub fn all_taken(&self) -> bool {
        self.enabled && self.port.is_none() && !self.ports.is_empty() && self.taken == self.ports
    }
}

/// The listener's state: the running agent's report, or (no agent running) which port it
/// would get now. Probing binds a port and lets it go at once; a holder is not disturbed.
pub fn report(config: &crate::config::Config, data_dir: &Path) -> StatusReport {
    let ports = config.vnpt_compat_ports.clone();
    let running = ListenerStatus::read(data_dir);
    let agent_running = running.is_some();
    let (port, taken) = match &running {
        Some(status) => (status.port, status.taken.clone()),
        None => (
            None,
            ports
                .iter()
                .copied()
                .filter(|p| *p != 0 && std::net::TcpListener::bind(("127.0.0.1", *p)).is_err())
                .collect(),
        ),
    };
    let list = |ports: &[u16]| {
        ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let taken_note = if taken.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!(" (taken: {})", list(&taken)),
            format!(" (đang bị chiếm: {})", list(&taken)),
        )
    };
    let (message, message_vi) = match (config.vnpt_compat, agent_running, port) {
        (false, _, _) => (
            "VNPT-CA compatibility is off (kyso compat vnpt on)".to_owned(),
            "Chế độ tương thích VNPT-CA đang tắt (kyso compat vnpt on)".to_owned(),
        ),
        (true, true, Some(port)) => (
            format!("VNPT-CA compatibility listens on wss://localhost:{port}/plugin{}", taken_note.0),
            format!("Tương thích VNPT-CA đang nghe tại wss://localhost:{port}/plugin{}", taken_note.1),
        ),
        (true, true, None) => (
            format!("VNPT-CA compatibility is on but ports {} are all taken, probably by the vendor's plugin", list(&ports)),
            format!("Tương thích VNPT-CA đang bật nhưng các cổng {} đều bị chiếm, có thể bởi plugin của nhà cung cấp", list(&ports)),
        ),
        (true, false, _) => (
            format!("VNPT-CA compatibility is on; it starts with kyso{}", taken_note.0),
            format!("Tương thích VNPT-CA đang bật; sẽ chạy khi kyso khởi động{}", taken_note.1),
        ),
    };
    StatusReport {
        enabled: config.vnpt_compat,
        agent_running,
        port,
        taken,
        ports,
        message,
        message_vi,
    }
}
