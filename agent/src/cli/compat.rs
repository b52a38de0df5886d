//! `kyso compat vnpt on|off|status`.

use super::{bad_request, io_error, output, CliError, CompatAction, CompatVnptArgs};
use crate::{compat::vnpt::status, config::Config};

pub(super) fn vnpt(args: &CompatVnptArgs) -> Result<(), CliError> {
    let config_dir = crate::paths::config_dir().ok_or_else(|| bad_request("no config folder"))?;
    let data_dir = crate::paths::data_dir().ok_or_else(|| bad_request("no data folder"))?;
    let config_path = config_dir.join("config.toml");
    match args.action {
        CompatAction::On | CompatAction::Off => {
            let on = args.action == CompatAction::On;
            crate::config::save_key(
                &config_path,
                "vnpt_compat",
                if on { "true" } else { "false" },
            )
            .map_err(|e| io_error(&config_path, e))?;
            let running = crate::desktop::instance::AgentFile::read(&data_dir).is_some();
            eprintln!(
                "Tương thích VNPT-CA / VNPT-CA compatibility: {}{}",
                if on { "bật / on" } else { "tắt / off" },
                if running {
                    " — khởi động lại kyso để áp dụng / restart kyso to apply"
                } else {
                    ""
                }
            );
            Ok(())
        }
        CompatAction::Status => {
            let config = Config::load_or_default(&config_path);
            let report = status::report(&config, &data_dir);
            if args.json {
                output::print_json(&report);
            } else {
                println!("{}", report.message_vi);
                println!("{}", report.message);
            }
            Ok(())
        }
    }
}
