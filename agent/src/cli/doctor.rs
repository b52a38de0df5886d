//! `kyso doctor`: print the checks with their fixes; fail when something needs fixing.

use super::{bad_request, CliError, DoctorArgs};
use crate::{
    config::Config,
    doctor::{self, Context, Status},
    error::{ErrorCode, ErrorReport},
    token::ModuleSelection,
};

pub(super) fn run(selection: ModuleSelection, args: &DoctorArgs) -> Result<(), CliError> {
    let config_dir = crate::paths::config_dir().ok_or_else(|| bad_request("no config folder"))?;
    let data_dir = crate::paths::data_dir().ok_or_else(|| bad_request("no data folder"))?;
    let config = Config::load_or_default(&config_dir.join("config.toml"));
    let context = Context {
        selection,
        language: config.language(),
        data_dir,
        config_dir,
        config,
        now: time::OffsetDateTime::now_utc(),
        check_clock: !args.offline,
        trust: crate::trust::TrustOptions::for_current_user(false),
    };
    let report = doctor::run(&context);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        for check in &report.checks {
            let mark = match check.status {
                Status::Ok => "✓",
                Status::Warn => "!",
                Status::Fail => "✗",
                Status::Info => "i",
            };
            println!("{mark} {}", check.message);
            if let Some(fix) = &check.fix {
                println!("    → {fix}");
            }
        }
    }
    if report.needs_fixing {
        let code = ErrorCode::DoctorFoundProblems;
        return Err(CliError(ErrorReport {
            code,
            message: code.message_en().into(),
            message_vi: code.message_vi().into(),
            detail: format!(
                "{} check(s) failed",
                report
                    .checks
                    .iter()
                    .filter(|c| c.status == Status::Fail)
                    .count()
            ),
        }));
    }
    Ok(())
}
