//! The words of the dialogs, in the user's language, shared by every backend. Plain text:
//! backends escape it for their own markup.

// Not every backend uses every text (Windows has no dialogs yet).
#![cfg_attr(windows, allow(dead_code))]

use kyso_certs::CertificateSummary;

use crate::prompt::{
    pin_warning, ChooseRequest, ConfirmRequest, ConsentRequest, Language, PinRequest,
};

/// The window title of every dialog.
pub(super) const TITLE: &str = "kyso — ký số";

/// Button labels.
pub(super) struct Buttons {
    pub allow_once: &'static str,
    pub allow_always: &'static str,
    pub deny: &'static str,
    pub sign: &'static str,
    pub cancel: &'static str,
}

pub(super) fn buttons(language: Language) -> Buttons {
    Buttons {
        allow_once: language.pick("Cho phép lần này", "Allow once"),
        allow_always: language.pick("Luôn cho phép", "Always allow"),
        deny: language.pick("Từ chối", "Deny"),
        sign: language.pick("Ký", "Sign"),
        cancel: language.pick("Hủy", "Cancel"),
    }
}

/// One line naming a certificate: holder, tax or citizen ID, issuer, expiry.
pub(super) fn certificate_line(cert: &CertificateSummary, language: Language) -> String {
    let name = cert.common_name.as_deref().unwrap_or(&cert.subject);
    let ids: Vec<String> = cert
        .identifiers
        .iter()
        .map(|(kind, value)| format!("{kind}: {value}"))
        .collect();
    let issuer = cert.issuer_common_name.as_deref().unwrap_or(&cert.issuer);
    let expiry = format!(
        "{:04}-{:02}-{:02}",
        cert.not_after.year(),
        u8::from(cert.not_after.month()),
        cert.not_after.day()
    );
    let mut line = name.to_owned();
    if !ids.is_empty() {
        line.push_str(&format!(" ({})", ids.join(", ")));
    }
    line.push_str(&format!(
        " — {} {issuer}, {} {expiry}",
        language.pick("cấp bởi", "issued by"),
        language.pick("hết hạn", "expires")
    ));
    line
}

fn origin_line(origin: Option<&str>, language: Language) -> String {
    match origin {
        Some(origin) => format!(
            "{}: {origin}",
            language.pick("Trang web yêu cầu", "Requested by")
        ),
        None => language
            .pick("Yêu cầu từ máy này", "Requested on this computer")
            .to_owned(),
    }
}

/// The PIN dialog's text.
pub(super) fn pin(request: &PinRequest<'_>, language: Language) -> String {
    let mut lines = vec![
        origin_line(request.origin, language),
        format!(
            "{}: {}",
            language.pick("Nội dung ký", "Signing"),
            request.purpose
        ),
        format!(
            "{}: {}",
            language.pick("Chứng thư số", "Certificate"),
            certificate_line(request.certificate, language)
        ),
    ];
    if let Some((en, vi)) = pin_warning(&request.pin) {
        lines.push(language.pick(vi, en).to_owned());
    }
    lines.push(format!(
        "{} \"{}\":",
        language.pick("Nhập mã PIN của token", "Enter the PIN of token"),
        request.token_label
    ));
    lines.join("\n")
}

/// The consent dialog's text.
pub(super) fn consent(request: &ConsentRequest<'_>) -> String {
    let language = request.language;
    format!(
        "{}\n\n{}\n\n{}",
        request.origin,
        language.pick(
            "Trang web này muốn dùng chữ ký số trên USB token của bạn.",
            "This website wants to use the digital signature on your USB token."
        ),
        language.pick(
            "Chỉ cho phép nếu bạn tin trang này. Bạn vẫn phải nhập PIN hoặc xác nhận mỗi lần ký.",
            "Allow only if you trust this site. You still enter the PIN or confirm each signature."
        )
    )
}

/// The chooser's prompt.
pub(super) fn choose(request: &ChooseRequest<'_>) -> String {
    let language = request.language;
    format!(
        "{}\n{}",
        origin_line(request.origin, language),
        language.pick(
            "Chọn chứng thư số để ký:",
            "Choose the certificate to sign with:"
        )
    )
}

/// The confirmation's text.
pub(super) fn confirm(request: &ConfirmRequest<'_>) -> String {
    let language = request.language;
    format!(
        "{}\n{}: {}\n{}: {}\n\n{}",
        origin_line(request.origin, language),
        language.pick("Nội dung ký", "Signing"),
        request.purpose,
        language.pick("Chứng thư số", "Certificate"),
        certificate_line(request.certificate, language),
        language.pick("Ký bằng chứng thư này?", "Sign with this certificate?")
    )
}
