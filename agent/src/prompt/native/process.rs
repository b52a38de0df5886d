//! Running one dialog program: find it, feed it, wait for it at most the timeout, kill it
//! after, and read its answer into memory that is wiped when dropped.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::prompt::PromptError;

/// How often a running dialog is checked for an answer.
const POLL: Duration = Duration::from_millis(25);

/// A dialog's answer: its exit code (`None` when killed by a signal) and standard output.
pub(super) struct Reply {
    pub code: Option<i32>,
    pub stdout: Zeroizing<String>,
}

/// The executable file `name` in one of the folders of `path`.
pub(super) fn find_program(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs `command` (standard input `input`, if any), waits for it up to `timeout` and kills it
/// after. Standard error is discarded: GTK and Qt print warnings there, never answers.
pub(super) fn run(
    mut command: Command,
    input: Option<&str>,
    timeout: Duration,
) -> Result<Reply, PromptError> {
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn()?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        // Dropping `stdin` closes it, so the program sees the end of its script.
        stdin.write_all(input.as_bytes())?;
    }
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() >= timeout {
            // Kill errors only mean it just exited; wait reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
            return Err(PromptError::Timeout);
        }
        std::thread::sleep(POLL);
    };
    // Dialogs print a line or two: it fits the pipe buffer, so reading after the exit is safe.
    let mut bytes = Zeroizing::new(Vec::new());
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_end(&mut bytes)?;
    }
    Ok(Reply {
        code: status.code(),
        stdout: Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned()),
    })
}

/// The first line of `text` without its line ending, wiped when dropped.
pub(super) fn first_line(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.lines().next().unwrap_or_default().to_owned())
}
