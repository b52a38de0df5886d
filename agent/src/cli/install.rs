//! `kyso install` / `kyso uninstall`: set kyso up for this user, or undo it.

use super::{bad_request, io_error, output, trust, CliError, InstallArgs, UninstallArgs};
use crate::desktop::install::{self, InstallPaths};
use crate::trust::TrustOptions;

fn paths() -> Result<(InstallPaths, TrustOptions), CliError> {
    let data_dir = crate::paths::data_dir().ok_or_else(|| bad_request("no data folder"))?;
    let config_dir = crate::paths::config_dir().ok_or_else(|| bad_request("no config folder"))?;
    let options = TrustOptions::for_current_user(false)
        .ok_or_else(|| bad_request("no home folder for this user"))?;
    let program = std::env::current_exe().map_err(|e| io_error(std::path::Path::new("kyso"), e))?;
    Ok((
        InstallPaths {
            data_dir,
            config_dir,
            program,
        },
        options,
    ))
}

pub(super) fn install(args: &InstallArgs) -> Result<(), CliError> {
    let (paths, options) = paths()?;
    let report = install::install(&paths, &options, time::OffsetDateTime::now_utc())?;
    if args.json {
        output::print_json(&report);
    } else {
        if report.new_ca {
            println!("Đã tạo CA cục bộ mới / Made a new local CA");
        }
        trust::print_report(&report.trust);
        println!(
            "Chạy khi đăng nhập / Start at login: {} ({})",
            on_off(report.autostart.enabled),
            report.autostart.location
        );
    }
    trust::fail_if_any_store_failed(&report.trust)?;
    if !args.json {
        eprintln!(
            "Đã cài đặt kyso / kyso is installed. Khởi động lại trình duyệt nếu đang mở / Restart open browsers."
        );
    }
    Ok(())
}

pub(super) fn uninstall(args: &UninstallArgs) -> Result<(), CliError> {
    let (paths, options) = paths()?;
    let report = install::uninstall(&paths, &options, args.purge)?;
    if args.json {
        output::print_json(&report);
    } else {
        trust::print_report(&report.trust);
        println!(
            "Chạy khi đăng nhập / Start at login: {} ({})",
            on_off(report.autostart.enabled),
            report.autostart.location
        );
        for path in &report.removed {
            println!("  Đã xóa / removed: {}", path.display());
        }
        for path in &report.kept {
            println!(
                "  Giữ lại (xóa bằng --purge) / kept (remove with --purge): {}",
                path.display()
            );
        }
    }
    trust::fail_if_any_store_failed(&report.trust)?;
    if !args.json {
        eprintln!("Đã gỡ kyso / kyso is uninstalled.");
    }
    Ok(())
}

fn on_off(on: bool) -> &'static str {
    if on {
        "bật / on"
    } else {
        "tắt / off"
    }
}
