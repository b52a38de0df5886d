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
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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
