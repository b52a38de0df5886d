//! JSON-RPC 2.0 over `wss://…/v1/ws`: the same methods as the HTTPS API, plus progress
//! notifications (`sign.batch`: items signed; `sign.pdf`: bytes hashed) and cancellation for
//! batches.
//!
//! Text frames carry one JSON-RPC request each. A binary frame carries a large payload without
//! base64: `u32` big-endian length of a JSON-RPC request, the request, then the raw bytes,
//! which become `params.data`. Answers are text frames, matched to requests by `id`.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use warp::ws::{Message, WebSocket};

use crate::{
    broker::{ApiError, Broker, Caller, ErrorBody},
    error::ErrorCode,
};

/// The methods, by JSON-RPC name.
pub const METHODS: &[&str] = &[
    "info",
    "tokens",
    "certificates",
    "certificates.choose",
    "sign.hash",
    "sign.cms",
    "sign.pdf",
    "sign.xml",
    "verify.pdf",
    "verify.xml",
    "auth.challenge",
    "sign.batch",
    "pin.clear",
    "cancel",
];

/// JSON-RPC error number for kyso's own errors; `data` carries the stable code.
const APPLICATION_ERROR: i64 = -32000;

fn error_reply(id: Value, number: i64, code: ErrorCode) -> String {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": number,
            "message": code.message_en(),
            "data": ErrorBody::from_code(code),
        }
    })
    .to_string()
}

fn result_reply<T: Serialize>(id: Value, result: Result<T, ApiError>) -> String {
    match result {
        Ok(value) => json!({"jsonrpc": "2.0", "id": id, "result": value}).to_string(),
        Err(error) => {
            tracing::info!(code = %error.code, detail = %error.detail, "websocket call failed");
            error_reply(id, APPLICATION_ERROR, error.code)
        }
    }
}

/// Splits a binary frame into its request and payload (see the module docs).
pub fn decode_binary(frame: &[u8]) -> Option<Value> {
    let len = u32::from_be_bytes(frame.get(..4)?.try_into().ok()?) as usize;
    let header = frame.get(4..4 + len)?;
    let payload = frame.get(4 + len..)?;
    let mut request: Value = serde_json::from_slice(header).ok()?;
    let params = request
        .as_object_mut()?
        .entry("params")
        .or_insert(json!({}));
    params.as_object_mut()?.insert(
        "data".into(),
        Value::String(base64::engine::general_purpose::STANDARD.encode(payload)),
    );
    Some(request)
}

fn params<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("params: {e}")))
}

/// Serves one WebSocket until it closes. Calls run concurrently; answers go out as they
/// finish.
pub async fn serve(socket: WebSocket, caller: Caller, broker: Arc<Broker>) {
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(text) = out_rx.recv().await {
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let cancels: Arc<Mutex<HashMap<String, Arc<AtomicBool>>>> = Arc::default();
    while let Some(Ok(message)) = stream.next().await {
        let request = if message.is_text() {
            serde_json::from_slice::<Value>(message.as_bytes()).ok()
        } else if message.is_binary() {
            decode_binary(message.as_bytes())
        } else if message.is_close() {
            break;
        } else {
            continue;
        };
        let Some(request) = request else {
            let _ = out_tx.send(error_reply(Value::Null, -32700, ErrorCode::BadRequest));
            continue;
        };
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let method = request
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let params_value = request.get("params").cloned().unwrap_or(json!({}));
        if request.get("jsonrpc").and_then(Value::as_str) != Some("2.0") || method.is_empty() {
            let _ = out_tx.send(error_reply(id, -32600, ErrorCode::BadRequest));
            continue;
        }
        if method == "cancel" {
            let target = params_value
                .get("id")
                .map(Value::to_string)
                .unwrap_or_default();
            if let Some(flag) = cancels
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&target)
            {
                flag.store(true, Ordering::SeqCst);
            }
            let _ = out_tx.send(result_reply(id, Ok(json!({"cancelled": target}))));
            continue;
        }
        if !METHODS.contains(&method.as_str()) {
            let _ = out_tx.send(error_reply(id, -32601, ErrorCode::UnknownMethod));
            continue;
        }
        let cancelled = Arc::new(AtomicBool::new(false));
        cancels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), cancelled.clone());
        let out = out_tx.clone();
        let broker = broker.clone();
        let caller = caller.clone();
        let cancels = cancels.clone();
        tokio::spawn(async move {
            let reply_id = id.clone();
            let progress_out = out.clone();
            let progress_id = id.clone();
            let reply = tokio::task::spawn_blocking(move || {
                let progress = move |done: usize, total: usize| {
                    let _ = progress_out.send(
                        json!({"jsonrpc": "2.0", "method": "progress", "params": {"id": progress_id, "done": done, "total": total}})
                            .to_string(),
                    );
                };
                let is_cancelled = || cancelled.load(Ordering::SeqCst);
                dispatch(&broker, &caller, &method, params_value, &progress, &is_cancelled, id)
            })
            .await
            .unwrap_or_else(|e| {
                result_reply::<()>(
                    reply_id.clone(),
                    Err(ApiError::new(ErrorCode::Internal, e.to_string())),
                )
            });
            cancels
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&reply_id.to_string());
            let _ = out.send(reply);
        });
    }
    drop(out_tx);
    let _ = writer.await;
}

fn dispatch(
    broker: &Broker,
    caller: &Caller,
    method: &str,
    params_value: Value,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancelled: &(dyn Fn() -> bool + Sync),
    id: Value,
) -> String {
    match method {
        "info" => result_reply(id, Ok(broker.info())),
        "tokens" => result_reply(id, broker.tokens(caller)),
        "certificates" => result_reply(id, broker.certificates(caller)),
        "certificates.choose" => result_reply(id, broker.choose(caller)),
        "sign.hash" => result_reply(
            id,
            params(params_value).and_then(|r| broker.sign_hash(caller, &r)),
        ),
        "sign.cms" => result_reply(
            id,
            params(params_value).and_then(|r| broker.sign_cms(caller, &r)),
        ),
        "sign.pdf" => result_reply(
            id,
            params(params_value).and_then(|r| broker.sign_pdf_reporting(caller, &r, progress)),
        ),
        "sign.xml" => result_reply(
            id,
            params(params_value).and_then(|r| broker.sign_xml(caller, &r)),
        ),
        "verify.pdf" => result_reply(
            id,
            params(params_value).and_then(|r| broker.verify_pdf(caller, &r)),
        ),
        "verify.xml" => result_reply(
            id,
            params(params_value).and_then(|r| broker.verify_xml(caller, &r)),
        ),
        "auth.challenge" => result_reply(
            id,
            params(params_value).and_then(|r| broker.auth_challenge(caller, &r)),
        ),
        "sign.batch" => result_reply(
            id,
            params(params_value).and_then(|r| broker.sign_batch(caller, &r, progress, cancelled)),
        ),
        "pin.clear" => result_reply(
            id,
            broker
                .clear_pin_cache(caller)
                .map(|()| json!({"cleared": true})),
        ),
        _ => error_reply(id, -32601, ErrorCode::UnknownMethod),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_frames_put_the_payload_into_params_data() {
        let header = br#"{"jsonrpc":"2.0","id":7,"method":"sign.cms","params":{"detached":true}}"#;
        let mut frame = (header.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(header);
        frame.extend_from_slice(b"\x00\x01binary");
        let request = decode_binary(&frame).unwrap_or_default();
        assert_eq!(request["params"]["data"], "AAFiaW5hcnk=");
        assert_eq!(request["params"]["detached"], true);
        assert!(decode_binary(&[0, 0, 0, 99, b'{']).is_none());
    }

    /// The SDK falls back from WebSocket to HTTPS per method; a method it knows must also be
    /// accepted here, or the page gets UNKNOWN_METHOD over the WebSocket only.
    #[test]
    fn every_method_the_sdk_routes_is_accepted_over_the_websocket() {
        let sdk = include_str!("../../web/kyso.js");
        let table = sdk
            .split("const HTTP_ROUTES = {")
            .nth(1)
            .and_then(|rest| rest.split("};").next())
            .unwrap_or_default();
        let names: Vec<&str> = table
            .lines()
            .filter_map(|line| line.trim().split(':').next())
            .map(|name| name.trim_matches('"'))
            .filter(|name| !name.is_empty())
            .collect();
        assert!(names.len() >= 10, "parsed {names:?}");
        for name in names {
            assert!(
                METHODS.contains(&name),
                "{name} is routed by the SDK but not accepted"
            );
        }
    }
}
