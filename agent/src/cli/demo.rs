//! `kyso demo`: provision the demo token, list it, and sign a sample file with it.

use secrecy::SecretString;

use super::{bad_request, certs, output, CliError, DemoArgs, ListArgs};
use crate::{
    demo,
    formats::cms,
    token::{ModuleSelection, TokenService},
};

const SAMPLE: &str =
    "Tờ khai mẫu — kyso demo.\nNgười nộp thuế: CÔNG TY TNHH KÝ SỐ VIỆT NAM (MST 0104359717-001)\n";

pub(super) fn run(args: &DemoArgs) -> Result<(), CliError> {
    let data_dir = crate::paths::data_dir().ok_or_else(|| bad_request("no data folder"))?;
    let token = demo::ensure(&data_dir.join("demo-token"), args.reset)?;
    println!(
        "Demo token \"{}\" (PIN {}) in {}",
        demo::DEMO_TOKEN_LABEL,
        demo::DEMO_USER_PIN,
        token.dir.display()
    );
    let service = TokenService::load(&ModuleSelection {
        named: vec![token.module.clone()],
        discover: false,
    });
    certs(&service, &ListArgs { json: false })?;

    let certificates = service.certificates(time::OffsetDateTime::now_utc())?;
    let company = certificates
        .iter()
        .find(|c| c.summary.identifiers.contains_key("MST") && c.summary.can_sign)
        .ok_or_else(|| bad_request("demo token has no company certificate"))?;
    let key = service.key(Some(&company.summary.thumbprint))?;
    key.login(Some(SecretString::from(demo::DEMO_USER_PIN)))?;
    let sample_path = token.dir.join("sample.txt");
    let signature_path = token.dir.join("sample.txt.p7s");
    output::write_new_file(&sample_path, SAMPLE.as_bytes())?;
    let signature = cms::sign(
        &key,
        cms::Content::Detached(SAMPLE.as_bytes()),
        &cms::CmsRequest::default(),
    );
    let _ = key.logout();
    output::write_new_file(&signature_path, &signature?)?;
    println!(
        "Signed {} → {}\nCheck it with OpenSSL:\n  openssl cms -verify -binary -inform DER -in {} -content {} -CAfile {} -purpose any -out /dev/null",
        sample_path.display(),
        signature_path.display(),
        signature_path.display(),
        sample_path.display(),
        token.root_pem().display()
    );
    Ok(())
}
