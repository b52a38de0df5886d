//! The `kyso` binary: parse arguments, set up logging, run the command.
//!
//! On Windows it is a GUI-subsystem program, so no console window opens when it starts at
//! login; from a terminal it attaches to that console (`kyso::desktop::console`).

#![cfg_attr(windows, windows_subsystem = "windows")]

use std::process::ExitCode;

use clap::Parser;
use kyso::cli::{log_dir, run, Cli};

fn main() -> ExitCode {
    kyso::desktop::console::attach_parent_console();
    let cli = Cli::parse();
    kyso::logging::init(cli.global.verbose, log_dir(&cli).as_deref());
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
