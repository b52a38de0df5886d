//! `kyso sign xml`.

use super::{bad_request, io_error, output, unlocked_key, CliError, SignXmlArgs};
use crate::{
    formats::xml::{self, Canonicalization, Digest, XmlSignOptions},
    signer::HashAlgorithm,
    token::{ModuleSelection, TokenService},
};

fn digest(name: &str) -> Result<Digest, CliError> {
    match name {
        "sha1" => Ok(Digest::Sha1),
        "sha256" => Ok(Digest::Sha256),
        "sha512" => Ok(Digest::Sha512),
        other => Err(bad_request(format!("unknown digest {other}"))),
    }
}

fn options(args: &SignXmlArgs) -> Result<XmlSignOptions, CliError> {
    if args.key.pss {
        return Err(bad_request(
            "XMLDSig portals do not accept RSA-PSS; drop --pss",
        ));
    }
    let c14n = match args.c14n.as_str() {
        "inclusive-comments" => Canonicalization::InclusiveComments,
        "exclusive" => Canonicalization::Exclusive,
        _ => Canonicalization::Inclusive,
    };
    Ok(XmlSignOptions {
        node_id: args.node_id.clone(),
        into: args.into.clone(),
        into_parent: args.into_parent.clone(),
        c14n,
        digest: digest(&args.digest)?,
        signature_hash: args.signature_hash.as_deref().map(digest).transpose()?,
        prefix: args.prefix.clone(),
        include_chain: args.chain,
        issuer_serial: args.issuer_serial,
        subject_name: args.subject_name,
        signing_time: args.signing_time,
    })
}

/// Signs the document. The document is parsed, checked against the options (target Id,
/// placement) and digested before the token is loaded, so a typo never costs a PIN entry;
/// the signed document is streamed to the output file, never built in memory.
pub(crate) fn sign(selection: &ModuleSelection, args: &SignXmlArgs) -> Result<(), CliError> {
    let options = options(args)?;
    let data = std::fs::read(&args.input).map_err(|e| io_error(&args.input, e))?;
    output::refuse_overwriting_input(&args.input, &args.output)?;
    let prepared = xml::prepare(data.as_slice(), &options)?;
    let service = TokenService::load(selection);
    let purpose = format!(
        "{} ({} bytes, SHA-256 {}…)",
        args.input.display(),
        data.len(),
        &hex::encode(HashAlgorithm::Sha256.digest(&data))[..16]
    );
    let key = unlocked_key(&service, &args.key, &purpose)?;
    let signature = prepared.sign(&key);
    let _ = key.logout();
    let signature = signature?;
    output::write_new_file_with(&args.output, |file| {
        prepared
            .write_signed(&signature, file)
            .map_err(|e| io_error(&args.output, e))
    })?;
    if signature.weak_algorithm {
        eprintln!(
            "Cảnh báo / Warning: SHA-1 đã lỗi thời, chỉ dùng khi cổng thông tin yêu cầu / \
             SHA-1 is obsolete; use it only where the portal demands it."
        );
    }
    eprintln!(
        "Đã ký / Signed: {} → {} ({}, {})",
        args.input.display(),
        args.output.display(),
        key.summary()
            .common_name
            .as_deref()
            .unwrap_or(&key.summary().subject),
        signature.signature_method
    );
    Ok(())
}
