//! One call → one broker operation → one answer. Every function that touches the token goes
//! through the [`Broker`] (consent, certificate choice, PIN, confirmation, audit).

use base64::Engine;
use serde_json::{json, Value};

use super::{
    codes::{self, PluginCode},
    options,
    protocol::{Reply, Request},
    validate,
};
use crate::{
    broker::{
        ApiError, BatchItem, BatchRequest, BatchResult, Broker, Caller, SignCmsRequest,
        SignHashRequest, SignPdfRequest, SignXmlRequest, VerifyRequest, SERIAL_SELECTOR,
    },
    error::ErrorCode,
    prompt::Language,
};

/// The plugin's function numbers that kyso answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// 0: the user picks a certificate; its details and DER.
    GetCertInfo,
    /// 1: enveloped XMLDSig.
    SignXml,
    /// 2: PAdES.
    SignPdf,
    /// 4: attached CMS.
    SignCms,
    /// 6: accepted without checking (kyso's per-origin consent replaces the licence).
    SetLicenseKey,
    /// 7: `"1"`.
    CheckPlugin,
    /// 8: batch.
    SignArrData,
    /// 9: raw signature of a digest.
    SignHash,
    /// 10: batch with serial, PIN-cache and chooser flags.
    SignArrDataAdvanced,
    /// 11: the version.
    GetVersion,
    /// 12: PAdES with the page(s) in `PagesArray`.
    SignPdfMultiplePages,
    /// 14: a token certificate (by serial): dates and chain.
    ValidateCertificate,
    /// 15: a base64 certificate: dates and chain.
    ValidateCertificateBase64,
    /// 16: a token certificate (by serial): dates.
    CheckValidTime,
    /// 17: a base64 certificate: dates.
    CheckValidTimeBase64,
    /// 23: the language of answers' error texts.
    SetLanguage,
    /// 34: whether a token is connected.
    CheckToken,
    /// 37: whether sign calls show the chooser.
    SetShowCertListDialog,
    /// 40: forget cached PINs.
    ClearPinCache,
    /// 42: the signatures a PDF holds, each checked.
    VerifyPdf,
    /// 45: every certificate.
    GetAllCertificates,
    /// 47: every certificate (with DER, base64).
    GetAllCertificatesBase64,
}

impl Function {
    /// The function for a number, if kyso answers it.
    pub fn from_id(id: i64) -> Option<Self> {
        Some(match id {
            0 => Self::GetCertInfo,
            1 => Self::SignXml,
            2 => Self::SignPdf,
            4 => Self::SignCms,
            6 => Self::SetLicenseKey,
            7 => Self::CheckPlugin,
            8 => Self::SignArrData,
            9 => Self::SignHash,
            10 => Self::SignArrDataAdvanced,
            11 => Self::GetVersion,
            12 => Self::SignPdfMultiplePages,
            14 => Self::ValidateCertificate,
            15 => Self::ValidateCertificateBase64,
            16 => Self::CheckValidTime,
            17 => Self::CheckValidTimeBase64,
            23 => Self::SetLanguage,
            34 => Self::CheckToken,
            37 => Self::SetShowCertListDialog,
            40 => Self::ClearPinCache,
            42 => Self::VerifyPdf,
            45 => Self::GetAllCertificates,
            47 => Self::GetAllCertificatesBase64,
            _ => return None,
        })
    }
}

/// What one WebSocket connection (one page) remembers between calls.
#[derive(Debug, Clone)]
pub struct Session {
    /// Thumbprint of the certificate the user picked in GetCertInfo on this connection.
    chosen: Option<String>,
    /// SetShowCertListDialog: `Some(true)` shows the chooser on every sign call without a
    /// serial, even after GetCertInfo.
    show_cert_list: Option<bool>,
    /// SetLanguage, else the agent's.
    language: Language,
}

impl Session {
    /// A new connection's state.
    pub fn new(language: Language) -> Self {
        Self {
            chosen: None,
            show_cert_list: None,
            language,
        }
    }

    /// The language of error texts on this connection.
    pub fn language(&self) -> Language {
        self.language
    }
}

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, detail)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Base64 as pages send it: line breaks and spaces removed.
fn clean_base64(text: &str) -> String {
    text.chars().filter(|c| !c.is_ascii_whitespace()).collect()
}

fn flag(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes"
    )
}

/// Answers one call.
pub fn call(broker: &Broker, caller: &Caller, session: &mut Session, request: &Request) -> Reply {
    let Some(function) = Function::from_id(request.function_id) else {
        tracing::info!(
            function = request.function_id,
            "VNPT compatibility: function not supported"
        );
        let error = bad(format!(
            "function {} is not supported by kyso",
            request.function_id
        ));
        return Reply::Json(codes::failure(&error, session.language));
    };
    tracing::debug!(?function, domain = ?request.domain, origin = caller.label(), "VNPT call");
    match function {
        Function::CheckPlugin => Reply::Plain("1".into()),
        Function::GetVersion => Reply::Plain(env!("CARGO_PKG_VERSION").into()),
        Function::SetLicenseKey => Reply::Json(json!({"code": 1, "data": "", "error": ""})),
        _ => {
            let language = session.language;
            match answer(broker, caller, session, function, request) {
                Ok(value) => Reply::Json(value),
                Err(error) => {
                    tracing::info!(?function, code = %error.code, detail = %error.detail, "VNPT call failed");
                    let mut value = codes::failure(&error, language);
                    if options::is_missing_page(&error) {
                        value["code"] = PluginCode::PdfPageMissing.number().into();
                    }
                    Reply::Json(value)
                }
            }
        }
    }
}

fn answer(
    broker: &Broker,
    caller: &Caller,
    session: &mut Session,
    function: Function,
    request: &Request,
) -> Result<Value, ApiError> {
    match function {
        Function::GetCertInfo => {
            // "1" (token certificates only) changes nothing: every kyso certificate is on a
            // token.
            let (summary, der) = broker.choose_certificate(caller)?;
            session.chosen = Some(summary.thumbprint.clone());
            let mut info = validate::certificate_json(&summary, &der);
            info["code"] = 0.into();
            Ok(info)
        }
        Function::GetAllCertificates | Function::GetAllCertificatesBase64 => {
            let list: Vec<Value> = broker
                .certificates(caller)?
                .iter()
                .filter(|c| !c.summary.is_ca)
                .map(|c| validate::certificate_json(&c.summary, &c.der))
                .collect();
            Ok(codes::ok(list))
        }
        Function::CheckToken => {
            let tokens = broker.tokens(caller)?;
            Ok(codes::ok(if tokens.is_empty() { "0" } else { "1" }))
        }
        Function::SetShowCertListDialog => {
            session.show_cert_list = Some(flag(request.arg(0)));
            Ok(codes::ok(""))
        }
        Function::SetLanguage => {
            let lang = request.arg(0).trim().to_ascii_lowercase();
            session.language = if lang.starts_with("en") {
                Language::En
            } else if lang.starts_with("vi") {
                Language::Vi
            } else {
                return Err(bad(format!("language {lang:?}: use vi or en")));
            };
            Ok(codes::ok(""))
        }
        Function::ClearPinCache => {
            broker.clear_pin_cache(caller)?;
            session.chosen = None;
            Ok(codes::ok(""))
        }
        Function::SignCms => {
            let certificate = certificate(session, None);
            let answer = broker.sign_cms(
                caller,
                &SignCmsRequest {
                    certificate,
                    data: clean_base64(request.arg(0)),
                    detached: false,
                    hash: None,
                    pss: false,
                    document_name: None,
                },
            )?;
            Ok(codes::ok(answer.cms))
        }
        Function::SignHash => {
            let digest = clean_base64(request.arg(0));
            let algorithm = hash_for_digest(&digest)?;
            let certificate = certificate(session, None);
            let answer = broker.sign_hash(
                caller,
                &SignHashRequest {
                    certificate,
                    algorithm: algorithm.into(),
                    digest,
                    pss: false,
                },
            )?;
            Ok(codes::ok(answer.signature))
        }
        Function::SignPdf | Function::SignPdfMultiplePages => {
            let mapped = options::pdf(request.arg(1))?;
            log_notes(&mapped.notes);
            let certificate = certificate(session, mapped.serial.as_deref());
            let answer = broker.sign_pdf(
                caller,
                &SignPdfRequest {
                    certificate,
                    data: clean_base64(request.arg(0)),
                    name: None,
                    options: mapped.options,
                },
            )?;
            Ok(codes::ok(answer.pdf))
        }
        Function::SignXml => {
            let data = xml_bytes(request.arg(0))?;
            let mapped = options::xml(request.arg(1), &data)?;
            log_notes(&mapped.notes);
            let certificate = certificate(session, mapped.serial.as_deref());
            let answer = broker.sign_xml(
                caller,
                &SignXmlRequest {
                    certificate,
                    data: b64(&data),
                    name: None,
                    options: mapped.options,
                },
            )?;
            Ok(codes::ok(answer.xml))
        }
        Function::VerifyPdf => {
            let answer = broker.verify_pdf(
                caller,
                &VerifyRequest {
                    data: clean_base64(request.arg(0)),
                    trusted: Vec::new(),
                },
            )?;
            let list: Vec<Value> = answer.signatures.iter().map(pdf_signature_json).collect();
            let mut value = codes::ok(list);
            if !answer.valid {
                // The plugin's "data holds invalid signatures"; the details are in `data`.
                value["code"] = PluginCode::SignaturesForbid.number().into();
                value["error"] = session
                    .language
                    .pick(
                        "Chữ ký trong tài liệu không hợp lệ hoặc không tin cậy",
                        "The document's signatures do not all check out",
                    )
                    .into();
            }
            Ok(value)
        }
        Function::SignArrData | Function::SignArrDataAdvanced => {
            Ok(batch(broker, caller, session, request))
        }
        Function::ValidateCertificate | Function::CheckValidTime => {
            let serial = kyso_certs::normalize_serial(request.arg(0));
            let known = broker.certificates(caller)?;
            let target = known
                .iter()
                .find(|c| c.summary.serial == serial)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::CertificateNotFound,
                        format!("no certificate with serial {serial}"),
                    )
                })?;
            let check_chain = function == Function::ValidateCertificate;
            validate::validate(&target.der, &known, check_chain)
        }
        Function::ValidateCertificateBase64 | Function::CheckValidTimeBase64 => {
            let der = base64::engine::general_purpose::STANDARD
                .decode(clean_base64(request.arg(0)))
                .map_err(|e| bad(format!("certificate is not base64: {e}")))?;
            let check_chain = function == Function::ValidateCertificateBase64;
            let known = if check_chain {
                broker.certificates(caller)?
            } else {
                Vec::new()
            };
            validate::validate(&der, &known, check_chain)
        }
        Function::CheckPlugin | Function::GetVersion | Function::SetLicenseKey => Err(
            ApiError::new(ErrorCode::Internal, "answered without the broker"),
        ),
    }
}

/// One signature of a VerifyPdf answer, in the plugin's camelCase style.
fn pdf_signature_json(report: &crate::formats::pdf::PdfSignatureReport) -> Value {
    let signer = report.signer.as_ref();
    json!({
        "field": report.field,
        "subjectCN": signer.and_then(|s| s.common_name.clone()).unwrap_or_default(),
        "serial": signer.map(|s| s.serial.clone()).unwrap_or_default(),
        "issuerCN": signer.and_then(|s| s.issuer_common_name.clone()).unwrap_or_default(),
        "base64": report.signer_der.as_deref().map(b64).unwrap_or_default(),
        "signingTime": report.signing_time,
        "intact": report.intact,
        "trusted": report.trusted,
        "coversWholeDocument": report.covers_whole_document,
        "problems": report.problems,
    })
}

fn log_notes(notes: &[String]) {
    for note in notes {
        tracing::info!(note = %note, "VNPT compatibility: option not applied");
    }
}

/// The certificate for a sign call: the serial the page named (the broker finds it once the
/// page is allowed), else the one picked on this connection (unless the page asked for the
/// chooser every time), else the chooser (`None`).
fn certificate(session: &Session, serial: Option<&str>) -> Option<String> {
    if let Some(serial) = serial.filter(|s| !s.trim().is_empty()) {
        return Some(format!("{SERIAL_SELECTOR}{serial}"));
    }
    if session.show_cert_list == Some(true) {
        return None;
    }
    session.chosen.clone()
}

/// The hash algorithm a digest's length implies.
fn hash_for_digest(digest_b64: &str) -> Result<&'static str, ApiError> {
    let digest = base64::engine::general_purpose::STANDARD
        .decode(digest_b64)
        .map_err(|e| bad(format!("hash is not base64: {e}")))?;
    match digest.len() {
        20 => Ok("sha1"),
        32 => Ok("sha256"),
        48 => Ok("sha384"),
        64 => Ok("sha512"),
        n => Err(bad(format!("a {n}-byte hash is not SHA-1/256/384/512"))),
    }
}

/// SignXML's data: base64 as the client library sends it, or the XML text itself.
fn xml_bytes(arg: &str) -> Result<Vec<u8>, ApiError> {
    let trimmed = arg.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('<') {
        return Ok(arg.as_bytes().to_vec());
    }
    base64::engine::general_purpose::STANDARD
        .decode(clean_base64(arg))
        .map_err(|e| bad(format!("XML data is neither XML nor base64: {e}")))
}

/// signArrData(Advanced): `[items, serial, clearPin, showCertList]`. The answer is a JSON
/// array with one JSON *string* per item (`{"code", "data", "serial"}`), as pages read it with
/// `JSON.parse(JSON.parse(r)[0])`; when the whole batch fails, every item carries the error.
fn batch(broker: &Broker, caller: &Caller, session: &mut Session, request: &Request) -> Value {
    let language = session.language;
    let items: Vec<Value> = serde_json::from_str(request.arg(0)).unwrap_or_default();
    let count = items.len().max(1);
    let all_failed = |error: &ApiError| {
        tracing::info!(code = %error.code, detail = %error.detail, "VNPT batch failed");
        let mut failure = codes::failure(error, language);
        failure["serial"] = "".into();
        Value::Array(vec![Value::String(failure.to_string()); count])
    };
    let result = (|| {
        let items = batch_items(request.arg(0))?;
        if flag(request.arg(2)) {
            broker.forget_pins(caller);
        }
        if flag(request.arg(3)) && request.arg(1).trim().is_empty() {
            session.show_cert_list = Some(true);
        }
        let certificate = certificate(session, Some(request.arg(1)));
        let answer = broker.sign_batch(
            caller,
            &BatchRequest { certificate, items },
            &|_, _| {},
            &|| false,
        )?;
        let serial = kyso_certs::summarize(
            &base64::engine::general_purpose::STANDARD
                .decode(&answer.certificate)
                .unwrap_or_default(),
            time::OffsetDateTime::now_utc(),
        )
        .map(|s| s.serial)
        .unwrap_or_default();
        Ok::<_, ApiError>((answer.results, serial))
    })();
    match result {
        Err(error) => all_failed(&error),
        Ok((results, serial)) => Value::Array(
            results
                .into_iter()
                .map(|result| {
                    let mut value = match result {
                        BatchResult::Cms { cms } => codes::ok(cms),
                        BatchResult::Hash { signature, .. } => codes::ok(signature),
                        BatchResult::Pdf { pdf } => codes::ok(pdf),
                        BatchResult::Xml { xml, .. } => codes::ok(xml),
                        BatchResult::Error { error } => {
                            let code = ErrorCode::ALL
                                .iter()
                                .copied()
                                .find(|c| c.as_str() == error.code)
                                .unwrap_or(ErrorCode::Internal);
                            codes::failure(&ApiError::new(code, error.message), language)
                        }
                    };
                    value["serial"] = serial.clone().into();
                    Value::String(value.to_string())
                })
                .collect(),
        ),
    }
}

/// The plugin's items → kyso's batch items; an unknown type fails the batch before any
/// dialog.
/// An item's `options` as JSON text (the page may send an object or its JSON string).
fn item_options(item: &Value) -> String {
    match item.get("options") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn batch_items(json: &str) -> Result<Vec<BatchItem>, ApiError> {
    let items: Vec<Value> = serde_json::from_str(json)
        .map_err(|e| bad(format!("the item list is not a JSON array: {e}")))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default();
            let data = clean_base64(field("data"));
            match field("type").to_ascii_lowercase().as_str() {
                "cmsdetached" => Ok(BatchItem::Cms {
                    data,
                    detached: true,
                }),
                "cms" => Ok(BatchItem::Cms {
                    data,
                    detached: false,
                }),
                "hash" => Ok(BatchItem::Hash {
                    algorithm: hash_for_digest(&data)?.into(),
                    digest: data,
                }),
                // The signer options ride in the item as a PdfSigner / XmlSigner object or
                // its JSON text, as in SignPDF / SignXML.
                "pdf" => {
                    let mapped = options::pdf(&item_options(item))?;
                    log_notes(&mapped.notes);
                    Ok(BatchItem::Pdf {
                        data,
                        name: None,
                        options: mapped.options,
                    })
                }
                "xml" => {
                    let document = xml_bytes(field("data"))?;
                    let mapped = options::xml(&item_options(item), &document)?;
                    log_notes(&mapped.notes);
                    Ok(BatchItem::Xml {
                        data: b64(&document),
                        name: None,
                        options: mapped.options,
                    })
                }
                other => Err(bad(format!(
                    "items[{i}]: type {other:?} is not cmsdetached, cms, hash, pdf or xml"
                ))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_items_map_onto_kyso_items_and_unknown_types_are_refused() {
        let digest = b64(&[0u8; 32]);
        let items = batch_items(&format!(
            r#"[{{"data":"QUJD","type":"cmsdetached"}},{{"data":"QUJD","type":"CMS"}},{{"data":"{digest}","type":"hash"}}]"#
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&items[0], BatchItem::Cms { detached: true, .. }));
        assert!(matches!(
            &items[1],
            BatchItem::Cms {
                detached: false,
                ..
            }
        ));
        assert!(matches!(&items[2], BatchItem::Hash { algorithm, .. } if algorithm == "sha256"));
        assert!(batch_items(r#"[{"data":"QUJD","type":"office"}]"#).is_err());
        let documents = batch_items(
            r#"[{"data":"JVBERi0=","type":"pdf","options":{"page":1,"llx":36,"lly":36,"urx":286,"ury":116,"Reason":"Ký"}},{"data":"<a/>","type":"xml"}]"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&documents[0], BatchItem::Pdf { options, .. } if options.reason.as_deref() == Some("Ký"))
        );
        assert!(matches!(&documents[1], BatchItem::Xml { data, .. } if *data == b64(b"<a/>")));
        assert!(batch_items("not json").is_err());
    }

    #[test]
    fn xml_data_may_be_text_or_base64() {
        assert_eq!(xml_bytes("<a/>").unwrap_or_default(), b"<a/>");
        assert_eq!(xml_bytes(&b64(b"<a/>")).unwrap_or_default(), b"<a/>");
        assert!(xml_bytes("%%%").is_err());
    }
}
