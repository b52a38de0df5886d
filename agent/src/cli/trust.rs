//! `kyso trust install | uninstall | status`.

use super::{bad_request, output, CliError, TrustCommand};
use crate::tls::{self, TlsFiles};
use crate::trust::{self, CaCertificate, TrustError, TrustOptions, TrustReport};

pub(super) fn run(command: &TrustCommand) -> Result<(), CliError> {
    let system = match command {
        TrustCommand::Install(args) | TrustCommand::Uninstall(args) => args.system,
        TrustCommand::Status(args) => args.system,
    };
    let options = TrustOptions::for_current_user(system)
        .ok_or_else(|| bad_request("no home folder for this user"))?;
    let files = tls_files()?;
    let ca = CaCertificate::from_files(&files)?;
    match command {
        TrustCommand::Install(_) => {
            let report = trust::install(&ca, &options);
            print_report(&report);
            fail_if_any_store_failed(&report)?;
            if report.trusted {
                eprintln!(
                    "Đã tin cậy / Trusted. Khởi động lại trình duyệt nếu đang mở / Restart open browsers."
                );
            }
            Ok(())
        }
        TrustCommand::Uninstall(_) => {
            let report = trust::uninstall(&ca, &options);
            print_report(&report);
            fail_if_any_store_failed(&report)
        }
        TrustCommand::Status(args) => {
            let report = trust::status(&ca, &options);
            if args.json {
                output::print_json(&report);
            } else {
                print_report(&report);
            }
            Ok(())
        }
    }
}

/// The local TLS files, made (or renewed) if needed, exactly as `kyso serve` would, so the CA
/// trusted here is the one the agent serves with.
fn tls_files() -> Result<TlsFiles, CliError> {
    let data_dir = crate::paths::data_dir().ok_or_else(|| bad_request("no data folder"))?;
    let files = tls::ensure_local_tls(&data_dir.join("tls"), time::OffsetDateTime::now_utc())?;
    if files.renewed {
        eprintln!(
            "kyso: đã tạo CA cục bộ mới / made a new local CA ({})",
            files.ca_pem.display()
        );
    }
    Ok(files)
}

pub(super) fn fail_if_any_store_failed(report: &TrustReport) -> Result<(), CliError> {
    match report.failures().count() {
        0 => Ok(()),
        failed => Err(TrustError::Stores { failed }.into()),
    }
}

pub(super) fn print_report(report: &TrustReport) {
    println!(
        "kyso local CA: {} (SHA-256 {})",
        report.ca_path.display(),
        report.ca_thumbprint
    );
    if report.stores.is_empty() {
        println!("  Không tìm thấy kho chứng thư nào / no certificate store found");
    }
    for store in &report.stores {
        let state = if store.trusted {
            "tin cậy / trusted"
        } else {
            "CHƯA tin cậy / NOT trusted"
        };
        println!(
            "  {:<24} {:<28} {}",
            store.store.label(),
            state,
            store.location
        );
        if store.older_kyso_cas > 0 {
            println!(
                "    có {n} CA kyso cũ (đã gia hạn) / holds {n} older kyso CA(s) from before a renewal: run `kyso trust install`",
                n = store.older_kyso_cas
            );
        }
        if let Some(error) = &store.error {
            println!("    lỗi / error: {error}");
        }
    }
}
