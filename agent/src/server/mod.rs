//! The local HTTPS + WebSocket API. Knows nothing of PDF or PKCS#11 internals: it checks
//! who is calling, parses requests, and hands them to the [`crate::broker::Broker`].

mod guard;
mod listener;
mod problem;
mod routes;
mod ws;

use std::{path::Path, sync::Arc};

pub use guard::{host_allowed, GuardConfig};
pub use listener::{bind_loopback, serve as serve_tls, ListenError};
pub use routes::{routes, AppState, OPENAPI, ROUTES, SDK_DTS, SDK_JS};
pub use ws::METHODS as WS_METHODS;

use crate::broker::Broker;

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    /// The port it listens on (127.0.0.1 and ::1).
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting and waits for the listeners to close.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }

    /// Waits until the server ends (it ends only when stopped).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Binds `port` (0 = any free port) on loopback and serves the API with `tls`.
pub async fn start(
    broker: Arc<Broker>,
    port: u16,
    tls: Arc<rustls::ServerConfig>,
    api_token: String,
) -> Result<RunningServer, ListenError> {
    let listeners = bind_loopback(port).await?;
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
        .unwrap_or(port);
    let state = AppState {
        broker,
        guard: GuardConfig {
            port,
            api_token: Arc::new(api_token),
        },
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let filter = routes(state);
    let task = tokio::spawn(listener::serve(listeners, tls, filter, async move {
        let _ = stop_rx.await;
    }));
    tracing::info!(port, "kyso API listening on https://localhost:{port}");
    Ok(RunningServer {
        port,
        stop: Some(stop_tx),
        task,
    })
}

/// The local API token for programs without an Origin: read from `path`, or created there
/// (32 random bytes, hex, mode 0600).
pub fn api_token(path: &Path) -> std::io::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= 32 {
            return Ok(existing);
        }
    }
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(std::io::Error::other)?;
    let token = hex::encode(bytes);
    crate::paths::write_private_file(path, token.as_bytes())?;
    Ok(token)
}
