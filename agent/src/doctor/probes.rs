//! Network probes the doctor uses: is the agent answering over HTTPS with the local CA, is a
//! loopback port free, how far off is the clock.

use std::{
    fmt,
    io::{Read, Write},
    net::{TcpListener, TcpStream, UdpSocket},
    path::Path,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

const TIMEOUT: Duration = Duration::from_secs(3);

/// What came back from `GET /v1/info`.
#[derive(Debug)]
pub enum AgentProbe {
    /// The agent answered over TLS verified against the local CA.
    Answered {
        /// Its version.
        version: String,
    },
    /// Nothing listens on the port.
    NotListening,
    /// Something listens but the TLS handshake with the local CA failed.
    Tls(String),
    /// It answered, but not like kyso.
    Unexpected(String),
}

impl fmt::Display for AgentProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Answered { version } => write!(f, "kyso {version}"),
            Self::NotListening => f.write_str("nothing listens"),
            Self::Tls(e) => write!(f, "TLS with the local CA failed: {e}"),
            Self::Unexpected(e) => write!(f, "unexpected answer: {e}"),
        }
    }
}

fn client_config(ca_pem: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    let pem = std::fs::read(ca_pem).map_err(|e| format!("{}: {e}", ca_pem.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| e.to_string())?;
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Asks `https://localhost:PORT/v1/info`, trusting only `ca_pem`, as a local program (with the
/// API token when there is one).
pub fn probe_agent(port: u16, ca_pem: &Path, api_token: Option<&str>) -> AgentProbe {
    let Ok(tcp) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), TIMEOUT) else {
        return AgentProbe::NotListening;
    };
    let _ = tcp.set_read_timeout(Some(TIMEOUT));
    let _ = tcp.set_write_timeout(Some(TIMEOUT));
    let config = match client_config(ca_pem) {
        Ok(config) => config,
        Err(e) => return AgentProbe::Tls(e),
    };
    let name = rustls::pki_types::ServerName::try_from("localhost")
        .map(|n| n.to_owned())
        .map_err(|e| e.to_string());
    let connection = match name
        .and_then(|name| rustls::ClientConnection::new(config, name).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => return AgentProbe::Tls(e),
    };
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let auth = api_token
        .map(|t| format!("Authorization: Bearer {}\r\n", t.trim()))
        .unwrap_or_default();
    let request = format!(
        "GET /v1/info HTTP/1.1\r\nHost: localhost:{port}\r\n{auth}Connection: close\r\n\r\n"
    );
    if let Err(e) = tls.write_all(request.as_bytes()) {
        return AgentProbe::Tls(e.to_string());
    }
    let mut answer = Vec::new();
    if let Err(e) = tls.read_to_end(&mut answer) {
        if answer.is_empty() {
            return AgentProbe::Tls(e.to_string());
        }
    }
    let text = String::from_utf8_lossy(&answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return AgentProbe::Unexpected("no HTTP answer".into());
    };
    if !head.starts_with("HTTP/1.1 200") {
        return AgentProbe::Unexpected(head.lines().next().unwrap_or_default().to_owned());
    }
    let info: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match (info["name"].as_str(), info["version"].as_str()) {
        (Some("kyso"), Some(version)) => AgentProbe::Answered {
            version: version.to_owned(),
        },
        _ => AgentProbe::Unexpected("not kyso".into()),
    }
}

/// Whether nothing listens on 127.0.0.1:`port`.
pub fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Seconds the local clock is behind (+) or ahead (−) of an SNTP server (RFC 4330).
///
/// One 48-byte query written here rather than pulling in an NTP crate: the doctor needs one
/// rough offset, not a clock discipline.
pub fn sntp_offset(server: &str) -> Result<f64, String> {
    const NTP_UNIX_OFFSET: f64 = 2_208_988_800.0;
    let socket = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    socket.connect(server).map_err(|e| e.to_string())?;
    let mut packet = [0u8; 48];
    packet[0] = 0b00_100_011; // LI 0, version 4, mode 3 (client)
    let sent = SystemTime::now();
    socket.send(&packet).map_err(|e| e.to_string())?;
    let mut answer = [0u8; 48];
    let n = socket.recv(&mut answer).map_err(|e| e.to_string())?;
    let received = SystemTime::now();
    if n < 48 {
        return Err("short answer".into());
    }
    let timestamp = |at: usize| {
        let seconds =
            u32::from_be_bytes([answer[at], answer[at + 1], answer[at + 2], answer[at + 3]]);
        let fraction = u32::from_be_bytes([
            answer[at + 4],
            answer[at + 5],
            answer[at + 6],
            answer[at + 7],
        ]);
        f64::from(seconds) + f64::from(fraction) / 4_294_967_296.0 - NTP_UNIX_OFFSET
    };
    let unix = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default()
    };
    // Server receive (32) and transmit (40) times against our send and receive times.
    let offset = ((timestamp(32) - unix(sent)) + (timestamp(40) - unix(received))) / 2.0;
    Ok(offset)
}
