//! `kyso serve`: the agent — local HTTPS/WebSocket API over the tokens.

use std::{path::PathBuf, sync::Arc};

use super::{bad_request, io_error, CliError, ServeArgs};
use crate::{
    broker::{AuditLog, Broker, OriginPolicy},
    config::Config,
    prompt::{Prompter, ScriptedPrompter, TerminalPrompter},
    server,
    token::{ModuleSelection, TokenService},
};

/// How the agent asks the user.
pub(super) fn prompter(spec: &str, timeout_secs: u64) -> Result<Arc<dyn Prompter>, CliError> {
    match spec {
        "native" => Ok(Arc::new(crate::prompt::NativePrompter::new(
            std::time::Duration::from_secs(timeout_secs),
        ))),
        "terminal" => Ok(Arc::new(TerminalPrompter)),
        other => match other.strip_prefix("scripted:") {
            Some(path) if !path.is_empty() => {
                // Loud on purpose: scripted answers mean no human approves signatures.
                tracing::warn!(
                    file = path,
                    "SCRIPTED PROMPTER: dialogs are answered from a file, not by a person. For tests and demos only."
                );
                eprintln!(
                    "kyso: WARNING: scripted prompter ({path}): no person approves signatures"
                );
                Ok(Arc::new(ScriptedPrompter::new(PathBuf::from(path))))
            }
            _ => Err(bad_request(format!(
                "--prompter {other}: use native, terminal or scripted:FILE"
            ))),
        },
    }
}

pub(super) fn run(selection: &ModuleSelection, args: &ServeArgs) -> Result<(), CliError> {
    let config_dir = crate::paths::config_dir().ok_or_else(|| bad_request("no config folder"))?;
    let data_dir = crate::paths::data_dir().ok_or_else(|| bad_request("no data folder"))?;
    let mut config = Config::load_or_default(&config_dir.join("config.toml"));
    if let Some(port) = args.port {
        config.port = port;
    }
    let _instance = crate::desktop::instance::acquire(&data_dir)?;
    let prompter = prompter(&args.prompter, config.prompt_timeout_secs)?;
    let tls_files =
        crate::tls::ensure_local_tls(&data_dir.join("tls"), time::OffsetDateTime::now_utc())?;
    if tls_files.renewed {
        tracing::warn!(
            ca = %tls_files.ca_pem.display(),
            "a new local CA was made; run `kyso trust install` so browsers trust it"
        );
    }
    let tls = crate::tls::server_config(&tls_files)?;
    let api_token_path = config_dir.join("api-token");
    let api_token = server::api_token(&api_token_path).map_err(|e| io_error(&api_token_path, e))?;
    let tokens = TokenService::load(selection);
    let origins = OriginPolicy::new(&config, Some(config_dir.join("sites.json")));
    let audit = AuditLog::new(Some(data_dir.join("audit.log")));
    let broker = Arc::new(Broker::new(
        tokens,
        prompter,
        config.clone(),
        origins,
        audit,
    ));
    let server_broker = broker.clone();

    // The agent itself; on macOS the tray needs the main thread, so it may run on another.
    let agent = || {
        agent_runtime(&data_dir)?.block_on(async {
            let server = server::start(server_broker, config.port, tls.clone(), api_token).await?;
            let compat = if config.vnpt_compat {
                crate::compat::vnpt::start_for_agent(
                    broker.clone(),
                    tls,
                    &config.vnpt_compat_ports,
                    &data_dir,
                )
                .await
            } else {
                crate::compat::vnpt::ListenerStatus::remove(&data_dir);
                None
            };
            let agent_file = data_dir.join("agent.json");
            let info = crate::desktop::instance::AgentFile {
                pid: std::process::id(),
                port: server.port,
                version: env!("CARGO_PKG_VERSION").to_owned(),
            };
            if let Ok(json) = serde_json::to_vec(&info) {
                let _ = crate::paths::write_private_file(&agent_file, &json);
            }
            println!("kyso listening on https://localhost:{}", server.port);
            let quit = Arc::new(tokio::sync::Notify::new());
            let _tray = if args.headless {
                None
            } else {
                show_tray(&broker, &data_dir, &config_dir, &config, server.port, &quit).await
            };
            tokio::select! {
                _ = wait_for_shutdown() => {}
                _ = quit.notified() => {}
            }
            server.stop().await;
            if let Some(compat) = compat {
                compat.stop().await;
            }
            crate::compat::vnpt::ListenerStatus::remove(&data_dir);
            let _ = std::fs::remove_file(&agent_file);
            Ok::<(), CliError>(())
        })
    };
    if args.headless {
        agent()
    } else {
        main_thread_for_tray(agent)
    }
}

/// The agent's async runtime: two workers are plenty for one user's requests.
pub(super) fn agent_runtime(
    data_dir: &std::path::Path,
) -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| io_error(data_dir, e))
}

/// Runs `agent` leaving the main thread to the tray icon where the platform draws it only there
/// (macOS); elsewhere, or without the tray feature, just runs it.
#[cfg(feature = "tray")]
fn main_thread_for_tray<T: Send>(agent: impl FnOnce() -> T + Send) -> T {
    crate::desktop::tray::with_main_thread(agent)
}

#[cfg(not(feature = "tray"))]
fn main_thread_for_tray<T>(agent: impl FnOnce() -> T) -> T {
    agent()
}

/// The tray icon, or `None` (logged) where the desktop has no tray host or the build has no tray.
#[cfg(feature = "tray")]
async fn show_tray(
    broker: &Arc<Broker>,
    data_dir: &std::path::Path,
    config_dir: &std::path::Path,
    config: &Config,
    port: u16,
    quit: &Arc<tokio::sync::Notify>,
) -> Option<crate::desktop::tray::Tray> {
    let actions = Arc::new(crate::desktop::tray::TrayActions {
        broker: broker.clone(),
        data_dir: data_dir.to_path_buf(),
        config_path: config_dir.join("config.toml"),
        quit: quit.clone(),
        port,
    });
    match crate::desktop::tray::spawn(actions, config.language()).await {
        Ok(tray) => {
            tracing::info!("tray icon shown");
            Some(tray)
        }
        Err(reason) => {
            tracing::warn!(%reason, "no tray icon; running headless");
            None
        }
    }
}

#[cfg(not(feature = "tray"))]
async fn show_tray(
    _: &Arc<Broker>,
    _: &std::path::Path,
    _: &std::path::Path,
    _: &Config,
    _: u16,
    _: &Arc<tokio::sync::Notify>,
) -> Option<()> {
    tracing::info!("built without the tray feature; running headless");
    None
}

pub(super) async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
