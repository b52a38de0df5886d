//! `wss://localhost:{4433|4434|4435}/plugin`: the same loopback binding, TLS configuration,
//! Host check and origin policy as kyso's own API (reused from [`crate::server`]).

use std::{convert::Infallible, sync::Arc};

use futures_util::{SinkExt, StreamExt};
use warp::{
    http::{uri::Authority, StatusCode},
    ws::{Message, WebSocket, Ws},
    Filter, Reply,
};

use super::{
    codes,
    dispatch::{self, Session},
    protocol::{self, Reply as CallReply, DEFAULT_CALLBACK},
};
use crate::{
    broker::{ApiError, Broker, Caller, OriginVerdict},
    server::{bind_loopback, host_allowed, serve_tls, ListenError},
};

/// Why the compatibility listener is not running.
#[derive(Debug, thiserror::Error)]
pub enum CompatError {
    /// Every port is taken (most likely by the vendor's own plugin).
    #[error("ports {ports:?} are all in use")]
    AllPortsTaken {
        /// The ports tried.
        ports: Vec<u16>,
    },
    /// A port could not be bound for another reason.
    #[error("cannot listen for the VNPT-CA protocol")]
    Listen(#[from] ListenError),
}

impl crate::error::Coded for CompatError {
    fn code(&self) -> crate::error::ErrorCode {
        match self {
            Self::AllPortsTaken { .. } => crate::error::ErrorCode::PortInUse,
            Self::Listen(e) => e.code(),
        }
    }
}

/// The running listener.
#[derive(Debug)]
pub struct RunningCompat {
    /// The port it got.
    pub port: u16,
    /// Ports tried before it, found taken.
    pub taken: Vec<u16>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningCompat {
    /// Stops accepting and waits for the listeners to close.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

/// Binds the first free port of `ports` (0 = any free port) on 127.0.0.1 and ::1 and serves
/// the protocol there. A port some other program holds is only tried, never disturbed: the
/// bind fails and the next port is tried.
pub async fn start(
    broker: Arc<Broker>,
    tls: Arc<rustls::ServerConfig>,
    ports: &[u16],
    max_frame_bytes: usize,
) -> Result<RunningCompat, CompatError> {
    let mut taken = Vec::new();
    for &wanted in ports {
        let listeners = match bind_loopback(wanted).await {
            Ok(listeners) => listeners,
            Err(ListenError::PortInUse { .. }) => {
                tracing::warn!(
                    port = wanted,
                    "VNPT-CA compatibility: port in use (the vendor's plugin?); trying the next"
                );
                taken.push(wanted);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let port = listeners
            .first()
            .and_then(|l| l.local_addr().ok())
            .map_or(wanted, |a| a.port());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let filter = routes(broker, port, max_frame_bytes);
        let task = tokio::spawn(serve_tls(listeners, tls, filter, async move {
            let _ = stop_rx.await;
        }));
        tracing::info!(
            port,
            "VNPT-CA compatibility on wss://localhost:{port}/plugin"
        );
        return Ok(RunningCompat {
            port,
            taken,
            stop: Some(stop_tx),
            task,
        });
    }
    tracing::warn!(
        ?ports,
        "VNPT-CA compatibility: every port is in use; not listening"
    );
    Err(CompatError::AllPortsTaken {
        ports: ports.to_vec(),
    })
}

/// The one route, `GET /plugin` upgraded to a WebSocket, after the Host check and the origin
/// policy; everything else is 404.
pub fn routes(
    broker: Arc<Broker>,
    port: u16,
    max_frame_bytes: usize,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Infallible> + Clone {
    let plugin = warp::path("plugin")
        .and(warp::path::end())
        .and(warp::ws())
        .and(warp::host::optional())
        .and(warp::header::optional::<String>("origin"))
        .map(
            move |ws: Ws, authority: Option<Authority>, origin: Option<String>| {
                if !host_allowed(authority.as_ref(), port) {
                    tracing::info!(?authority, "VNPT-CA compatibility: Host refused");
                    return StatusCode::FORBIDDEN.into_response();
                }
                // Pages always send an Origin; the plugin protocol has no local API token.
                let Some(origin) = origin else {
                    return StatusCode::FORBIDDEN.into_response();
                };
                if broker.origins().verdict(&origin) == OriginVerdict::Denied {
                    tracing::info!(%origin, "VNPT-CA compatibility: origin refused");
                    return StatusCode::FORBIDDEN.into_response();
                }
                let broker = broker.clone();
                ws.max_message_size(max_frame_bytes)
                    .max_frame_size(max_frame_bytes)
                    .on_upgrade(move |socket| serve(socket, Caller::Origin(origin), broker))
                    .into_response()
            },
        );
    plugin
        .or(warp::any().map(|| StatusCode::NOT_FOUND.into_response()))
        .unify()
}

/// Serves one page: calls are answered one at a time, in order, one answer per call (the
/// client takes the next frame as the answer to its call in flight).
async fn serve(socket: WebSocket, caller: Caller, broker: Arc<Broker>) {
    let (mut sink, mut stream) = socket.split();
    let mut session = Session::new(broker.config().language());
    while let Some(Ok(message)) = stream.next().await {
        if message.is_close() {
            break;
        }
        let text = if message.is_text() || message.is_binary() {
            String::from_utf8_lossy(message.as_bytes()).into_owned()
        } else {
            continue;
        };
        let answer = match protocol::parse(&text) {
            Err(e) => {
                tracing::info!(error = %e, "VNPT-CA compatibility: malformed call");
                let error = ApiError::from(e);
                protocol::frame(
                    &CallReply::Json(codes::failure(&error, session.language())),
                    DEFAULT_CALLBACK,
                )
            }
            Ok(request) => {
                let broker = broker.clone();
                let caller = caller.clone();
                let mut owned = session.clone();
                let callback = request.callback.clone();
                let (reply, owned) = tokio::task::spawn_blocking(move || {
                    let reply = dispatch::call(&broker, &caller, &mut owned, &request);
                    (reply, owned)
                })
                .await
                .unwrap_or_else(|e| {
                    let error = ApiError::new(crate::error::ErrorCode::Internal, e.to_string());
                    (
                        CallReply::Json(codes::failure(&error, session.language())),
                        session.clone(),
                    )
                });
                session = owned;
                protocol::frame(&reply, &callback)
            }
        };
        if sink.send(Message::text(answer)).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}
