//! The command-line interface: turns parsed arguments into calls on the library and prints
//! results. Errors come back as [`CliError`], which `main` prints with their stable code.

mod args;
mod compat;
mod demo;
mod doctor;
mod install;
mod output;
mod pdf;
mod serve;
mod trust;
mod verify;
mod xml;

use std::path::{Path, PathBuf};

use base64::Engine;
use secrecy::SecretString;
use serde::Serialize;

pub use args::*;

use crate::{
    error::{Coded, ErrorCode, ErrorReport},
    formats::cms,
    prompt::{PinFilePrompter, PinRequest, Prompter, TerminalPrompter},
    signer::{HashAlgorithm, SignInput, SignatureScheme, Signer},
    token::{ModuleSelection, TokenKey, TokenService},
};

/// A failed command: the coded error behind it.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.detail)]
pub struct CliError(pub ErrorReport);

impl<E: Coded + 'static> From<E> for CliError {
    fn from(error: E) -> Self {
        Self(ErrorReport::from_error(&error))
    }
}

pub(crate) fn bad_request(detail: impl Into<String>) -> CliError {
    let code = ErrorCode::BadRequest;
    CliError(ErrorReport {
        code,
        message: code.message_en().into(),
        message_vi: code.message_vi().into(),
        detail: detail.into(),
    })
}

pub(crate) fn io_error(path: &Path, error: std::io::Error) -> CliError {
    let code = ErrorCode::Io;
    CliError(ErrorReport {
        code,
        message: code.message_en().into(),
        message_vi: code.message_vi().into(),
        detail: format!("{}: {error}", path.display()),
    })
}

/// Where the file log goes: only the long-running agent (`kyso` alone, `kyso serve`) keeps one.
pub fn log_dir(cli: &Cli) -> Option<PathBuf> {
    match cli.command {
        None | Some(Command::Serve(_)) => crate::paths::data_dir().map(|dir| dir.join("logs")),
        _ => None,
    }
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let selection = ModuleSelection {
        named: cli.global.modules.clone(),
        discover: !cli.global.no_discover,
    };
    let Some(command) = cli.command else {
        return serve::run(&selection, &ServeArgs::default_agent());
    };
    match command {
        Command::Tokens(args) => tokens(&TokenService::load(&selection), &args),
        Command::Certs(args) => certs(&TokenService::load(&selection), &args),
        Command::Sign(SignCommand::Cms(args)) => sign_cms(&selection, &args),
        Command::Sign(SignCommand::Hash(args)) => sign_hash(&selection, &args),
        Command::Sign(SignCommand::Pdf(args)) => pdf::sign(&selection, &args),
        Command::Demo(args) => demo::run(&args),
        Command::Serve(args) => serve::run(&selection, &args),
        Command::Doctor(args) => doctor::run(selection, &args),
        Command::Trust(command) => trust::run(&command),
        Command::Sign(SignCommand::Xml(args)) => xml::sign(&selection, &args),
        Command::Verify(VerifyCommand::Xml(args)) => verify::xml(&args),
        Command::Verify(VerifyCommand::Pdf(args)) => verify::pdf(&args),
        Command::Install(args) => install::install(&args),
        Command::Uninstall(args) => install::uninstall(&args),
        Command::Compat(CompatCommand::Vnpt(args)) => compat::vnpt(&args),
    }
}

fn report_module_failures(service: &TokenService) {
    for status in service.modules() {
        if let Some(error) = &status.error {
            eprintln!(
                "{}: {} ({error})",
                ErrorCode::ModuleLoadFailed,
                status.path.display()
            );
        }
    }
}

fn tokens(service: &TokenService, args: &ListArgs) -> Result<(), CliError> {
    report_module_failures(service);
    let tokens = service.tokens()?;
    if args.json {
        output::print_json(&tokens);
    } else {
        output::print_tokens(&tokens);
    }
    Ok(())
}

/// Lists certificates; also used by the demo.
pub(crate) fn certs(service: &TokenService, args: &ListArgs) -> Result<(), CliError> {
    report_module_failures(service);
    let certificates = service.certificates(time::OffsetDateTime::now_utc())?;
    if args.json {
        output::print_json(&certificates);
    } else {
        output::print_certificates(&certificates);
    }
    Ok(())
}

fn prompter(pin_file: Option<&PathBuf>) -> Box<dyn Prompter> {
    match pin_file {
        Some(path) => Box::new(PinFilePrompter::new(path.clone())),
        None => Box::new(TerminalPrompter),
    }
}

/// Looks up the key and logs in, asking for the PIN the way the user chose.
pub(crate) fn unlocked_key(
    service: &TokenService,
    key_args: &KeyArgs,
    purpose: &str,
) -> Result<TokenKey, CliError> {
    report_module_failures(service);
    let key = service.key(key_args.cert.as_deref())?;
    let prompter = prompter(key_args.pin_file.as_ref());
    let summary = key.summary().clone();
    let label = key.token().token.label.clone();
    key.ensure_login(|pin| -> Result<SecretString, crate::prompt::PromptError> {
        prompter.pin(&PinRequest {
            certificate: &summary,
            token_label: &label,
            pin: *pin,
            origin: None,
            purpose,
        })
    })?;
    Ok(key)
}

fn scheme(key: &TokenKey, pss: bool) -> SignatureScheme {
    if pss {
        SignatureScheme::RsaPss
    } else {
        SignatureScheme::default_for(key.key_kind())
    }
}

fn sign_cms(selection: &ModuleSelection, args: &SignCmsArgs) -> Result<(), CliError> {
    let hash = HashAlgorithm::parse(&args.hash)
        .ok_or_else(|| bad_request(format!("unknown hash {}", args.hash)))?;
    let data = std::fs::read(&args.input).map_err(|e| io_error(&args.input, e))?;
    output::refuse_overwriting_input(&args.input, &args.output)?;
    let service = TokenService::load(selection);
    let purpose = format!(
        "{} ({} bytes, SHA-256 {}…)",
        args.input.display(),
        data.len(),
        &hex::encode(HashAlgorithm::Sha256.digest(&data))[..16]
    );
    let key = unlocked_key(&service, &args.key, &purpose)?;
    let request = cms::CmsRequest {
        hash,
        scheme: Some(scheme(&key, args.key.pss)),
        ..cms::CmsRequest::default()
    };
    let content = if args.attached {
        cms::Content::Attached(&data)
    } else {
        cms::Content::Detached(&data)
    };
    let signature = cms::sign(&key, content, &request);
    let _ = key.logout();
    output::write_new_file(&args.output, &signature?)?;
    eprintln!(
        "Đã ký / Signed: {} → {} ({})",
        args.input.display(),
        args.output.display(),
        key.summary()
            .common_name
            .as_deref()
            .unwrap_or(&key.summary().subject)
    );
    Ok(())
}

/// The answer of `kyso sign hash`, shaped like the API's `POST /v1/sign/hash`.
#[derive(Debug, Serialize)]
struct HashSignature {
    signature: String,
    signature_algorithm: String,
    certificate: String,
}

fn sign_hash(selection: &ModuleSelection, args: &SignHashArgs) -> Result<(), CliError> {
    let hash = HashAlgorithm::parse(&args.algorithm)
        .ok_or_else(|| bad_request(format!("unknown algorithm {}", args.algorithm)))?;
    let digest =
        hex::decode(args.digest.trim()).map_err(|e| bad_request(format!("digest: {e}")))?;
    if digest.len() != hash.output_len() {
        return Err(bad_request(format!(
            "a {hash} digest is {} bytes, got {}",
            hash.output_len(),
            digest.len()
        )));
    }
    let service = TokenService::load(selection);
    let purpose = format!(
        "{hash} digest {}…",
        &args.digest[..16.min(args.digest.len())]
    );
    let key = unlocked_key(&service, &args.key, &purpose)?;
    let scheme = scheme(&key, args.key.pss);
    let signature = key.sign(scheme, hash, SignInput::Digest(&digest));
    let _ = key.logout();
    let signature = signature?;
    if let Some(path) = &args.output {
        output::write_new_file(path, &signature)?;
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    output::print_json(&HashSignature {
        signature: b64.encode(&signature),
        signature_algorithm: scheme.describe(hash),
        certificate: b64.encode(key.certificate()),
    });
    Ok(())
}
