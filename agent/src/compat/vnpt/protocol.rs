//! The framing of the VNPT-CA plugin protocol.
//!
//! A call is one text frame of JSON:
//! `{"functionID": N, "funcCallback": "NAME", "args": ["..", ..], "domain": "<page host>"}`.
//! The answer is one text frame `"<result>*<funcCallback>"`: the page splits it on `*`, so the
//! result must never contain one. Results are either a fixed word (`"1"`, a version) or JSON;
//! in JSON a `*` can only occur inside a string, where it is written as the escape `\u002a`,
//! which every JSON parser reads back as `*` — so data holding a `*` reaches the page intact.

use serde_json::Value;

use crate::error::{Coded, ErrorCode};

/// The callback name that resolves the page's pending Promise.
pub const DEFAULT_CALLBACK: &str = "callbackDefault";

/// One call from the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The function number (see [`super::dispatch::Function`]).
    pub function_id: i64,
    /// Where the page wants the answer (echoed after the `*`).
    pub callback: String,
    /// The arguments; every one is a string on the wire.
    pub args: Vec<String>,
    /// The page's host name as the page claims it: informational only (the Origin of the
    /// WebSocket upgrade decides).
    pub domain: Option<String>,
}

impl Request {
    /// Argument `index`, or `""` when the page sent fewer.
    pub fn arg(&self, index: usize) -> &str {
        self.args.get(index).map_or("", String::as_str)
    }
}

/// Why a frame is not a call.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// Not JSON at all.
    #[error("the frame is not JSON")]
    Json(#[source] serde_json::Error),
    /// JSON, but not a call.
    #[error("the frame is not a call: {0}")]
    Shape(&'static str),
}

impl Coded for ProtocolError {
    fn code(&self) -> ErrorCode {
        ErrorCode::BadRequest
    }
}

/// Parses a call. Lenient where clients differ: `functionID` as a number or a numeric
/// string, arguments that are not strings (numbers, booleans, objects) taken as their JSON
/// text, `null` as `""`.
pub fn parse(text: &str) -> Result<Request, ProtocolError> {
    let value: Value = serde_json::from_str(text).map_err(ProtocolError::Json)?;
    let object = value
        .as_object()
        .ok_or(ProtocolError::Shape("not a JSON object"))?;
    let function_id = match object.get("functionID") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or(ProtocolError::Shape("no numeric functionID"))?;
    let callback = object
        .get("funcCallback")
        .and_then(Value::as_str)
        .map(sanitize_callback)
        .unwrap_or_else(|| DEFAULT_CALLBACK.to_owned());
    let args = match object.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(arg_text).collect(),
        Some(_) => return Err(ProtocolError::Shape("args is not an array")),
    };
    let domain = object
        .get("domain")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Request {
        function_id,
        callback,
        args,
        domain,
    })
}

fn arg_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The callback as the page will look it up: a JavaScript identifier path. Anything else
/// (a `*` would break the framing) falls back to [`DEFAULT_CALLBACK`].
pub fn sanitize_callback(name: &str) -> String {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.'));
    if ok {
        name.to_owned()
    } else {
        DEFAULT_CALLBACK.to_owned()
    }
}

/// What a call answers, before framing.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A bare word (`"1"` for checkPlugin, the version).
    Plain(String),
    /// A JSON value, sent as its text.
    Json(Value),
}

/// Builds the answer frame `"<result>*<callback>"`; the result never contains `*`.
pub fn frame(reply: &Reply, callback: &str) -> String {
    let result = match reply {
        // Plain words are kyso's own ("1", a version): a `*` can only come from a bug, and
        // dropping it keeps the framing intact.
        Reply::Plain(text) => text.replace('*', ""),
        Reply::Json(value) => value.to_string().replace('*', "\\u002a"),
    };
    format!("{result}*{}", sanitize_callback(callback))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_call_parses_with_string_or_numeric_function_ids() {
        let call = parse(
            r#"{"functionID":"10","funcCallback":"cb","args":["[]","ABC",1,null],"domain":"x.vn"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(call.function_id, 10);
        assert_eq!(call.callback, "cb");
        assert_eq!(call.args, vec!["[]", "ABC", "1", ""]);
        assert_eq!(call.domain.as_deref(), Some("x.vn"));
        assert_eq!(call.arg(9), "");
        let call = parse(r#"{"functionID":7}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(call.callback, DEFAULT_CALLBACK);
    }

    #[test]
    fn frames_that_are_not_calls_are_refused() {
        assert!(matches!(parse("{not json"), Err(ProtocolError::Json(_))));
        assert!(matches!(parse("[1]"), Err(ProtocolError::Shape(_))));
        assert!(matches!(
            parse(r#"{"functionID":"x"}"#),
            Err(ProtocolError::Shape(_))
        ));
        assert!(matches!(
            parse(r#"{"functionID":1,"args":"a"}"#),
            Err(ProtocolError::Shape(_))
        ));
    }

    #[test]
    fn a_star_in_json_data_is_escaped_and_parses_back() {
        let reply = Reply::Json(json!({"code": 0, "data": "a*b", "error": ""}));
        let framed = frame(&reply, "callbackDefault");
        let parts: Vec<&str> = framed.split('*').collect();
        assert_eq!(parts.len(), 2, "{framed}");
        let back: Value = serde_json::from_str(parts[0]).unwrap_or_default();
        assert_eq!(back["data"], "a*b");
        assert_eq!(parts[1], "callbackDefault");
    }

    #[test]
    fn a_callback_that_would_break_the_framing_becomes_the_default() {
        assert_eq!(sanitize_callback("onSigned"), "onSigned");
        assert_eq!(sanitize_callback("window.app.done"), "window.app.done");
        assert_eq!(sanitize_callback("a*b"), DEFAULT_CALLBACK);
        assert_eq!(sanitize_callback(""), DEFAULT_CALLBACK);
        assert_eq!(frame(&Reply::Plain("1".into()), "x*y"), "1*callbackDefault");
    }
}
