//! `kyso sign pdf`: checks the PDF before asking for the PIN, then streams the signed copy to
//! a temporary file beside the output and renames it into place.

use std::{
    fs::File,
    io::{BufReader, BufWriter, Write},
};

use super::{bad_request, io_error, output, unlocked_key, CliError, SignPdfArgs};
use crate::{
    formats::pdf::{self, PdfSignOptions, VisibleOptions},
    token::{ModuleSelection, TokenService},
};

/// Signs `args.input` into `args.output`.
pub(super) fn sign(selection: &ModuleSelection, args: &SignPdfArgs) -> Result<(), CliError> {
    output::refuse_overwriting_input(&args.input, &args.output)?;
    let options = options(args)?;
    let open = || {
        File::open(&args.input)
            .map(BufReader::new)
            .map_err(|e| io_error(&args.input, e))
    };
    // Loading the token drivers (most of a small PDF's signing time) overlaps checking the
    // PDF; a PDF kyso cannot sign is still refused before any PIN is asked.
    let (service, checked) = std::thread::scope(|scope| {
        let loading = scope.spawn(|| TokenService::load(selection));
        let checked = open().and_then(|input| Ok(pdf::preflight(input, &options)?));
        let service = loading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (service, checked)
    });
    checked?;
    let purpose = format!("PDF {}", args.input.display());
    let key = unlocked_key(&service, &args.key, &purpose)?;
    let signed = output::write_new_file_with(&args.output, |file| {
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        let outcome = pdf::sign_pdf(open()?, &mut out, &key, &options)?;
        out.flush().map_err(|e| io_error(&args.output, e))?;
        Ok(outcome)
    });
    let _ = key.logout();
    let outcome = signed?;
    eprintln!(
        "Đã ký / Signed: {} → {} (field {}, {}, {} bytes)",
        args.input.display(),
        args.output.display(),
        outcome.field,
        outcome.subfilter,
        outcome.bytes_written
    );
    Ok(())
}

fn options(args: &SignPdfArgs) -> Result<PdfSignOptions, CliError> {
    let certify = args
        .certify
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(bad_request)?;
    let visible = if args.visible || args.image.is_some() || args.text.is_some() {
        let rect: Vec<f64> = args
            .rect
            .split(',')
            .map(|v| v.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| bad_request(format!("--rect {}: {e}", args.rect)))?;
        let rect: [f64; 4] = rect
            .try_into()
            .map_err(|_| bad_request("--rect takes four numbers: X1,Y1,X2,Y2"))?;
        let image = args
            .image
            .as_ref()
            .map(|p| std::fs::read(p).map_err(|e| io_error(p, e)))
            .transpose()?;
        Some(VisibleOptions {
            page: args.page.parse().map_err(bad_request)?,
            rect,
            // Shells pass `\n` literally; it means a line break here.
            text: args.text.as_ref().map(|t| t.replace("\\n", "\n")),
            image,
            font_size: args.font_size,
            ..VisibleOptions::default()
        })
    } else {
        None
    };
    Ok(PdfSignOptions {
        field: args.field.clone(),
        reason: args.reason.clone(),
        location: args.location.clone(),
        visible,
        certify,
        legacy_subfilter: args.legacy_subfilter,
        hash: Some(args.hash.clone()),
        pss: args.key.pss,
        ..PdfSignOptions::default()
    })
}
