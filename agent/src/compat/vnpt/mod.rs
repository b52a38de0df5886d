//! Serving portals written for the VNPT-CA signing plugin, unchanged.
//!
//! The page's JavaScript opens `wss://localhost:4433/plugin` (then 4434, 4435) and sends calls
//! as JSON text frames; kyso answers each with one `"<result>*<callback>"` frame, in order.
//! Written from the protocol description in the project's reference notes; no vendor code.
//!
//! Modules: [`protocol`] (framing), [`dispatch`] (function numbers → broker calls),
//! [`options`] (`PdfSigner`/`XmlSigner` → kyso's options), [`codes`] (kyso's codes → the
//! plugin's 1..11), [`validate`] (certificate details and checks), [`listener`] (ports,
//! upgrade checks, one connection), [`status`] (which port it got, for `status`/`doctor`).
//!
//! The listener is off unless `vnpt_compat = true` in the config (`kyso compat vnpt on`).

pub mod codes;
pub mod dispatch;
pub mod listener;
pub mod options;
pub mod protocol;
pub mod status;
pub mod validate;

use std::{path::Path, sync::Arc};

pub use listener::{start, CompatError, RunningCompat};
pub use status::ListenerStatus;

use crate::broker::Broker;

/// The ports the plugin's client library tries, in its order.
pub const DEFAULT_PORTS: [u16; 3] = [4433, 4434, 4435];

/// Starts the listener for the agent and records where it ended up in `data_dir`. A failure
/// (every port taken) is logged and recorded; the agent runs on without it.
pub async fn start_for_agent(
    broker: Arc<Broker>,
    tls: Arc<rustls::ServerConfig>,
    ports: &[u16],
    data_dir: &Path,
) -> Option<RunningCompat> {
    let max_frame = usize::try_from(broker.config().max_body_bytes).unwrap_or(usize::MAX);
    let result = start(broker, tls, ports, max_frame).await;
    let status = ListenerStatus {
        pid: std::process::id(),
        port: result.as_ref().ok().map(|r| r.port),
        taken: match &result {
            Ok(running) => running.taken.clone(),
            Err(CompatError::AllPortsTaken { ports }) => ports.clone(),
            Err(_) => Vec::new(),
        },
    };
    status.write(data_dir);
    match result {
        Ok(running) => Some(running),
        Err(e) => {
            tracing::error!(error = %e, "VNPT-CA compatibility listener not started");
            None
        }
    }
}
