//! `kyso verify xml` and `kyso verify pdf`: one line (or JSON object) per signature, and a
//! non-zero exit unless the document has signatures and all are intact and trusted.

use std::path::Path;

use kyso_certs::CertificateSummary;

use super::{io_error, output, CliError, VerifyArgs};
use crate::{
    error::{ErrorCode, ErrorReport},
    formats::{pdf, xml},
};

/// What the text report needs from any format's signature report.
struct Verdict<'a> {
    signer: Option<&'a CertificateSummary>,
    intact: bool,
    trusted: bool,
    problems: &'a [String],
}

/// Reads a trusted certificate, PEM or DER.
fn read_certificate(path: &Path) -> Result<Vec<Vec<u8>>, CliError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    if bytes.starts_with(b"-----BEGIN") {
        rustls_pemfile::certs(&mut bytes.as_slice())
            .map(|c| c.map(|c| c.to_vec()).map_err(|e| io_error(path, e)))
            .collect()
    } else {
        Ok(vec![bytes])
    }
}

fn roots(args: &VerifyArgs) -> Result<Vec<Vec<u8>>, CliError> {
    let mut roots = Vec::new();
    for path in &args.trusted {
        roots.extend(read_certificate(path)?);
    }
    Ok(roots)
}

/// Checks every XMLDSig signature of the document.
pub(crate) fn xml(args: &VerifyArgs) -> Result<(), CliError> {
    let data = std::fs::read(&args.input).map_err(|e| io_error(&args.input, e))?;
    let reports = xml::verify_xml(&data, &roots(args)?)?;
    let verdicts: Vec<Verdict<'_>> = reports
        .iter()
        .map(|r| Verdict {
            signer: r.signer.as_ref(),
            intact: r.intact,
            trusted: r.trusted,
            problems: &r.problems,
        })
        .collect();
    report(
        args,
        &reports,
        &verdicts,
        "the document has no XML signature",
    )
}

/// Checks every signature of the PDF, streaming it from the file.
pub(crate) fn pdf(args: &VerifyArgs) -> Result<(), CliError> {
    let file = std::fs::File::open(&args.input).map_err(|e| io_error(&args.input, e))?;
    let reports = pdf::verify_pdf(
        std::io::BufReader::new(file),
        &roots(args)?,
        std::time::SystemTime::now(),
    )?;
    let verdicts: Vec<Verdict<'_>> = reports
        .iter()
        .map(|r| Verdict {
            signer: r.signer.as_ref(),
            intact: r.intact,
            trusted: r.trusted,
            problems: &r.problems,
        })
        .collect();
    let unsigned_tail = !reports.is_empty()
        && !pdf::all_good(&reports)
        && reports.iter().all(|r| r.intact && r.trusted);
    report(args, &reports, &verdicts, "the PDF has no signature")?;
    if unsigned_tail {
        return Err(invalid("changes were added after the last signature"));
    }
    Ok(())
}

fn report<T: serde::Serialize>(
    args: &VerifyArgs,
    reports: &[T],
    verdicts: &[Verdict<'_>],
    when_empty: &str,
) -> Result<(), CliError> {
    if args.json {
        output::print_json(&reports);
    } else {
        print_verdicts(verdicts);
    }
    let bad = verdicts.iter().filter(|v| !(v.intact && v.trusted)).count();
    if verdicts.is_empty() {
        return Err(invalid(when_empty));
    }
    if bad > 0 {
        return Err(invalid(&format!(
            "{bad} of {} signatures failed",
            verdicts.len()
        )));
    }
    Ok(())
}

fn invalid(detail: &str) -> CliError {
    let code = ErrorCode::SignatureInvalid;
    CliError(ErrorReport {
        code,
        message: code.message_en().into(),
        message_vi: code.message_vi().into(),
        detail: detail.into(),
    })
}

fn print_verdicts(verdicts: &[Verdict<'_>]) {
    for (i, verdict) in verdicts.iter().enumerate() {
        let signer = verdict
            .signer
            .map(|s| s.common_name.clone().unwrap_or_else(|| s.subject.clone()))
            .unwrap_or_else(|| "?".into());
        let text = match (verdict.intact, verdict.trusted) {
            (true, true) => "nguyên vẹn, tin cậy / intact, trusted",
            (true, false) => "nguyên vẹn, KHÔNG tin cậy / intact, NOT trusted",
            _ => "HỎNG / BROKEN",
        };
        println!("#{} {signer}: {text}", i + 1);
        for problem in verdict.problems {
            println!("    {problem}");
        }
    }
}
