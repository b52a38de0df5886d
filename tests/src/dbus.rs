//! A private D-Bus session bus with a stand-in StatusNotifierWatcher (the panel's side of the
//! tray protocol), so tray tests and the tray memory benchmark need no desktop. Needs
//! `dbus-daemon` (scripts/setup.sh test).

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
};

use zbus::{connection::Builder, message::Header, Connection};

/// A private session bus for one test.
#[derive(Debug)]
pub struct SessionBus {
    daemon: Child,
    /// The bus address for `DBUS_SESSION_BUS_ADDRESS`.
    pub address: String,
}

impl SessionBus {
    /// Starts `dbus-daemon --session` on a private address.
    pub fn start() -> Self {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("dbus-daemon ({e}): run scripts/setup.sh test"));
        let mut address = String::new();
        if let Some(stdout) = daemon.stdout.take() {
            BufReader::new(stdout)
                .read_line(&mut address)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        Self {
            daemon,
            address: address.trim().to_owned(),
        }
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// The panel's side of the protocol: records who registers.
#[derive(Debug, Default, Clone)]
pub struct Watcher {
    /// The bus names of the registered items.
    pub items: Arc<Mutex<Vec<String>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(&self, service: &str, #[zbus(header)] header: Header<'_>) {
        // Items send either their bus name or an object path; the sender identifies them.
        let name = if service.starts_with('/') {
            header.sender().map(|s| s.to_string()).unwrap_or_default()
        } else {
            service.to_owned()
        };
        if let Ok(mut items) = self.items.lock() {
            items.push(name);
        }
    }

    fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().map(|i| i.clone()).unwrap_or_default()
    }
}

impl Watcher {
    /// Whether an item has registered.
    pub fn registered(&self) -> bool {
        self.items.lock().map(|i| !i.is_empty()).unwrap_or(false)
    }
}

/// Plays the panel on `bus`: owns the watcher's name until the connection is dropped.
pub async fn panel(bus: &SessionBus) -> (Connection, Watcher) {
    let watcher = Watcher::default();
    let connection = Builder::address(bus.address.as_str())
        .unwrap_or_else(|e| panic!("{e}"))
        .name("org.kde.StatusNotifierWatcher")
        .unwrap_or_else(|e| panic!("{e}"))
        .serve_at("/StatusNotifierWatcher", watcher.clone())
        .unwrap_or_else(|e| panic!("{e}"))
        .build()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (connection, watcher)
}
