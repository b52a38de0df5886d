//! Loopback TLS listeners: 127.0.0.1 and ::1 only, rustls, HTTP/1.1 and HTTP/2 (with
//! WebSocket upgrades), each connection served by the warp filter.

use std::{
    convert::Infallible,
    future::Future,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use warp::{Filter, Reply};

use crate::error::{Coded, ErrorCode};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The port is taken (another kyso, or another program).
    #[error("port {port} on {address} is already in use")]
    PortInUse {
        /// The port.
        port: u16,
        /// The address tried.
        address: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Binding failed otherwise.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address tried.
        address: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Coded for ListenError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::PortInUse { .. } => ErrorCode::PortInUse,
            Self::Bind { .. } => ErrorCode::Io,
        }
    }
}

/// Binds `port` on 127.0.0.1 and, where the system has IPv6, on ::1 (browsers resolve
/// `localhost` to either). Port 0 picks a free port (the same one on both addresses).
pub async fn bind_loopback(port: u16) -> Result<Vec<TcpListener>, ListenError> {
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let first = TcpListener::bind(v4)
        .await
        .map_err(|source| bind_error(v4, source))?;
    let port = first.local_addr().map(|a| a.port()).unwrap_or(port);
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    let mut listeners = vec![first];
    match TcpListener::bind(v6).await {
        Ok(listener) => listeners.push(listener),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            return Err(bind_error(v6, e));
        }
        // No IPv6 on this machine: 127.0.0.1 is enough.
        Err(e) => tracing::info!(error = %e, "not listening on ::1"),
    }
    Ok(listeners)
}

fn bind_error(address: SocketAddr, source: std::io::Error) -> ListenError {
    if source.kind() == std::io::ErrorKind::AddrInUse {
        ListenError::PortInUse {
            port: address.port(),
            address,
            source,
        }
    } else {
        ListenError::Bind { address, source }
    }
}

/// Serves `filter` over TLS on `listeners` until `shutdown` completes.
pub async fn serve<F>(
    listeners: Vec<TcpListener>,
    tls: Arc<rustls::ServerConfig>,
    filter: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    F: Filter<Error = Infallible> + Clone + Send + Sync + 'static,
    F::Extract: Reply,
{
    let acceptor = TlsAcceptor::from(tls);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for listener in listeners {
        let acceptor = acceptor.clone();
        let filter = filter.clone();
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = stop.changed() => break,
                };
                let (stream, _) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let service = TowerToHyperService::new(warp::service(filter.clone()));
                tokio::spawn(async move {
                    // A client that fails the handshake (untrusted CA, plain HTTP) only loses
                    // its own connection.
                    let tls = match acceptor.accept(stream).await {
                        Ok(tls) => tls,
                        Err(e) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            return;
                        }
                    };
                    let builder = auto::Builder::new(TokioExecutor::new());
                    if let Err(e) = builder
                        .serve_connection_with_upgrades(TokioIo::new(tls), service)
                        .await
                    {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
        }));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
}
