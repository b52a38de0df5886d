//! Printing results and writing output files safely.

use std::{io::Write, path::Path};

use serde::Serialize;

use super::{io_error, CliError};
use crate::token::{TokenCertificate, TokenInfo};

/// Prints `value` as pretty JSON on standard output.
pub(crate) fn print_json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("{e}"),
    }
}

pub(crate) fn print_tokens(tokens: &[TokenInfo]) {
    if tokens.is_empty() {
        println!("Không có token nào / No token connected.");
    }
    for token in tokens {
        let mut flags = Vec::new();
        if token.pin.locked {
            flags.push("PIN LOCKED");
        }
        if token.pin.final_try {
            flags.push("final PIN try");
        } else if token.pin.count_low {
            flags.push("PIN count low");
        }
        if token.pin.pin_pad {
            flags.push("PIN pad");
        }
        println!(
            "{}  serial {}  {} {}  [{}]  {}",
            token.token.label,
            token.token.serial,
            token.manufacturer,
            token.model,
            flags.join(", "),
            token.module.display()
        );
    }
}

pub(crate) fn print_certificates(certificates: &[TokenCertificate]) {
    if certificates.is_empty() {
        println!("Không có chứng thư số nào / No certificates found.");
    }
    for cert in certificates {
        let s = &cert.summary;
        let ids = s
            .identifiers
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let validity = if !s.valid_now {
            "HẾT HẠN/EXPIRED"
        } else if s.expiring_soon {
            "sắp hết hạn/expiring soon"
        } else {
            "còn hạn/valid"
        };
        println!(
            "{}\n  {}  {}\n  issuer: {}\n  {} → {} ({validity})  {}  {}\n  token: {}\n",
            s.thumbprint,
            s.common_name.as_deref().unwrap_or(&s.subject),
            ids,
            s.issuer_common_name.as_deref().unwrap_or(&s.issuer),
            s.not_before.date(),
            s.not_after.date(),
            s.key,
            if s.can_sign {
                "can sign"
            } else {
                "cannot sign"
            },
            cert.token
        );
    }
}

/// Refuses an output path that is the input itself: inputs are never modified.
pub(crate) fn refuse_overwriting_input(input: &Path, output: &Path) -> Result<(), CliError> {
    let same = match (std::fs::canonicalize(input), std::fs::canonicalize(output)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(super::bad_request(format!(
            "output {} is the input file; choose another name",
            output.display()
        )));
    }
    Ok(())
}

/// Writes `data` to a temporary file beside `path` and renames it into place, so a failure
/// never leaves a half-written signature behind.
pub(crate) fn write_new_file(path: &Path, data: &[u8]) -> Result<(), CliError> {
    write_new_file_with(path, |file| {
        file.write_all(data).map_err(|e| io_error(path, e))
    })
}

/// [`write_new_file`] with the content written by `write` (which may fail with its own
/// error), so a large output is streamed to the file instead of being built in memory first.
pub(crate) fn write_new_file_with<T>(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io_error(path, e))?;
    let value = write(temp.as_file_mut())?;
    temp.persist(path).map_err(|e| io_error(path, e.error))?;
    Ok(value)
}
