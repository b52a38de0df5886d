//! `kyso doctor`: every check a support call would make, each with what to do about it.
//!
//! Checks only look; they never change the user's setup (no trust installed, no file made), so
//! running the doctor is always safe. The exit code is non-zero when a check failed.

mod probes;

use std::path::PathBuf;

use serde::Serialize;
use time::OffsetDateTime;

use crate::{
    config::Config,
    prompt::Language,
    token::{ModuleSelection, TokenService},
    trust::{CaCertificate, TrustOptions},
};

pub use probes::{probe_agent, sntp_offset, AgentProbe};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but the user should know (expiring certificate, few PIN tries left).
    Warn,
    /// Needs fixing before signing works.
    Fail,
    /// Information only.
    Info,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable identifier for support tools (`modules`, `token`, `certificate`, ...).
    pub id: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was found, in the user's language.
    pub message: String,
    /// What to do, in the user's language, when something is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Everything the doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The checks in the order they ran.
    pub checks: Vec<Check>,
    /// Whether any check failed.
    pub needs_fixing: bool,
}

/// What the checks look at.
#[derive(Debug)]
pub struct Context {
    /// Which PKCS#11 modules to load.
    pub selection: ModuleSelection,
    /// The agent's data folder (TLS files, agent.json).
    pub data_dir: PathBuf,
    /// The config folder (api-token).
    pub config_dir: PathBuf,
    /// The loaded configuration.
    pub config: Config,
    /// Now.
    pub now: OffsetDateTime,
    /// Language of the messages.
    pub language: Language,
    /// Ask a public time server for the clock check (off in tests: no network there).
    pub check_clock: bool,
    /// The browser certificate stores to inspect (the user's home); `None` skips the check.
    pub trust: Option<TrustOptions>,
}

struct Builder {
    language: Language,
    checks: Vec<Check>,
}

impl Builder {
    fn t(&self, en: String, vi: String) -> String {
        match self.language {
            Language::En => en,
            Language::Vi => vi,
        }
    }

    fn push(&mut self, id: &'static str, status: Status, message: (String, String)) {
        let message = self.t(message.0, message.1);
        self.checks.push(Check {
            id,
            status,
            message,
            fix: None,
        });
    }

    fn push_fix(
        &mut self,
        id: &'static str,
        status: Status,
        message: (String, String),
        fix: (String, String),
    ) {
        self.push(id, status, message);
        let fix = self.t(fix.0, fix.1);
        if let Some(last) = self.checks.last_mut() {
            last.fix = Some(fix);
        }
    }
}

/// Runs every check.
pub fn run(context: &Context) -> Report {
    let mut b = Builder {
        language: context.language,
        checks: Vec::new(),
    };
    let service = TokenService::load(&context.selection);
    check_modules(&mut b, &service);
    check_tokens(&mut b, &service, context.now);
    check_local_tls(&mut b, context);
    check_trust(&mut b, context);
    check_agent(&mut b, context);
    check_compat_ports(&mut b, context);
    if context.check_clock {
        check_clock(&mut b);
    }
    check_browser_guidance(&mut b);
    let needs_fixing = b.checks.iter().any(|c| c.status == Status::Fail);
    Report {
        checks: b.checks,
        needs_fixing,
    }
}

fn check_modules(b: &mut Builder, service: &TokenService) {
    if service.modules().is_empty() {
        b.push_fix(
            "modules",
            Status::Fail,
            (
                "No token driver (PKCS#11 module) found".into(),
                "Không tìm thấy trình điều khiển token (PKCS#11)".into(),
            ),
            (
                "Install the software from your certificate provider (VNPT-CA, Viettel-CA, BKAV-CA, FPT-CA, ...), or name the module with --module PATH".into(),
                "Cài phần mềm của nhà cung cấp chứng thư số (VNPT-CA, Viettel-CA, BKAV-CA, FPT-CA, ...) hoặc chỉ rõ tệp bằng --module ĐƯỜNG_DẪN".into(),
            ),
        );
    }
    for module in service.modules() {
        let path = module.path.display().to_string();
        match &module.error {
            None => b.push(
                "modules",
                Status::Ok,
                (
                    format!("Token driver loaded: {path}"),
                    format!("Đã nạp trình điều khiển token: {path}"),
                ),
            ),
            Some(error) => b.push_fix(
                "modules",
                Status::Fail,
                (
                    format!("Token driver {path} failed to load: {error}"),
                    format!("Không nạp được trình điều khiển token {path}: {error}"),
                ),
                (
                    "Reinstall the token software from your certificate provider".into(),
                    "Cài lại phần mềm token của nhà cung cấp chứng thư số".into(),
                ),
            ),
        }
    }
}

fn check_tokens(b: &mut Builder, service: &TokenService, now: OffsetDateTime) {
    let tokens = service.tokens().unwrap_or_default();
    if tokens.is_empty() {
        b.push_fix(
            "token",
            Status::Warn,
            ("No token connected".into(), "Chưa cắm token".into()),
            (
                "Plug in your USB token".into(),
                "Hãy cắm USB token vào máy".into(),
            ),
        );
        return;
    }
    for token in &tokens {
        let name = format!("{} ({})", token.token.label, token.token.serial);
        let pin = &token.pin;
        if pin.locked {
            b.push_fix(
                "token",
                Status::Fail,
                (
                    format!("Token {name}: PIN locked"),
                    format!("Token {name}: mã PIN đã bị khóa"),
                ),
                (
                    "Contact your certificate provider (CA) to unlock the PIN".into(),
                    "Liên hệ nhà cung cấp chứng thư số (CA) để mở khóa PIN".into(),
                ),
            );
        } else if pin.final_try || pin.count_low {
            let left = if pin.final_try {
                ("one try", "một lần")
            } else {
                ("few tries", "ít lần")
            };
            b.push_fix(
                "token",
                Status::Warn,
                (
                    format!("Token {name}: only {} left before the PIN locks", left.0),
                    format!(
                        "Token {name}: chỉ còn {} nhập PIN trước khi bị khóa",
                        left.1
                    ),
                ),
                (
                    "Make sure of your PIN before the next try".into(),
                    "Hãy chắc chắn mã PIN trước khi thử lại".into(),
                ),
            );
        } else {
            b.push(
                "token",
                Status::Ok,
                (
                    format!("Token {name}: {} {}", token.manufacturer, token.model),
                    format!("Token {name}: {} {}", token.manufacturer, token.model),
                ),
            );
        }
    }
    for certificate in service.certificates(now).unwrap_or_default() {
        let s = &certificate.summary;
        if s.is_ca {
            continue;
        }
        let name = s.common_name.clone().unwrap_or_else(|| s.subject.clone());
        let until = day(s.not_after);
        if !s.valid_now {
            b.push_fix(
                "certificate",
                Status::Warn,
                (
                    format!("Certificate {name} is not valid now (valid until {until})"),
                    format!("Chứng thư số {name} hiện không còn hiệu lực (hạn đến {until})"),
                ),
                (
                    "Renew it with your certificate provider".into(),
                    "Gia hạn chứng thư số với nhà cung cấp".into(),
                ),
            );
        } else if s.expiring_soon {
            b.push_fix(
                "certificate",
                Status::Warn,
                (
                    format!("Certificate {name} expires on {until}"),
                    format!("Chứng thư số {name} hết hạn ngày {until}"),
                ),
                (
                    "Renew it with your certificate provider before then".into(),
                    "Hãy gia hạn với nhà cung cấp trước ngày đó".into(),
                ),
            );
        } else {
            b.push(
                "certificate",
                Status::Ok,
                (
                    format!("Certificate {name}, valid until {until}"),
                    format!("Chứng thư số {name}, hiệu lực đến {until}"),
                ),
            );
        }
    }
}

/// `dd/MM/yyyy`, as Vietnamese users write dates.
fn day(at: OffsetDateTime) -> String {
    format!("{:02}/{:02}/{}", at.day(), u8::from(at.month()), at.year())
}

fn check_local_tls(b: &mut Builder, context: &Context) {
    let ca = context.data_dir.join("tls").join("ca.pem");
    let leaf = context.data_dir.join("tls").join("localhost.pem");
    if !ca.is_file() || !leaf.is_file() {
        b.push_fix(
            "local_ca",
            Status::Fail,
            (
                "kyso's local HTTPS certificate has not been made yet".into(),
                "Chưa tạo chứng thư HTTPS nội bộ của kyso".into(),
            ),
            (
                "Run `kyso install` (or start kyso once, then `kyso trust install`)".into(),
                "Chạy `kyso install` (hoặc mở kyso một lần rồi chạy `kyso trust install`)".into(),
            ),
        );
        return;
    }
    b.push(
        "local_ca",
        Status::Ok,
        (
            format!("Local CA: {}", ca.display()),
            format!("CA nội bộ: {}", ca.display()),
        ),
    );
}

/// Each browser store: does it trust the current local CA? Read only (`trust::status`).
fn check_trust(b: &mut Builder, context: &Context) {
    let Some(options) = &context.trust else {
        return;
    };
    // No CA yet is already reported by `local_ca`, with `kyso install` as the fix.
    let Ok(ca) = CaCertificate::from_dir(&context.data_dir.join("tls")) else {
        return;
    };
    let fix = || {
        (
            "Run `kyso trust install` (or `kyso install`), then restart the browser".to_owned(),
            "Chạy `kyso trust install` (hoặc `kyso install`) rồi khởi động lại trình duyệt"
                .to_owned(),
        )
    };
    let report = crate::trust::status(&ca, options);
    if report.stores.is_empty() {
        b.push_fix(
            "trust",
            Status::Fail,
            (
                "No browser certificate store trusts kyso's local CA (none found)".into(),
                "Chưa có kho chứng thư nào của trình duyệt tin cậy CA nội bộ của kyso".into(),
            ),
            fix(),
        );
    }
    for store in &report.stores {
        let name = format!("{} ({})", store.store.label(), store.location);
        if let Some(error) = &store.error {
            b.push_fix(
                "trust",
                Status::Fail,
                (
                    format!("{name}: cannot be read: {error}"),
                    format!("{name}: không đọc được: {error}"),
                ),
                fix(),
            );
        } else if !store.trusted {
            b.push_fix(
                "trust",
                Status::Fail,
                (
                    format!(
                        "{name} does not trust kyso's local CA: browsers refuse the connection"
                    ),
                    format!(
                        "{name} chưa tin cậy CA nội bộ của kyso: trình duyệt sẽ từ chối kết nối"
                    ),
                ),
                fix(),
            );
        } else if store.older_kyso_cas > 0 {
            b.push_fix(
                "trust",
                Status::Warn,
                (
                    format!(
                        "{name} trusts kyso's local CA but still holds {} older one(s)",
                        store.older_kyso_cas
                    ),
                    format!(
                        "{name} tin cậy CA nội bộ của kyso nhưng còn {} CA cũ",
                        store.older_kyso_cas
                    ),
                ),
                fix(),
            );
        } else {
            b.push(
                "trust",
                Status::Ok,
                (
                    format!("{name} trusts kyso's local CA"),
                    format!("{name} tin cậy CA nội bộ của kyso"),
                ),
            );
        }
    }
}

fn check_agent(b: &mut Builder, context: &Context) {
    let running = crate::desktop::instance::AgentFile::read(&context.data_dir);
    let port = running.as_ref().map_or(context.config.port, |a| a.port);
    let ca = context.data_dir.join("tls").join("ca.pem");
    let token = std::fs::read_to_string(context.config_dir.join("api-token")).ok();
    match (running, probe_agent(port, &ca, token.as_deref())) {
        (_, AgentProbe::Answered { version }) => b.push(
            "agent",
            Status::Ok,
            (
                format!("kyso {version} answers on https://localhost:{port} with the local CA"),
                format!("kyso {version} đang chạy tại https://localhost:{port} với CA nội bộ"),
            ),
        ),
        (Some(agent), failure) => b.push_fix(
            "agent",
            Status::Fail,
            (
                format!(
                    "kyso (pid {}) should answer on port {port} but does not: {failure}",
                    agent.pid
                ),
                format!(
                    "kyso (pid {}) lẽ ra chạy ở cổng {port} nhưng không trả lời: {failure}",
                    agent.pid
                ),
            ),
            (
                "Quit kyso from its tray icon and start it again".into(),
                "Thoát kyso từ biểu tượng ở khay hệ thống rồi mở lại".into(),
            ),
        ),
        (None, _) if probes::port_free(port) => b.push_fix(
            "agent",
            Status::Warn,
            (
                format!("kyso is not running; port {port} is free for it"),
                format!("kyso chưa chạy; cổng {port} đang trống"),
            ),
            (
                "Start kyso (it starts at login after `kyso install`)".into(),
                "Mở kyso (sau `kyso install` kyso tự chạy khi đăng nhập)".into(),
            ),
        ),
        (None, _) => b.push_fix(
            "agent",
            Status::Fail,
            (
                format!("Port {port} is used by another program"),
                format!("Cổng {port} đang bị chương trình khác sử dụng"),
            ),
            (
                "Close that program, or set another `port` in kyso's config.toml".into(),
                "Đóng chương trình đó, hoặc đặt `port` khác trong config.toml của kyso".into(),
            ),
        ),
    }
}

fn check_compat_ports(b: &mut Builder, context: &Context) {
    let compat = crate::compat::vnpt::status::report(&context.config, &context.data_dir);
    if compat.enabled {
        let status = if compat.all_taken() {
            Status::Warn
        } else if compat.port.is_some() {
            Status::Ok
        } else {
            Status::Info
        };
        b.push("compat_vnpt", status, (compat.message, compat.message_vi));
    }
    // The VNPT-CA plugin family's ports, which kyso's compatibility listener also uses.
    for port in crate::compat::vnpt::DEFAULT_PORTS {
        if compat.port != Some(port) && !probes::port_free(port) {
            b.push(
                "compat_ports",
                Status::Info,
                (
                    format!("Port {port} is in use, probably by a CA's own signing plugin"),
                    format!("Cổng {port} đang được dùng, có thể bởi plugin ký số của nhà cung cấp"),
                ),
            );
        }
    }
}

fn check_clock(b: &mut Builder) {
    match sntp_offset("pool.ntp.org:123") {
        Ok(offset) if offset.abs() > 300.0 => b.push_fix(
            "clock",
            Status::Fail,
            (
                format!("The computer's clock is off by {offset:.0} seconds"),
                format!("Đồng hồ máy tính lệch {offset:.0} giây"),
            ),
            (
                "Turn on automatic time in the system settings: signatures carry the signing time"
                    .into(),
                "Bật đặt giờ tự động trong cài đặt hệ thống: chữ ký ghi lại thời điểm ký".into(),
            ),
        ),
        Ok(offset) => b.push(
            "clock",
            Status::Ok,
            (
                format!("Clock within {:.1} s of pool.ntp.org", offset.abs()),
                format!("Đồng hồ lệch {:.1} giây so với pool.ntp.org", offset.abs()),
            ),
        ),
        Err(e) => b.push(
            "clock",
            Status::Info,
            (
                format!("Could not compare the clock with a time server: {e}"),
                format!("Không so được đồng hồ với máy chủ thời gian: {e}"),
            ),
        ),
    }
}

fn check_browser_guidance(b: &mut Builder) {
    b.push(
        "browser",
        Status::Info,
        (
            "Chrome/Edge 142+ ask \"allow this site to access devices on your local network\" the first time a portal reaches kyso: choose Allow. Administrators can allow portals with the policy LocalNetworkAccessAllowedForUrls.".into(),
            "Chrome/Edge 142+ sẽ hỏi \"cho phép trang truy cập thiết bị trong mạng cục bộ\" lần đầu cổng dịch vụ gọi kyso: hãy chọn Cho phép. Quản trị viên có thể cho phép sẵn bằng chính sách LocalNetworkAccessAllowedForUrls.".into(),
        ),
    );
}
