//! The API v1 routes, built from state so tests can call them without a socket.

use std::{convert::Infallible, sync::Arc};

use serde::{de::DeserializeOwned, Serialize};
use warp::{
    http::{header, HeaderValue, Method, StatusCode},
    reply::Response,
    Filter, Rejection, Reply,
};

use super::{
    guard::{self, GuardConfig},
    problem::{self, reject},
    ws,
};
use crate::{
    broker::{ApiError, Broker, Caller},
    error::ErrorCode,
};

/// Everything the routes need.
#[derive(Clone)]
pub struct AppState {
    /// The broker doing the work.
    pub broker: Arc<Broker>,
    /// Host check and local API token.
    pub guard: GuardConfig,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("port", &self.guard.port)
            .finish()
    }
}

/// Every (method, path) the API serves; the OpenAPI document must list exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/info"),
    ("GET", "/v1/tokens"),
    ("GET", "/v1/certificates"),
    ("POST", "/v1/certificates/choose"),
    ("POST", "/v1/sign/hash"),
    ("POST", "/v1/sign/cms"),
    ("POST", "/v1/sign/pdf"),
    ("POST", "/v1/sign/xml"),
    ("POST", "/v1/verify/pdf"),
    ("POST", "/v1/verify/xml"),
    ("POST", "/v1/auth/challenge"),
    ("POST", "/v1/sign/batch"),
    ("POST", "/v1/pin/clear"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/ws"),
    ("GET", "/kyso.js"),
    ("GET", "/kyso.d.ts"),
];

/// The browser SDK (an ES module) and its TypeScript declarations, served so pages can import
/// the SDK of the agent they talk to.
pub const SDK_JS: &str = include_str!("../../web/kyso.js");
/// TypeScript declarations of [`SDK_JS`].
pub const SDK_DTS: &str = include_str!("../../web/kyso.d.ts");

/// The OpenAPI 3 description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Headers a page may send.
const ALLOWED_HEADERS: &[&str] = &[
    "content-type",
    "authorization",
    "x-kyso-request-id",
    "kyso-options",
];

/// Runs a blocking broker call off the async runtime.
async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ApiError::new(ErrorCode::Internal, e.to_string())))
}

fn answer<T: Serialize>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(value) => warp::reply::json(&value).into_response(),
        Err(error) => problem::error_response(&error),
    }
}

/// A JSON body, with a JSON content type, within the size limit.
fn json_body<T: DeserializeOwned + Send>(
    limit: u64,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and_then(|content_type: Option<String>| async move {
            // A `text/plain` "simple" POST skips the CORS preflight: refuse anything but JSON.
            let is_json = content_type
                .as_deref()
                .map(|c| {
                    c.trim()
                        .to_ascii_lowercase()
                        .starts_with("application/json")
                })
                .unwrap_or(false);
            if is_json {
                Ok(())
            } else {
                Err(reject(
                    ErrorCode::BadRequest,
                    format!("Content-Type {content_type:?} is not application/json"),
                ))
            }
        })
        .untuple_one()
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .and_then(|bytes: warp::hyper::body::Bytes| async move {
            serde_json::from_slice::<T>(&bytes)
                .map_err(|e| reject(ErrorCode::BadRequest, format!("body: {e}")))
        })
}

/// Content type, `Kyso-Options` header and body of a PDF upload. Boxed: inlined into the route,
/// the filter type nests deeply enough to overflow the compiler's trait recursion limit.
fn pdf_upload(
    limit: u64,
) -> warp::filters::BoxedFilter<(Option<String>, Option<String>, warp::hyper::body::Bytes)> {
    warp::header::optional::<String>("content-type")
        .and(warp::header::optional::<String>("kyso-options"))
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .boxed()
}

/// The two bodies `POST /v1/sign/pdf` takes.
enum PdfBody {
    /// `SignPdfRequest` with the PDF in base64.
    Json,
    /// The PDF itself; the rest in the `Kyso-Options` header.
    Raw,
}

fn pdf_body_kind(content_type: Option<&str>) -> Option<PdfBody> {
    let essence = content_type?
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Some(PdfBody::Json),
        "application/pdf" => Some(PdfBody::Raw),
        _ => None,
    }
}

/// Parses the `Kyso-Options` header: JSON as is, or percent-encoded JSON (non-ASCII text cannot
/// travel raw in a header a page sets).
fn pdf_header(value: Option<&str>) -> Result<crate::broker::SignPdfHeader, ApiError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Default::default());
    };
    let json = if value.starts_with('{') {
        std::borrow::Cow::Borrowed(value)
    } else {
        percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("Kyso-Options: {e}")))?
    };
    serde_json::from_str(&json)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("Kyso-Options: {e}")))
}

/// The signed PDF as the body, the signer certificate in `Kyso-Certificate` (base64 DER).
fn raw_pdf_answer(result: Result<(Vec<u8>, Vec<u8>), ApiError>) -> Response {
    use base64::Engine;
    match result {
        Ok((pdf, certificate)) => {
            let mut response = Response::new(pdf.into());
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
            let certificate = base64::engine::general_purpose::STANDARD.encode(certificate);
            if let Ok(value) = HeaderValue::from_str(&certificate) {
                headers.insert("kyso-certificate", value);
            }
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("kyso-certificate"),
            );
            response
        }
        Err(error) => problem::error_response(&error),
    }
}

/// Answers CORS preflights: only for origins not refused, only GET/POST and known headers.
fn preflight(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::options()
        .and(warp::host::optional())
        .and(warp::header::<String>("origin"))
        .and(warp::header::optional::<String>(
            "access-control-request-method",
        ))
        .and(warp::header::optional::<String>(
            "access-control-request-headers",
        ))
        .and(warp::header::optional::<String>(
            "access-control-request-private-network",
        ))
        .map(
            move |authority: Option<warp::http::uri::Authority>,
                  origin: String,
                  method: Option<String>,
                  headers: Option<String>,
                  private_network: Option<String>| {
                let method_ok = matches!(method.as_deref(), Some("GET" | "POST"));
                let headers_ok = headers
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .all(|h| h.is_empty() || ALLOWED_HEADERS.contains(&h.as_str()));
                if !guard::host_allowed(authority.as_ref(), state.guard.port)
                    || !state.broker.origins().may_preflight(&origin)
                    || !method_ok
                    || !headers_ok
                {
                    // No CORS headers: the browser blocks the real request.
                    return warp::reply::with_status(warp::reply(), StatusCode::FORBIDDEN)
                        .into_response();
                }
                let mut response =
                    warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response();
                let h = response.headers_mut();
                if let Ok(value) = HeaderValue::from_str(&origin) {
                    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
                }
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("GET, POST"),
                );
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(
                        "content-type, authorization, x-kyso-request-id, kyso-options",
                    ),
                );
                h.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static("600"),
                );
                if private_network.as_deref() == Some("true") {
                    h.insert(
                        "access-control-allow-private-network",
                        HeaderValue::from_static("true"),
                    );
                }
                h.insert(header::VARY, HeaderValue::from_static("Origin"));
                response
            },
        )
}

/// Adds the exact origin (never `*`) and `Vary: Origin` to answers for pages, so a page can
/// read its typed error, plus headers that keep answers out of caches.
fn finish(method: Method, origin: Option<String>, reply: Response) -> Response {
    let mut response = reply;
    let headers = response.headers_mut();
    if method != Method::OPTIONS {
        if let Some(value) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        }
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    // Answers are private unless a route said otherwise (the public SDK files).
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The whole API.
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let limit = state.broker.config().max_body_bytes;
    let broker = {
        let broker = state.broker.clone();
        warp::any().map(move || broker.clone())
    };
    let caller = guard::caller(state.guard.clone(), guard::verdict_of(state.broker.clone()));

    let info = warp::get()
        .and(warp::path!("v1" / "info"))
        .and(caller.clone())
        .and(broker.clone())
        .and_then(|_caller: Caller, broker: Arc<Broker>| async move {
            Ok::<_, Rejection>(answer(blocking(move || Ok(broker.info())).await))
        });
    let openapi = warp::get()
        .and(warp::path!("v1" / "openapi.json"))
        .and(caller.clone())
        .map(|_caller: Caller| {
            warp::reply::with_header(OPENAPI, header::CONTENT_TYPE, "application/json")
                .into_response()
        });
    let tokens = warp::get()
        .and(warp::path!("v1" / "tokens"))
        .and(caller.clone())
        .and(broker.clone())
        .and_then(|caller: Caller, broker: Arc<Broker>| async move {
            Ok::<_, Rejection>(answer(blocking(move || broker.tokens(&caller)).await))
        });
    let certificates = warp::get()
        .and(warp::path!("v1" / "certificates"))
        .and(caller.clone())
        .and(broker.clone())
        .and_then(|caller: Caller, broker: Arc<Broker>| async move {
            Ok::<_, Rejection>(answer(blocking(move || broker.certificates(&caller)).await))
        });
    let choose = warp::post()
        .and(warp::path!("v1" / "certificates" / "choose"))
        .and(caller.clone())
        .and(broker.clone())
        .and_then(|caller: Caller, broker: Arc<Broker>| async move {
            Ok::<_, Rejection>(answer(blocking(move || broker.choose(&caller)).await))
        });
    let sign_hash = warp::post()
        .and(warp::path!("v1" / "sign" / "hash"))
        .and(caller.clone())
        .and(broker.clone())
        .and(json_body(limit))
        .and_then(|caller: Caller, broker: Arc<Broker>, request| async move {
            Ok::<_, Rejection>(answer(
                blocking(move || broker.sign_hash(&caller, &request)).await,
            ))
        });
    let sign_cms = warp::post()
        .and(warp::path!("v1" / "sign" / "cms"))
        .and(caller.clone())
        .and(broker.clone())
        .and(json_body(limit))
        .and_then(|caller: Caller, broker: Arc<Broker>, request| async move {
            Ok::<_, Rejection>(answer(
                blocking(move || broker.sign_cms(&caller, &request)).await,
            ))
        });
    let sign_pdf = warp::post()
        .and(warp::path!("v1" / "sign" / "pdf"))
        .and(caller.clone())
        .and(broker.clone())
        .and(pdf_upload(limit))
        .and_then(
            |caller: Caller,
             broker: Arc<Broker>,
             content_type: Option<String>,
             options: Option<String>,
             body: warp::hyper::body::Bytes| async move {
                Ok::<_, Rejection>(
                    match pdf_body_kind(content_type.as_deref()) {
                        Some(PdfBody::Json) => answer(
                            match serde_json::from_slice(&body) {
                                Ok(request) => {
                                    blocking(move || broker.sign_pdf(&caller, &request)).await
                                }
                                Err(e) => Err(ApiError::new(
                                    ErrorCode::BadRequest,
                                    format!("body: {e}"),
                                )),
                            },
                        ),
                        Some(PdfBody::Raw) => match pdf_header(options.as_deref()) {
                            Ok(header) => raw_pdf_answer(
                                blocking(move || {
                                    broker.sign_pdf_bytes(
                                        &caller,
                                        header.certificate.as_deref(),
                                        header.name.as_deref(),
                                        &body,
                                        &header.options,
                                    )
                                })
                                .await,
                            ),
                            Err(error) => problem::error_response(&error),
                        },
                        None => problem::error_response(&ApiError::new(
                            ErrorCode::BadRequest,
                            format!(
                                "Content-Type {content_type:?} is neither application/json nor application/pdf"
                            ),
                        )),
                    },
                )
            },
        );
    let sign_xml = warp::post()
        .and(warp::path!("v1" / "sign" / "xml"))
        .and(caller.clone())
        .and(broker.clone())
        .and(json_body(limit))
        .and_then(|caller: Caller, broker: Arc<Broker>, request| async move {
            Ok::<_, Rejection>(answer(
                blocking(move || broker.sign_xml(&caller, &request)).await,
            ))
        });
    let verify_pdf = warp::post()
        .and(warp::path!("v1" / "verify" / "pdf"))
        .and(caller.clone())
        .and(broker.clone())
        .and(json_body(limit))
        .and_then(|caller: Caller, broker: Arc<Broker>, request| async move {
            Ok::<_, Rejection>(answer(
                blocking(move || broker.verify_pdf(&caller, &request)).await,
            ))
        });
    let verify_xml = warp::post()
        .and(warp::path!("v1" / "verify" / "xml"))
        .and(caller.clone())
        .and(broker.clone())
        .and(json_body(limit))
        .and_then(|caller: Caller, broker: Arc<Broker>, request| async move {
            Ok::<_, Rejection>(answer(
                blocking(move || broker.verify_xml(&caller, &request)).await,
            ))
        });
    let auth = warp::post()
        .and(warp::path!("v1" / "auth" / "challenge"))
        .and(caller.clone())
        .and(broker.clone())
        .and(json_body(limit))
        .and_then(|caller: Caller, broker: Arc<Broker>, request| async move {
            Ok::<_, Rejection>(answer(
                blocking(move || broker.auth_challenge(&caller, &request)).await,
            ))
        });
    let batch = warp::post()
        .and(warp::path!("v1" / "sign" / "batch"))
        .and(caller.clone())
        .and(broker.clone())
        .and(json_body(limit))
        .and_then(|caller: Caller, broker: Arc<Broker>, request| async move {
            Ok::<_, Rejection>(answer(
                blocking(move || broker.sign_batch(&caller, &request, &|_, _| {}, &|| false)).await,
            ))
        });
    let pin_clear = warp::post()
        .and(warp::path!("v1" / "pin" / "clear"))
        .and(caller.clone())
        .and(broker.clone())
        .and_then(|caller: Caller, broker: Arc<Broker>| async move {
            Ok::<_, Rejection>(answer(
                blocking(move || {
                    broker
                        .clear_pin_cache(&caller)
                        .map(|()| serde_json::json!({"cleared": true}))
                })
                .await,
            ))
        });
    let websocket = warp::path!("v1" / "ws")
        .and(caller.clone())
        .and(broker.clone())
        .and(warp::ws())
        .map(
            move |caller: Caller, broker: Arc<Broker>, upgrade: warp::ws::Ws| {
                upgrade
                    .max_message_size(limit as usize)
                    .on_upgrade(move |socket| ws::serve(socket, caller, broker))
                    .into_response()
            },
        );

    // The SDK is public code: any page may load it (no Origin consent, no API token), but
    // only through kyso's own Host name, like everything else (DNS rebinding).
    let port = state.guard.port;
    let sdk = warp::get()
        .and(warp::path("kyso.js").or(warp::path("kyso.d.ts")).unify())
        .and(warp::path::full())
        .and(warp::path::end())
        .and(warp::host::optional())
        .and_then(
            move |path: warp::path::FullPath, authority: Option<warp::http::uri::Authority>| async move {
                if !guard::host_allowed(authority.as_ref(), port) {
                    return Err(reject(
                        ErrorCode::HostNotAllowed,
                        format!("Host {authority:?} is not kyso's"),
                    ));
                }
                let (body, content_type) = if path.as_str() == "/kyso.js" {
                    (SDK_JS, "text/javascript; charset=utf-8")
                } else {
                    (SDK_DTS, "application/typescript; charset=utf-8")
                };
                let mut response = warp::reply::with_header(body, header::CONTENT_TYPE, content_type)
                    .into_response();
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                );
                Ok::<_, Rejection>(response)
            },
        );

    // Grouped and boxed: one long `or` chain of warp filters makes type checking explode.
    let reading = info
        .or(openapi)
        .unify()
        .or(tokens)
        .unify()
        .or(certificates)
        .unify()
        .or(choose)
        .unify()
        .boxed();
    let signing = sign_hash
        .or(sign_cms)
        .unify()
        .or(sign_pdf)
        .unify()
        .or(sign_xml)
        .unify()
        .or(auth)
        .unify()
        .or(batch)
        .unify()
        .boxed();
    let other = verify_pdf
        .or(verify_xml)
        .unify()
        .or(pin_clear)
        .unify()
        .or(websocket)
        .unify()
        .or(sdk)
        .unify()
        .boxed();
    let api = preflight(state)
        .or(reading)
        .unify()
        .or(signing)
        .unify()
        .or(other)
        .unify()
        .recover(problem::recover)
        .unify();

    warp::method()
        .and(warp::header::headers_cloned())
        .and(api)
        .map(|method, headers: warp::http::HeaderMap, reply| {
            let origin = headers
                .get(header::ORIGIN)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            finish(method, origin, reply)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_lists_exactly_the_served_routes() {
        let spec: serde_json::Value =
            serde_json::from_str(OPENAPI).unwrap_or_else(|e| panic!("openapi.json: {e}"));
        let paths = spec["paths"]
            .as_object()
            .unwrap_or_else(|| panic!("no paths"));
        let mut documented: Vec<(String, String)> = paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .into_iter()
                    .flat_map(|ops| ops.keys())
                    .map(move |method| (method.to_ascii_uppercase(), path.clone()))
            })
            .collect();
        documented.sort();
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        served.sort();
        assert_eq!(documented, served);
        // Every documented schema reference resolves.
        let text = OPENAPI;
        for reference in text.split("\"#/components/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            let mut node = &spec["components"];
            for part in name.split('/') {
                node = &node[part];
            }
            assert!(!node.is_null(), "dangling $ref {name}");
        }
    }
}
