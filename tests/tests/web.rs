//! The browser SDK served by a real agent: public (no Origin consent, no API token), cacheable,
//! the same bytes as `agent/web/kyso.js`, and still behind the Host check (DNS rebinding).
//! The SDK itself is exercised in a real browser by `tests/e2e/` (scripts/test.sh).

use kyso_tests::{agent::Agent, SoftHsm, USER_PIN};
use serde_json::json;

fn start() -> (SoftHsm, Agent) {
    let hsm = SoftHsm::new();
    let agent = Agent::start(&hsm, "", json!({"pin": USER_PIN}));
    (hsm, agent)
}

#[tokio::test]
async fn the_sdk_and_its_types_are_served_to_anyone_on_kyso_s_host_and_may_be_cached() {
    let (_hsm, agent) = start();
    for (path, body, content_type) in [
        ("/kyso.js", kyso::server::SDK_JS, "text/javascript"),
        (
            "/kyso.d.ts",
            kyso::server::SDK_DTS,
            "application/typescript",
        ),
    ] {
        // No Origin and no local API token: the SDK is public code.
        let answer = agent.request("GET", path, &[], None).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.body, body.as_bytes(), "{path}");
        assert!(answer
            .header("content-type")
            .unwrap_or_default()
            .starts_with(content_type));
        assert!(answer
            .header("cache-control")
            .unwrap_or_default()
            .contains("max-age"));
        // A page on any origin may import it as a module script (CORS).
        let answer = agent
            .request(
                "GET",
                path,
                &[("origin", "https://portal.example.vn")],
                None,
            )
            .await;
        assert_eq!(
            answer.header("access-control-allow-origin"),
            Some("https://portal.example.vn")
        );
    }
}

#[tokio::test]
async fn the_sdk_is_refused_under_a_foreign_host_name() {
    let (_hsm, agent) = start();
    let host = format!("attacker.example:{}", agent.port);
    let answer = agent
        .request("GET", "/kyso.js", &[("host", host.as_str())], None)
        .await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error_code(), "HOST_NOT_ALLOWED");
}

#[tokio::test]
async fn api_answers_stay_uncacheable_next_to_the_cacheable_sdk() {
    let (_hsm, agent) = start();
    let token = agent.api_token();
    let bearer = format!("Bearer {token}");
    let answer = agent
        .request(
            "GET",
            "/v1/info",
            &[("authorization", bearer.as_str())],
            None,
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}
