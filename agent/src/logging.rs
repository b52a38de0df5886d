//! Log output: standard error for every command; for the long-running agent also a file in
//! `<data_dir>/logs/` that rotates daily and keeps a week, so support can ask for it and it never
//! fills the disk. PINs and document contents are never logged anywhere (see `broker::audit`).

use std::{io::IsTerminal, path::Path};

use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

/// Days of log files kept.
const KEEP_FILES: usize = 7;

fn filter(verbose: u8) -> EnvFilter {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    EnvFilter::try_from_env("KYSO_LOG")
        // cryptoki logs every vendor mechanism it has no name for as an error.
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},cryptoki::mechanism=off")))
}

/// Installs the global logger. With `file_dir`, the agent's file log (at info level at least)
/// is added; a folder that cannot be created only loses the file log, with a warning.
pub fn init(verbose: u8, file_dir: Option<&Path>) {
    let stderr = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter(verbose));
    let mut file_error = None;
    let file = file_dir.and_then(|dir| {
        if let Err(e) = crate::paths::create_private_dir(dir) {
            file_error = Some(format!("{}: {e}", dir.display()));
            return None;
        }
        let appender = tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("kyso")
            .filename_suffix("log")
            .max_log_files(KEEP_FILES)
            .build(dir);
        match appender {
            Ok(appender) => Some(
                fmt::layer()
                    .with_writer(appender)
                    .with_ansi(false)
                    .with_filter(filter(verbose.max(1))),
            ),
            Err(e) => {
                file_error = Some(format!("{}: {e}", dir.display()));
                None
            }
        }
    });
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .init();
    if let Some(error) = file_error {
        tracing::warn!(%error, "no log file");
    }
}
