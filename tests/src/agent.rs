//! A real `kyso serve` process on loopback, with private config/data folders, the scripted
//! prompter, and clients that trust only the CA that agent generated.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Stdio},
    sync::Arc,
    time::Duration,
};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::{client::TlsStream, TlsConnector};

use crate::SoftHsm;

/// A client WebSocket over TLS to the agent.
pub type WebSocket = tokio_tungstenite::WebSocketStream<TlsStream<TcpStream>>;

/// Sends one JSON-RPC call and reads frames until its answer: the answer, and the
/// notifications (progress) that came before it.
pub async fn rpc(
    ws: &mut WebSocket,
    id: u64,
    method: &str,
    params: serde_json::Value,
) -> (serde_json::Value, Vec<serde_json::Value>) {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let call = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    ws.send(Message::text(call.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    answer(ws, id).await
}

/// Reads frames until the answer to call `id`: the answer, and the notifications before it.
pub async fn answer(ws: &mut WebSocket, id: u64) -> (serde_json::Value, Vec<serde_json::Value>) {
    use futures_util::StreamExt;
    let mut notifications = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no answer to call {id}"))
            .unwrap_or_else(|| panic!("socket closed"))
            .unwrap_or_else(|e| panic!("{e}"));
        let value: serde_json::Value = serde_json::from_str(message.to_text().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        if value["id"] == serde_json::json!(id) {
            return (value, notifications);
        }
        notifications.push(value);
    }
}

/// A running agent; killed on drop.
#[derive(Debug)]
pub struct Agent {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    home: PathBuf,
    answers: PathBuf,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The error code of an error answer.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Agent {
    /// Starts `kyso serve` on a free port against `hsm`'s token, with `config` (TOML) and
    /// scripted `answers`.
    pub fn start(hsm: &SoftHsm, config: &str, answers: serde_json::Value) -> Self {
        let home = hsm.scratch().join("home");
        let config_dir = home.join("config/kyso");
        std::fs::create_dir_all(&config_dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(config_dir.join("config.toml"), config).unwrap_or_else(|e| panic!("{e}"));
        let answers_path = hsm.scratch().join("answers.json");
        std::fs::write(&answers_path, answers.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let mut child = hsm
            .kyso()
            .args(["serve", "--headless", "--port", "0", "--prompter"])
            .arg(format!("scripted:{}", answers_path.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start kyso serve: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("{e}"));
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("kyso serve did not say its port: {line:?}"));
        Self {
            child,
            port,
            home,
            answers: answers_path,
        }
    }

    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Replaces the scripted answers.
    pub fn set_answers(&self, answers: serde_json::Value) {
        std::fs::write(&self.answers, answers.to_string()).unwrap_or_else(|e| panic!("{e}"));
    }

    /// The agent's local CA certificate (PEM file).
    pub fn ca_pem(&self) -> PathBuf {
        self.home.join("data/kyso/tls/ca.pem")
    }

    /// The local API token.
    pub fn api_token(&self) -> String {
        std::fs::read_to_string(self.home.join("config/kyso/api-token"))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// The audit log's content.
    pub fn audit_log(&self) -> String {
        std::fs::read_to_string(self.home.join("data/kyso/audit.log")).unwrap_or_default()
    }

    /// A TLS client configuration trusting only this agent's CA.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        client_config(&self.ca_pem())
    }

    /// Opens a TLS connection to 127.0.0.1 for the name `localhost`.
    pub async fn connect(&self) -> TlsStream<TcpStream> {
        self.connect_port(self.port).await
    }

    /// [`Self::connect`] to another port this agent serves (a compatibility listener).
    pub async fn connect_port(&self, port: u16) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("connect {port}: {e}"));
        let _ = tcp.set_nodelay(true);
        TlsConnector::from(self.client_config())
            .connect(
                ServerName::try_from("localhost").unwrap_or_else(|e| panic!("{e}")),
                tcp,
            )
            .await
            .unwrap_or_else(|e| panic!("TLS to the agent failed: {e}"))
    }

    /// A WebSocket upgrade to `wss://localhost:PORT/PATH`, with `origin` when given; the
    /// upgrade's refusal is the `Err`.
    pub async fn websocket(
        &self,
        port: u16,
        path: &str,
        origin: Option<&str>,
    ) -> Result<WebSocket, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("wss://localhost:{port}{path}")
            .into_client_request()
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", origin.parse().unwrap_or_else(|e| panic!("{e}")));
        }
        let tls = self.connect_port(port).await;
        tokio_tungstenite::client_async(request, tls)
            .await
            .map(|(ws, _)| ws)
    }

    /// One HTTP/1.1 request on a new connection. `Host` is `localhost:PORT` unless given.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut sender = self.http1().await;
        send(&mut sender, self.port, method, path, headers, body).await
    }

    /// A kept-alive HTTP/1.1 connection.
    pub async fn http1(&self) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
        let tls = self.connect().await;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap_or_else(|e| panic!("handshake: {e}"));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        sender
    }

    /// A JSON POST from `origin`.
    pub async fn post_json(&self, origin: &str, path: &str, body: serde_json::Value) -> Answer {
        self.request(
            "POST",
            path,
            &[("origin", origin), ("content-type", "application/json")],
            Some(body.to_string().into_bytes()),
        )
        .await
    }
}

/// Sends one request on `sender`.
pub async fn send(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Answer {
    let mut builder = hyper::Request::builder().method(method).uri(path);
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        builder = builder.header("host", format!("localhost:{port}"));
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .unwrap_or_else(|e| panic!("{e}"));
    let response = sender
        .send_request(request)
        .await
        .unwrap_or_else(|e| panic!("request failed: {e}"));
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    Answer {
        status,
        headers,
        body,
    }
}

/// A rustls client configuration trusting only the CA in `ca_pem`.
pub fn client_config(ca_pem: &Path) -> Arc<rustls::ClientConfig> {
    let pem = std::fs::read(ca_pem).unwrap_or_else(|e| panic!("{}: {e}", ca_pem.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots
            .add(cert.unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("{e}"))
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `f` is true or `timeout` passes.
pub async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}
