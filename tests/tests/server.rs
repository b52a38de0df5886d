//! The agent over real HTTPS and WebSocket on loopback: the hostile cases first (each refused
//! with its code, and no dialog shown, no token touched), then the API working end to end with
//! signatures checked by OpenSSL.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use kyso_tests::{
    agent::{rpc, send, Agent, WebSocket},
    b64, openssl_cms_verify, openssl_verify_digest, pki, thumbprint, unb64, SoftHsm, USER_PIN,
};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const PORTAL: &str = "https://portal.example.vn";
const CONFIG: &str = "allowed_origins = [\"https://portal.example.vn\"]\ndenied_origins = [\"https://evil.example\"]\n";

fn answers() -> Value {
    json!({"pin": USER_PIN, "consent": "allow-once", "certificate": "first", "confirm": true})
}

/// The dialogs the scripted prompter was asked to show.
fn asked(hsm: &SoftHsm) -> Vec<String> {
    std::fs::read_to_string(hsm.scratch().join("answers.json.asked"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn start(config: &str) -> (SoftHsm, Agent) {
    let hsm = SoftHsm::new();
    let agent = Agent::start(&hsm, config, answers());
    (hsm, agent)
}

fn cms_request() -> Value {
    json!({"certificate": thumbprint("company-rsa2048"), "data": b64(b"hello"), "detached": true})
}

#[tokio::test]
async fn info_is_served_over_https_to_an_allowed_origin_with_exact_cors() {
    let (_hsm, agent) = start(CONFIG);
    let answer = agent
        .request("GET", "/v1/info", &[("origin", PORTAL)], None)
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["name"], "kyso");
    assert_eq!(answer.json()["tokens"], 1);
    assert_eq!(answer.header("access-control-allow-origin"), Some(PORTAL));
    assert!(answer.header("vary").unwrap_or_default().contains("Origin"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_local_ca_cannot_connect() {
    let (_hsm, agent) = start(CONFIG);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", agent.port))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let empty = std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth(),
    );
    let result = tokio_rustls::TlsConnector::from(empty)
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap_or_else(|e| panic!("{e}")),
            tcp,
        )
        .await;
    assert!(result.is_err(), "connected without trusting kyso's CA");
}

#[tokio::test]
async fn the_agent_also_answers_on_ipv6_loopback() {
    let (_hsm, agent) = start(CONFIG);
    let Ok(tcp) = tokio::net::TcpStream::connect(("::1", agent.port)).await else {
        // No IPv6 loopback in this environment: nothing to prove.
        eprintln!("skipping: ::1 not reachable here");
        return;
    };
    let tls = tokio_rustls::TlsConnector::from(agent.client_config())
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap_or_else(|e| panic!("{e}")),
            tcp,
        )
        .await;
    assert!(tls.is_ok(), "TLS over ::1 failed");
}

#[tokio::test]
async fn a_denied_origin_is_refused_over_https_and_nothing_is_asked() {
    let (hsm, agent) = start(CONFIG);
    let answer = agent
        .post_json("https://evil.example", "/v1/sign/cms", cms_request())
        .await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error_code(), "ORIGIN_NOT_ALLOWED");
    assert!(answer.json()["error"]["message_vi"].as_str().is_some());
    assert!(
        asked(&hsm).is_empty(),
        "a dialog was shown: {:?}",
        asked(&hsm)
    );
    assert!(!agent.audit_log().contains("sign.cms"));
}

#[tokio::test]
async fn an_http_origin_is_refused_outside_dev_mode() {
    let (hsm, agent) = start(CONFIG);
    let answer = agent
        .post_json("http://portal.example.vn", "/v1/sign/cms", cms_request())
        .await;
    assert_eq!(answer.error_code(), "ORIGIN_NOT_ALLOWED");
    let answer = agent.post_json("null", "/v1/sign/cms", cms_request()).await;
    assert_eq!(answer.error_code(), "ORIGIN_NOT_ALLOWED");
    assert!(asked(&hsm).is_empty());
}

#[tokio::test]
async fn a_request_without_origin_needs_the_local_api_token() {
    let (hsm, agent) = start(CONFIG);
    let answer = agent.request("GET", "/v1/certificates", &[], None).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error_code(), "ORIGIN_NOT_ALLOWED");
    let wrong = agent
        .request(
            "GET",
            "/v1/certificates",
            &[("authorization", "Bearer nope")],
            None,
        )
        .await;
    assert_eq!(wrong.error_code(), "ORIGIN_NOT_ALLOWED");
    let bearer = format!("Bearer {}", agent.api_token());
    let answer = agent
        .request(
            "GET",
            "/v1/certificates",
            &[("authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    assert!(answer.json().as_array().is_some_and(|a| !a.is_empty()));
    assert!(asked(&hsm).is_empty());
}

#[tokio::test]
async fn a_foreign_host_header_is_refused_against_dns_rebinding() {
    let (hsm, agent) = start(CONFIG);
    for host in ["evil.example", "attacker.example:47320", "localhost:1"] {
        let host_header = if host.contains(':') {
            host.to_owned()
        } else {
            format!("{host}:{}", agent.port)
        };
        let answer = agent
            .request(
                "GET",
                "/v1/certificates",
                &[("host", &host_header), ("origin", PORTAL)],
                None,
            )
            .await;
        assert_eq!(answer.status, 403, "{host}");
        assert_eq!(answer.error_code(), "HOST_NOT_ALLOWED", "{host}");
    }
    assert!(asked(&hsm).is_empty());
}

#[tokio::test]
async fn a_text_plain_simple_post_is_refused() {
    let (hsm, agent) = start(CONFIG);
    let answer = agent
        .request(
            "POST",
            "/v1/sign/cms",
            &[("origin", PORTAL), ("content-type", "text/plain")],
            Some(cms_request().to_string().into_bytes()),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.error_code(), "BAD_REQUEST");
    assert!(asked(&hsm).is_empty());
}

#[tokio::test]
async fn preflights_are_answered_only_for_allowed_origins_methods_and_headers() {
    let (_hsm, agent) = start(CONFIG);
    let ok = agent
        .request(
            "OPTIONS",
            "/v1/sign/cms",
            &[
                ("origin", PORTAL),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
                ("access-control-request-private-network", "true"),
            ],
            None,
        )
        .await;
    assert_eq!(ok.status, 204);
    assert_eq!(ok.header("access-control-allow-origin"), Some(PORTAL));
    assert_eq!(
        ok.header("access-control-allow-private-network"),
        Some("true")
    );
    for (origin, method, headers) in [
        ("https://evil.example", "POST", "content-type"),
        ("http://portal.example.vn", "POST", "content-type"),
        (PORTAL, "DELETE", "content-type"),
        (PORTAL, "POST", "x-evil"),
    ] {
        let refused = agent
            .request(
                "OPTIONS",
                "/v1/sign/cms",
                &[
                    ("origin", origin),
                    ("access-control-request-method", method),
                    ("access-control-request-headers", headers),
                ],
                None,
            )
            .await;
        assert_eq!(refused.status, 403, "{origin} {method} {headers}");
        assert_eq!(refused.header("access-control-allow-origin"), None);
    }
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let (hsm, agent) = start(&format!("{CONFIG}max_body_bytes = 2048\n"));
    let big = json!({"certificate": thumbprint("company-rsa2048"), "data": b64(&[7u8; 4096])});
    let answer = agent.post_json(PORTAL, "/v1/sign/cms", big).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.error_code(), "PAYLOAD_TOO_LARGE");
    assert!(asked(&hsm).is_empty());
}

#[tokio::test]
async fn malformed_json_base64_and_fields_are_bad_requests() {
    let (hsm, agent) = start(CONFIG);
    let malformed = agent
        .request(
            "POST",
            "/v1/sign/cms",
            &[("origin", PORTAL), ("content-type", "application/json")],
            Some(b"{\"data\": ".to_vec()),
        )
        .await;
    assert_eq!(malformed.error_code(), "BAD_REQUEST");
    let bad_base64 = agent
        .post_json(PORTAL, "/v1/sign/cms", json!({"data": "***not base64***"}))
        .await;
    assert_eq!(bad_base64.error_code(), "BAD_REQUEST");
    let unknown_field = agent
        .post_json(
            PORTAL,
            "/v1/sign/hash",
            json!({"digest": b64(&[0; 32]), "evil": 1}),
        )
        .await;
    assert_eq!(unknown_field.error_code(), "BAD_REQUEST");
    let short_digest = agent
        .post_json(PORTAL, "/v1/sign/hash", json!({"digest": b64(&[0; 31])}))
        .await;
    assert_eq!(short_digest.error_code(), "BAD_REQUEST");
    assert!(asked(&hsm).is_empty());
}

#[tokio::test]
async fn an_unknown_path_or_method_is_unknown_method() {
    let (_hsm, agent) = start(CONFIG);
    let answer = agent
        .request("GET", "/v1/sign/everything", &[("origin", PORTAL)], None)
        .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.error_code(), "UNKNOWN_METHOD");
}

async fn websocket(
    agent: &Agent,
    origin: Option<&str>,
) -> Result<WebSocket, tokio_tungstenite::tungstenite::Error> {
    agent.websocket(agent.port, "/v1/ws", origin).await
}

#[tokio::test]
async fn a_websocket_upgrade_from_a_foreign_origin_is_refused() {
    let (hsm, agent) = start(CONFIG);
    for origin in [
        Some("https://evil.example"),
        Some("http://portal.example.vn"),
        None,
    ] {
        match websocket(&agent, origin).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{origin:?}");
            }
            Ok(_) => panic!("WebSocket opened for {origin:?}"),
            Err(e) => panic!("unexpected error for {origin:?}: {e}"),
        }
    }
    assert!(asked(&hsm).is_empty());
}

#[tokio::test]
async fn json_rpc_over_websocket_signs_and_reports_batch_progress() {
    let (hsm, agent) = start(CONFIG);
    let mut ws = websocket(&agent, Some(PORTAL))
        .await
        .unwrap_or_else(|e| panic!("WebSocket refused: {e}"));
    let (info, _) = rpc(&mut ws, 1, "info", json!({})).await;
    assert_eq!(info["result"]["name"], "kyso");
    let (unknown, _) = rpc(&mut ws, 2, "sign.everything", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601);
    assert_eq!(unknown["error"]["data"]["code"], "UNKNOWN_METHOD");
    let (signed, _) = rpc(&mut ws, 3, "sign.cms", cms_request()).await;
    let cms = unb64(&signed["result"]["cms"]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    openssl_cms_verify(dir.path(), &cms, Some(b"hello"))
        .unwrap_or_else(|e| panic!("OpenSSL rejected the WebSocket signature: {e}"));
    let items: Vec<Value> = (0..3)
        .map(|i| json!({"type": "cms", "data": b64(format!("file {i}").as_bytes())}))
        .collect();
    let (batch, notes) = rpc(
        &mut ws,
        4,
        "sign.batch",
        json!({"certificate": thumbprint("company-rsa2048"), "items": items}),
    )
    .await;
    let results = batch["result"]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 3);
    for (i, result) in results.iter().enumerate() {
        openssl_cms_verify(
            dir.path(),
            &unb64(&result["cms"]),
            Some(format!("file {i}").as_bytes()),
        )
        .unwrap_or_else(|e| panic!("batch item {i}: {e}"));
    }
    assert_eq!(
        notes.iter().filter(|n| n["method"] == "progress").count(),
        3,
        "{notes:?}"
    );
    // One PIN for the single signature and one for the whole batch.
    assert_eq!(asked(&hsm).iter().filter(|k| *k == "pin").count(), 2);
}

#[tokio::test]
async fn a_binary_websocket_frame_carries_the_payload_without_base64() {
    let (_hsm, agent) = start(CONFIG);
    let mut ws = websocket(&agent, Some(PORTAL))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let header = json!({"jsonrpc": "2.0", "id": 9, "method": "sign.cms",
        "params": {"certificate": thumbprint("person-p256"), "detached": true}})
    .to_string();
    let payload = vec![0xA5u8; 100_000];
    let mut frame = (header.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(header.as_bytes());
    frame.extend_from_slice(&payload);
    ws.send(Message::binary(frame))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let message = ws
        .next()
        .await
        .unwrap_or_else(|| panic!("closed"))
        .unwrap_or_else(|e| panic!("{e}"));
    let value: Value = serde_json::from_str(message.to_text().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    openssl_cms_verify(dir.path(), &unb64(&value["result"]["cms"]), Some(&payload))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn sign_hash_answers_the_documented_shape_and_openssl_accepts_it() {
    let (_hsm, agent) = start(CONFIG);
    let digest = kyso::signer::HashAlgorithm::Sha256.digest(b"portal challenge");
    let answer = agent
        .post_json(
            PORTAL,
            "/v1/sign/hash",
            json!({"certificate": thumbprint("company-rsa2048"), "algorithm": "sha256", "digest": b64(&digest)}),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    let body = answer.json();
    assert_eq!(body["signature_algorithm"], "RSA-PKCS1-v1_5-SHA256");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    assert!(openssl_verify_digest(
        dir.path(),
        &unb64(&body["certificate"]),
        &digest,
        &unb64(&body["signature"]),
        false,
        "sha256"
    ));
}

#[tokio::test]
async fn a_certificate_named_by_serial_signs_without_a_chooser_and_an_unknown_serial_is_not_found()
{
    let (hsm, agent) = start(CONFIG);
    let user = pki()
        .user("person-p256")
        .unwrap_or_else(|| panic!("no test user"));
    let serial = kyso_certs::summarize(&user.cert_der, time::OffsetDateTime::now_utc())
        .map(|s| s.serial)
        .unwrap_or_else(|e| panic!("{e}"));
    // Lower case with colons, as portals store serials from other plugins.
    let written = serial
        .to_lowercase()
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let answer = agent
        .post_json(
            PORTAL,
            "/v1/sign/cms",
            json!({"certificate": format!("serial:{written}"), "data": b64(b"by serial"), "detached": true}),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    let body = answer.json();
    assert_eq!(
        kyso_certs::thumbprint(&unb64(&body["certificate"])),
        thumbprint("person-p256")
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    openssl_cms_verify(dir.path(), &unb64(&body["cms"]), Some(b"by serial"))
        .unwrap_or_else(|e| panic!("{e}"));
    let unknown = agent
        .post_json(
            PORTAL,
            "/v1/sign/cms",
            json!({"certificate": "serial:0BADC0FFEE", "data": b64(b"x")}),
        )
        .await;
    assert_eq!(unknown.error_code(), "CERTIFICATE_NOT_FOUND");
    assert_eq!(asked(&hsm), vec!["pin"]);
}

#[tokio::test]
async fn sign_cms_without_a_certificate_lets_the_user_choose() {
    let (hsm, agent) = start(CONFIG);
    agent.set_answers(json!({"pin": USER_PIN, "certificate": thumbprint("person-p256")}));
    let answer = agent
        .post_json(PORTAL, "/v1/sign/cms", json!({"data": b64(b"choose me")}))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    let certificate = unb64(&answer.json()["certificate"]);
    assert_eq!(
        kyso_certs::thumbprint(&certificate),
        thumbprint("person-p256")
    );
    assert_eq!(asked(&hsm), vec!["choose", "pin"]);
}

#[tokio::test]
async fn an_unknown_origin_is_asked_once_and_the_answer_remembered() {
    let (hsm, agent) = start(CONFIG);
    let newcomer = "https://dichvucong.example.vn";
    agent.set_answers(json!({"consent": "allow-always", "pin": USER_PIN}));
    let first = agent
        .post_json(newcomer, "/v1/sign/cms", cms_request())
        .await;
    assert_eq!(first.status, 200, "{:?}", first.json());
    let second = agent
        .post_json(newcomer, "/v1/sign/cms", cms_request())
        .await;
    assert_eq!(second.status, 200);
    assert_eq!(
        asked(&hsm).iter().filter(|k| *k == "consent").count(),
        1,
        "{:?}",
        asked(&hsm)
    );
    // A denial is remembered too: the next request is refused without a dialog.
    let stranger = "https://stranger.example";
    agent.set_answers(json!({"consent": "deny", "pin": USER_PIN}));
    let refused = agent
        .post_json(stranger, "/v1/sign/cms", cms_request())
        .await;
    assert_eq!(refused.error_code(), "ORIGIN_NOT_ALLOWED");
    agent.set_answers(json!({"consent": "allow-once", "pin": USER_PIN}));
    let again = agent
        .post_json(stranger, "/v1/sign/cms", cms_request())
        .await;
    assert_eq!(again.error_code(), "ORIGIN_NOT_ALLOWED");
    assert_eq!(asked(&hsm).iter().filter(|k| *k == "consent").count(), 2);
}

#[tokio::test]
async fn cancel_gives_user_cancelled_and_no_answer_gives_prompt_timeout() {
    let (_hsm, agent) = start(&format!("{CONFIG}prompt_timeout_secs = 1\n"));
    agent.set_answers(json!({"consent": "allow-once"}));
    let cancelled = agent.post_json(PORTAL, "/v1/sign/cms", cms_request()).await;
    assert_eq!(cancelled.error_code(), "USER_CANCELLED");
    agent.set_answers(json!({"pin": USER_PIN, "delay_ms": 3000}));
    let timed_out = agent.post_json(PORTAL, "/v1/sign/cms", cms_request()).await;
    assert_eq!(timed_out.error_code(), "PROMPT_TIMEOUT");
}

#[tokio::test]
async fn a_wrong_pin_is_reported_and_not_retried() {
    let (hsm, agent) = start(CONFIG);
    agent.set_answers(json!({"pin": "00000000"}));
    let answer = agent.post_json(PORTAL, "/v1/sign/cms", cms_request()).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.error_code(), "PIN_INCORRECT");
    assert_eq!(asked(&hsm), vec!["pin"]);
    assert!(!agent.audit_log().contains("00000000"));
}

#[tokio::test]
async fn a_second_request_while_a_prompt_is_open_waits_and_gets_its_own_pin() {
    let (hsm, agent) = start(CONFIG);
    agent.set_answers(json!({"pin": USER_PIN, "delay_ms": 800}));
    let first = agent.post_json(PORTAL, "/v1/sign/cms", cms_request());
    let second = async {
        // Arrives while the first PIN dialog is on screen.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = std::time::Instant::now();
        let answer = agent.post_json(PORTAL, "/v1/sign/cms", cms_request()).await;
        (answer, started.elapsed())
    };
    let (first, (second, waited)) = tokio::join!(first, second);
    assert_eq!(first.status, 200);
    assert_eq!(second.status, 200);
    // It waited for the first dialog to close and then got a dialog of its own: it never
    // signed on the first request's login.
    assert!(
        waited >= Duration::from_millis(1200),
        "waited only {waited:?}"
    );
    assert_eq!(asked(&hsm), vec!["pin", "pin"]);
}

#[tokio::test]
async fn a_page_flooding_dialogs_is_told_busy() {
    let (_hsm, agent) = start(&format!(
        "{CONFIG}prompts_per_minute = 2
"
    ));
    for _ in 0..2 {
        assert_eq!(
            agent
                .post_json(PORTAL, "/v1/sign/cms", cms_request())
                .await
                .status,
            200
        );
    }
    let third = agent.post_json(PORTAL, "/v1/sign/cms", cms_request()).await;
    assert_eq!(third.status, 429);
    assert_eq!(third.error_code(), "BUSY");
}

#[tokio::test]
async fn fifty_concurrent_requests_are_all_signed_correctly() {
    let (hsm, agent) = start(CONFIG);
    let requests = (0..50).map(|i| {
        let agent = &agent;
        async move {
            let data = format!("document {i}");
            let answer = agent
                .post_json(
                    PORTAL,
                    "/v1/sign/cms",
                    json!({"certificate": thumbprint("company-rsa2048"), "data": b64(data.as_bytes())}),
                )
                .await;
            (data, answer)
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (data, answer) in answers {
        assert_eq!(answer.status, 200, "{data}: {:?}", answer.json());
        openssl_cms_verify(
            dir.path(),
            &unb64(&answer.json()["cms"]),
            Some(data.as_bytes()),
        )
        .unwrap_or_else(|e| panic!("{data}: {e}"));
    }
    // One PIN dialog per request: no request signed on another's login.
    assert_eq!(asked(&hsm).iter().filter(|k| *k == "pin").count(), 50);
}

#[tokio::test]
async fn login_challenge_signature_verifies_and_an_altered_challenge_does_not() {
    let (_hsm, agent) = start(CONFIG);
    let nonce = b"kyso-login-nonce-3f9a1c";
    let answer = agent
        .post_json(
            PORTAL,
            "/v1/auth/challenge",
            json!({"certificate": thumbprint("person-p256"), "challenge": b64(nonce)}),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    let cms = unb64(&answer.json()["cms"]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    assert!(openssl_cms_verify(dir.path(), &cms, Some(nonce)).is_ok());
    assert!(openssl_cms_verify(dir.path(), &cms, Some(b"kyso-login-nonce-000000")).is_err());
}

#[tokio::test]
async fn the_demo_login_verifier_accepts_a_token_signed_challenge_once_and_refuses_alterations() {
    use kyso::login::{ChallengeVerifier, LoginError};
    let (_hsm, agent) = start(CONFIG);
    let verifier = ChallengeVerifier::new(
        vec![pki().root.cert_der.clone()],
        std::time::Duration::from_secs(120),
    );
    let now = std::time::SystemTime::now();
    let sign = async |challenge: &str| {
        let answer = agent
            .post_json(
                PORTAL,
                "/v1/auth/challenge",
                json!({"certificate": thumbprint("company-rsa2048"), "challenge": challenge}),
            )
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.json());
        answer.json()["cms"].as_str().unwrap_or_default().to_owned()
    };
    let good = verifier.issue(now).challenge;
    let cms = sign(&good).await;
    let signer = verifier
        .verify(&good, &cms, now)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        signer,
        pki()
            .user("company-rsa2048")
            .map(|u| u.cert_der.clone())
            .unwrap_or_default()
    );
    // Replaying the same proof fails: the challenge was consumed.
    assert!(matches!(
        verifier.verify(&good, &cms, now),
        Err(LoginError::UnknownChallenge)
    ));
    // A proof made for one challenge does not answer another.
    let other = verifier.issue(now).challenge;
    let stolen = sign(&verifier.issue(now).challenge).await;
    assert!(matches!(
        verifier.verify(&other, &stolen, now),
        Err(LoginError::Signature(_))
    ));
    // One flipped byte in the signature value fails too.
    let fresh = verifier.issue(now).challenge;
    let mut der = unb64(&Value::String(sign(&fresh).await));
    let last = der.len() - 1;
    der[last] ^= 1;
    assert!(matches!(
        verifier.verify(&fresh, &b64(&der), now),
        Err(LoginError::Signature(_))
    ));
}

#[tokio::test]
async fn the_pin_cache_spares_the_pin_but_still_confirms_each_signature() {
    let (hsm, agent) = start(&format!("{CONFIG}pin_cache_minutes = 5\n"));
    for _ in 0..3 {
        let answer = agent.post_json(PORTAL, "/v1/sign/cms", cms_request()).await;
        assert_eq!(answer.status, 200, "{:?}", answer.json());
    }
    assert_eq!(asked(&hsm), vec!["pin", "confirm", "confirm"]);
    let cleared = agent.post_json(PORTAL, "/v1/pin/clear", json!({})).await;
    assert_eq!(cleared.status, 200);
    let answer = agent.post_json(PORTAL, "/v1/sign/cms", cms_request()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(asked(&hsm).last().map(String::as_str), Some("pin"));
}

#[tokio::test]
async fn every_documented_get_path_answers() {
    let (_hsm, agent) = start(CONFIG);
    let mut connection = agent.http1().await;
    for (method, path) in kyso::server::ROUTES {
        if *method != "GET" || *path == "/v1/ws" {
            continue;
        }
        let answer = send(
            &mut connection,
            agent.port,
            "GET",
            path,
            &[("origin", PORTAL)],
            None,
        )
        .await;
        assert_eq!(answer.status, 200, "{path}");
    }
    let spec: Value = serde_json::from_str(kyso::server::OPENAPI).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec["openapi"], "3.0.3");
}

#[test]
fn the_port_in_use_is_reported_and_the_holder_left_alone() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = holder.local_addr().map(|a| a.port()).unwrap_or_default();
    let hsm = SoftHsm::new();
    let output = kyso_tests::run(hsm.kyso().args([
        "serve",
        "--headless",
        "--prompter",
        "terminal",
        "--port",
        &port.to_string(),
    ]));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PORT_IN_USE"), "{stderr}");
    // The holder still works.
    assert!(holder.local_addr().is_ok());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
}

#[tokio::test]
async fn a_second_agent_for_the_same_user_refuses_to_start_and_names_the_first() {
    let (hsm, agent) = start(CONFIG);
    let output = kyso_tests::run(hsm.kyso().args([
        "serve",
        "--headless",
        "--prompter",
        "terminal",
        "--port",
        "0",
    ]));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ALREADY_RUNNING"), "{stderr}");
    assert!(
        stderr.contains(&format!("https://localhost:{}", agent.port)),
        "{stderr}"
    );
    // The first agent still answers.
    let answer = agent
        .request("GET", "/v1/info", &[("origin", PORTAL)], None)
        .await;
    assert_eq!(answer.status, 200);
}
