//! `kyso demo`: provision the demo token, start the agent on it (the same server `kyso serve`
//! runs), and serve the demo portal on another origin that the agent allows, then open it in
//! the browser.

use std::{path::PathBuf, sync::Arc};

use super::{bad_request, certs, io_error, serve, CliError, DemoArgs, ListArgs};
use crate::{
    broker::{AuditLog, Broker, OriginPolicy},
    config::Config,
    demo::{self, portal},
    server,
    token::{ModuleSelection, TokenService},
};

/// Whether native dialogs can be shown (a desktop session).
fn has_display() -> bool {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// Opens `url` in the default browser; false when there is no way to.
fn open_browser(url: &str) -> bool {
    let mut command = if cfg!(target_os = "windows") {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else {
        std::process::Command::new("xdg-open")
    };
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

pub(super) fn run(args: &DemoArgs) -> Result<(), CliError> {
    let data_dir = crate::paths::data_dir().ok_or_else(|| bad_request("no data folder"))?;
    let config_dir = crate::paths::config_dir().ok_or_else(|| bad_request("no config folder"))?;
    // Sets SOFTHSM2_CONF: before any thread starts.
    let token = demo::ensure(&data_dir.join("demo-token"), args.reset)?;
    println!(
        "Token thử nghiệm / demo token \"{}\" — PIN {}",
        demo::DEMO_TOKEN_LABEL,
        demo::DEMO_USER_PIN,
    );
    let tokens = TokenService::load(&ModuleSelection {
        named: vec![token.module.clone()],
        discover: false,
    });
    certs(&tokens, &ListArgs { json: false })?;

    let mut config = Config::load_or_default(&config_dir.join("config.toml"));
    if let Some(port) = args.port {
        config.port = port;
    }
    let prompter_spec = args.prompter.clone().unwrap_or_else(|| {
        if has_display() {
            "native".into()
        } else {
            "terminal".into()
        }
    });
    let prompter = serve::prompter(&prompter_spec, config.prompt_timeout_secs)?;
    let tls_files =
        crate::tls::ensure_local_tls(&data_dir.join("tls"), time::OffsetDateTime::now_utc())?;
    let agent_tls = crate::tls::server_config(&tls_files)?;
    let (portal_cert, portal_key): (PathBuf, PathBuf) = match (&args.portal_cert, &args.portal_key)
    {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        // The agent's leaf names 127.0.0.1 too: another port is another origin, no new CA.
        _ => (tls_files.cert_pem.clone(), tls_files.key_pem.clone()),
    };
    let portal_tls = portal::tls_config(&portal_cert, &portal_key)?;
    let api_token_path = config_dir.join("api-token");
    let api_token = server::api_token(&api_token_path).map_err(|e| io_error(&api_token_path, e))?;

    serve::agent_runtime(&data_dir)?.block_on(async {
        let portal_port = args.portal_port.unwrap_or(match config.port {
            0 => 0,
            port => port.saturating_add(1),
        });
        let portal_listeners = server::bind_loopback(portal_port).await?;
        let portal_port = portal_listeners
            .first()
            .and_then(|l| l.local_addr().ok())
            .map_or(portal_port, |a| a.port());
        let portal_url = format!("https://{}:{portal_port}", args.portal_host);
        config.allowed_origins.push(portal_url.clone());
        // The demo remembers no site answers: nothing it does changes the real agent's consent.
        let origins = OriginPolicy::new(&config, None);
        let audit = AuditLog::new(Some(token.dir.join("audit.log")));
        let broker = Arc::new(Broker::new(
            tokens,
            prompter,
            config.clone(),
            origins,
            audit,
        ));
        let agent = server::start(broker, config.port, agent_tls, api_token).await?;
        let state = portal::PortalState::new(&token.root_pem(), agent.port)?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let portal_task = tokio::spawn(server::serve_tls(
            portal_listeners,
            portal_tls,
            portal::routes(state),
            async move {
                let _ = stop_rx.await;
            },
        ));
        println!("kyso agent: https://localhost:{}", agent.port);
        println!("Cổng dịch vụ thử nghiệm / demo portal: {portal_url}/");
        if args.no_browser || !has_display() || !open_browser(&format!("{portal_url}/")) {
            println!("Mở địa chỉ trên trong trình duyệt / open that address in your browser.");
        }
        println!("Ctrl+C để dừng / to stop.");
        serve::wait_for_shutdown().await;
        let _ = stop_tx.send(());
        let _ = portal_task.await;
        agent.stop().await;
        Ok::<(), CliError>(())
    })
}
