//! Command-line arguments. The spellings are an interface: scripts and tests depend on them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// kyso — ký số: sign with your USB token.
#[derive(Debug, Parser)]
#[command(name = "kyso", version, about, long_about = None)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do; without a command kyso runs the agent for the desktop session.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// A PKCS#11 module (token driver) to load; repeatable. Tried before the known ones.
    #[arg(long = "module", global = true, value_name = "PATH")]
    pub modules: Vec<PathBuf>,
    /// Load only the modules named with --module or KYSO_PKCS11_MODULES.
    #[arg(long, global = true)]
    pub no_discover: bool,
    /// More log output (repeat for even more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The commands.
// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List connected tokens and their PIN state.
    Tokens(ListArgs),
    /// List certificates on connected tokens.
    Certs(ListArgs),
    /// Sign data.
    #[command(subcommand)]
    Sign(SignCommand),
    /// Provision the demo SoftHSM token (in your data folder) and show it working.
    Demo(DemoArgs),
    /// Run the agent: the local HTTPS/WebSocket API web pages call.
    Serve(ServeArgs),
    /// Check drivers, tokens, certificates, local HTTPS and the agent, and say how to fix problems.
    Doctor(DoctorArgs),
    /// Make browsers trust (or stop trusting) kyso's local HTTPS certificate.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Check signatures.
    #[command(subcommand)]
    Verify(VerifyCommand),
    /// Set kyso up for this user: local HTTPS certificate, browser trust, start at login.
    Install(InstallArgs),
    /// Undo `kyso install` (settings and logs are kept unless --purge).
    Uninstall(UninstallArgs),
    /// Answer web pages written for other vendors' signing plugins.
    #[command(subcommand)]
    Compat(CompatCommand),
}

/// `kyso compat`.
#[derive(Debug, Subcommand)]
pub enum CompatCommand {
    /// The VNPT-CA plugin protocol (wss://localhost:4433/plugin, then 4434, 4435).
    Vnpt(CompatVnptArgs),
}

/// `kyso compat vnpt on|off|status`.
#[derive(Debug, Args)]
pub struct CompatVnptArgs {
    /// `on` or `off` (takes effect when kyso next starts), or `status`.
    #[arg(value_enum)]
    pub action: CompatAction,
    /// Print JSON (status).
    #[arg(long)]
    pub json: bool,
}

/// `kyso install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Print JSON for scripts and installers.
    #[arg(long)]
    pub json: bool,
}

/// `kyso uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Also delete kyso's data and config folders (logs, audit log, settings, local CA).
    #[arg(long)]
    pub purge: bool,
    /// Print JSON for scripts and installers.
    #[arg(long)]
    pub json: bool,
}

/// What `kyso compat vnpt` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompatAction {
    /// Turn the listener on.
    On,
    /// Turn the listener off.
    Off,
    /// Say whether it is on and which port it got.
    Status,
}

/// `kyso doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print JSON for support tools.
    #[arg(long)]
    pub json: bool,
    /// Skip checks that need the Internet (the clock comparison with a time server).
    #[arg(long)]
    pub offline: bool,
}

/// Options of the listing commands.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What to sign.
#[derive(Debug, Subcommand)]
pub enum SignCommand {
    /// CMS / CAdES-BES signature of a file.
    Cms(SignCmsArgs),
    /// Raw signature of a digest computed elsewhere.
    Hash(SignHashArgs),
    /// Enveloped XMLDSig signature of an XML document (HTKK, BHXH, e-invoice).
    Xml(SignXmlArgs),
    /// PAdES signature of a PDF, added as an incremental update.
    Pdf(Box<SignPdfArgs>),
}

/// What to check.
#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Check every XMLDSig signature of an XML document.
    Xml(VerifyArgs),
    /// Check every signature of a PDF: intact, signer, trusted, covers the whole file.
    Pdf(VerifyArgs),
}

/// Which key and how to unlock it.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// SHA-256 thumbprint of the certificate to sign with (see `kyso certs`).
    #[arg(long = "cert", value_name = "THUMBPRINT")]
    pub cert: Option<String>,
    /// Read the PIN from this file's first line (`-` for standard input) instead of asking.
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// Use RSA-PSS instead of PKCS#1 v1.5 (RSA keys only).
    #[arg(long)]
    pub pss: bool,
}

/// `kyso sign cms`.
#[derive(Debug, Args)]
pub struct SignCmsArgs {
    /// The file to sign (never modified).
    pub input: PathBuf,
    /// Where to write the DER signature.
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: PathBuf,
    /// Put the content inside the signature (default: detached).
    #[arg(long)]
    pub attached: bool,
    /// Digest algorithm.
    #[arg(long, default_value = "sha256", value_parser = ["sha256", "sha384", "sha512"])]
    pub hash: String,
    /// Key selection and PIN.
    #[command(flatten)]
    pub key: KeyArgs,
}

/// `kyso sign hash`.
#[derive(Debug, Args)]
pub struct SignHashArgs {
    /// Algorithm the digest was made with.
    #[arg(long, default_value = "sha256", value_parser = ["sha1", "sha256", "sha384", "sha512"])]
    pub algorithm: String,
    /// The digest, hex.
    #[arg(long, value_name = "HEX")]
    pub digest: String,
    /// Also write the raw signature bytes to this file.
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: Option<PathBuf>,
    /// Key selection and PIN.
    #[command(flatten)]
    pub key: KeyArgs,
}

/// `kyso sign pdf`.
#[derive(Debug, Args)]
pub struct SignPdfArgs {
    /// The PDF to sign (never modified).
    pub input: PathBuf,
    /// Where to write the signed PDF (must not be the input).
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: PathBuf,
    /// Sign this existing empty signature field instead of adding one.
    #[arg(long, value_name = "NAME")]
    pub field: Option<String>,
    /// Why the document is signed (`/Reason`, and shown in a visible signature).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Where it is signed (`/Location`).
    #[arg(long, value_name = "TEXT")]
    pub location: Option<String>,
    /// Show the signature on a page.
    #[arg(long)]
    pub visible: bool,
    /// Page for the visible signature: 1-based, negative from the end, a list like `1,-1`, or
    /// `all`.
    #[arg(
        long,
        default_value = "1",
        value_name = "N",
        allow_hyphen_values = true
    )]
    pub page: String,
    /// Rectangle in points from the page's bottom-left corner.
    #[arg(long, default_value = "36,36,236,106", value_name = "X1,Y1,X2,Y2")]
    pub rect: String,
    /// A PNG or JPEG image for the visible signature.
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    /// Visible text template: `{name}`, `{organization}`, `{identifiers}`, `{time}`,
    /// `{reason}`, `{location}`; `\n` separates lines.
    #[arg(long, value_name = "TEMPLATE")]
    pub text: Option<String>,
    /// Largest font size of the visible text, in points.
    #[arg(long, default_value_t = 9.0, value_name = "POINTS")]
    pub font_size: f64,
    /// Make a certification signature allowing only these later changes.
    #[arg(long, value_parser = ["no-changes", "form-fill", "annotate"])]
    pub certify: Option<String>,
    /// Write `adbe.pkcs7.detached` instead of PAdES `ETSI.CAdES.detached` (old validators).
    #[arg(long)]
    pub legacy_subfilter: bool,
    /// Digest algorithm.
    #[arg(long, default_value = "sha256", value_parser = ["sha256", "sha384", "sha512"])]
    pub hash: String,
    /// Key selection and PIN.
    #[command(flatten)]
    pub key: KeyArgs,
}

/// `kyso demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Recreate the demo token even if it exists.
    #[arg(long)]
    pub reset: bool,
    /// The agent's port (default from the config, 47320; 0 = any free port).
    #[arg(long)]
    pub port: Option<u16>,
    /// The portal's port (default: the agent's port + 1; any free port when the agent's is 0).
    #[arg(long)]
    pub portal_port: Option<u16>,
    /// The host name in the portal's address (it must resolve to 127.0.0.1 and be named by the
    /// portal's certificate).
    #[arg(long, default_value = "127.0.0.1")]
    pub portal_host: String,
    /// The portal's certificate chain (PEM); default: the agent's own localhost certificate.
    #[arg(long, value_name = "PEM", requires = "portal_key")]
    pub portal_cert: Option<PathBuf>,
    /// The portal certificate's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "portal_cert")]
    pub portal_key: Option<PathBuf>,
    /// How to ask the user: `native` dialogs (default where there is a display), the
    /// `terminal` (default otherwise), or `scripted:FILE` (tests only).
    #[arg(long, value_name = "native|terminal|scripted:FILE")]
    pub prompter: Option<String>,
    /// Do not open the browser; only print the portal's address.
    #[arg(long)]
    pub no_browser: bool,
}

/// `kyso serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Run without the tray icon (the tray comes with the desktop agent; today every run is
    /// headless).
    #[arg(long)]
    pub headless: bool,
    /// Port on 127.0.0.1 and ::1 (default from the config, 47320).
    #[arg(long)]
    pub port: Option<u16>,
    /// How to ask the user: `native` dialogs, the `terminal`, or `scripted:FILE` (answers from
    /// a JSON file; tests and demos only).
    #[arg(
        long,
        default_value = "native",
        value_name = "native|terminal|scripted:FILE"
    )]
    pub prompter: String,
}

impl ServeArgs {
    /// What `kyso` with no command runs: the desktop agent with native dialogs.
    pub fn default_agent() -> Self {
        Self {
            headless: false,
            port: None,
            prompter: "native".to_owned(),
        }
    }
}

/// `kyso trust`: kyso's local CA in the browsers' and system's certificate stores.
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust kyso's local CA in every browser store found (replacing older kyso CAs).
    Install(TrustArgs),
    /// Remove every kyso CA from the stores.
    Uninstall(TrustArgs),
    /// Show, per store, whether the current kyso CA is trusted.
    Status(TrustStatusArgs),
}

/// Options of `kyso trust install` and `uninstall`.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Also the operating system's store (Linux: /usr/local/share/ca-certificates; needs root).
    #[arg(long)]
    pub system: bool,
}

/// Options of `kyso trust status`.
#[derive(Debug, Args)]
pub struct TrustStatusArgs {
    /// Also the operating system's store.
    #[arg(long)]
    pub system: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `kyso sign xml`.
#[derive(Debug, Args)]
pub struct SignXmlArgs {
    /// The XML document to sign (never modified).
    pub input: PathBuf,
    /// Where to write the signed document.
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: PathBuf,
    /// Sign the element with this Id (`Id`, `id` or `ID` attribute) instead of the whole
    /// document.
    #[arg(long, value_name = "ID")]
    pub node_id: Option<String>,
    /// Put the signature in the first element with this name (default: the root element).
    #[arg(long, value_name = "TAG")]
    pub into: Option<String>,
    /// Look for --into only among the children of the first element with this name, and
    /// create it there when it is missing.
    #[arg(long, value_name = "TAG", requires = "into")]
    pub into_parent: Option<String>,
    /// Canonicalization.
    #[arg(long, default_value = "inclusive", value_parser = ["inclusive", "inclusive-comments", "exclusive"])]
    pub c14n: String,
    /// Digest of the signed content (sha1 only for portals that demand it).
    #[arg(long, default_value = "sha256", value_parser = ["sha1", "sha256", "sha512"])]
    pub digest: String,
    /// Hash of the signature itself (default: the same as --digest).
    #[arg(long, value_parser = ["sha1", "sha256", "sha512"])]
    pub signature_hash: Option<String>,
    /// Add a signed SigningTime (e-invoice style).
    #[arg(long)]
    pub signing_time: bool,
    /// Prefix for the signature elements, e.g. `ds`.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Also embed the issuing CA certificates.
    #[arg(long)]
    pub chain: bool,
    /// Add X509IssuerSerial.
    #[arg(long)]
    pub issuer_serial: bool,
    /// Add X509SubjectName.
    #[arg(long)]
    pub subject_name: bool,
    /// Key selection and PIN.
    #[command(flatten)]
    pub key: KeyArgs,
}

/// `kyso verify xml|pdf`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The signed document (never modified).
    pub input: PathBuf,
    /// A trusted root certificate (PEM or DER); repeatable.
    #[arg(long = "trusted", value_name = "CERT")]
    pub trusted: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}
