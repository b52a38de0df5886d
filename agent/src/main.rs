//! The `kyso` binary: parse arguments, set up logging, run the command.

use std::{io::IsTerminal, process::ExitCode};

use clap::Parser;
use kyso::cli::{run, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.global.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KYSO_LOG")
                // cryptoki logs every vendor mechanism it has no name for as an error.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new(format!("{level},cryptoki::mechanism=off"))
                }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let report = error.0;
            eprintln!("{}: {}", report.code, report.message_vi);
            eprintln!("{}: {}", report.code, report.message);
            eprintln!("  ({})", report.detail);
            ExitCode::FAILURE
        }
    }
}
