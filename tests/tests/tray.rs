//! The tray icon over a real D-Bus session bus: kyso registers its StatusNotifierItem with the
//! watcher, exports a menu with the expected entries, and "Quit" stops the agent.
//!
//! The test runs its own `dbus-daemon` and plays the StatusNotifierWatcher (the panel's part),
//! so it needs no desktop. Run `scripts/setup.sh test` for dbus-daemon.

use std::{
    collections::HashMap,
    process::{Child, Stdio},
    time::Duration,
};

use kyso_tests::{
    agent::eventually,
    dbus::{panel, SessionBus},
    SoftHsm,
};
use zbus::{
    connection::Builder,
    zvariant::{OwnedValue, Value},
};

/// Stops the agent even when an assertion fails.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every `label` in a dbusmenu layout, depth first, with its item id.
fn labels(layout: &Value<'_>, out: &mut Vec<(i32, String)>) {
    let Value::Structure(node) = layout else {
        return;
    };
    let fields = node.fields();
    let id = match fields.first() {
        Some(Value::I32(id)) => *id,
        _ => -1,
    };
    if let Some(Value::Dict(properties)) = fields.get(1) {
        if let Ok(Some(label)) = properties.get::<&str, String>(&"label") {
            out.push((id, label));
        }
    }
    if let Some(Value::Array(children)) = fields.get(2) {
        for child in children.iter() {
            match child {
                Value::Value(inner) => labels(inner, out),
                other => labels(other, out),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_registers_with_the_panel_shows_its_menu_and_quits_from_it() {
    let bus = SessionBus::start();
    let (_panel, watcher) = panel(&bus).await;

    let hsm = SoftHsm::new();
    let config = hsm.scratch().join("home/config/kyso");
    std::fs::create_dir_all(&config).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(config.join("config.toml"), "language = \"en\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut agent = KillOnDrop(
        hsm.kyso()
            .args(["serve", "--port", "0", "--prompter", "terminal"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let agent = &mut agent.0;

    let registered = eventually(Duration::from_secs(20), || watcher.registered()).await;
    assert!(registered, "kyso never registered a tray item");
    let item = watcher
        .items
        .lock()
        .map(|i| i[0].clone())
        .unwrap_or_default();

    let client = Builder::address(bus.address.as_str())
        .unwrap_or_else(|e| panic!("{e}"))
        .build()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let title: OwnedValue = client
        .call_method(
            Some(item.as_str()),
            "/StatusNotifierItem",
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &("org.kde.StatusNotifierItem", "Title"),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .body()
        .deserialize()
        .unwrap_or_else(|e| panic!("{e}"));
    let title = String::try_from(title).unwrap_or_default();
    assert!(title.starts_with("kyso — ready (1 token)"), "{title}");

    let reply = client
        .call_method(
            Some(item.as_str()),
            "/MenuBar",
            Some("com.canonical.dbusmenu"),
            "GetLayout",
            &(0i32, -1i32, Vec::<String>::new()),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = reply.body();
    type Node = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);
    let (_revision, (_root, _properties, children)): (u32, Node) =
        body.deserialize().unwrap_or_else(|e| panic!("{e}"));
    let mut found = Vec::new();
    for child in &children {
        labels(child, &mut found);
    }
    let names: Vec<&str> = found.iter().map(|(_, l)| l.as_str()).collect();
    for expected in [
        "Certificates",
        "Allowed sites",
        "Open audit log",
        "Start at login",
        "Language",
        "Tiếng Việt",
        "English",
        "About kyso",
        "Quit",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // The certificates submenu lists the token's certificates with their identifiers.
    assert!(
        names.iter().any(|l| l.contains("MST")),
        "no certificate with its MST in {names:?}"
    );

    // Clicking Quit stops the agent cleanly.
    let quit = found
        .iter()
        .find(|(_, l)| l == "Quit")
        .map(|(id, _)| *id)
        .unwrap_or_default();
    client
        .call_method(
            Some(item.as_str()),
            "/MenuBar",
            Some("com.canonical.dbusmenu"),
            "Event",
            &(quit, "clicked", Value::from(0i32), 0u32),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let exited = eventually(Duration::from_secs(10), || {
        matches!(agent.try_wait(), Ok(Some(_)))
    })
    .await;
    if !exited {
        let _ = agent.kill();
    }
    assert!(exited, "Quit did not stop the agent");
    assert!(agent.wait().map(|s| s.success()).unwrap_or(false));
}
