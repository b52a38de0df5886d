//! The StatusNotifierItem backend (KDE, GNOME with the AppIndicator extension, Xfce, ...), over
//! D-Bus with `ksni`.

use std::{sync::Arc, time::Duration};

use ksni::{
    menu::{CheckmarkItem, StandardItem, SubMenu},
    MenuItem, TrayMethods,
};

use super::{icon_pixels, menu, status_line, MenuAction, MenuEntry, Snapshot, TrayActions};
use crate::prompt::Language;

/// How often the icon re-reads tokens and sites.
const REFRESH: Duration = Duration::from_secs(3);

struct KysoTray {
    snapshot: Snapshot,
    actions: Arc<TrayActions>,
}

impl std::fmt::Debug for KysoTray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KysoTray").finish_non_exhaustive()
    }
}

/// Draws the platform-neutral menu with ksni's items.
fn draw(entry: MenuEntry) -> MenuItem<KysoTray> {
    let perform = |action: MenuAction| {
        Box::new(move |this: &mut KysoTray| {
            let actions = this.actions.clone();
            actions.perform(&action, &mut this.snapshot);
        })
    };
    match entry {
        MenuEntry::Label(label) => StandardItem {
            label,
            enabled: false,
            ..Default::default()
        }
        .into(),
        MenuEntry::Separator => MenuItem::Separator,
        MenuEntry::Item(label, action) => StandardItem {
            label,
            activate: perform(action),
            ..Default::default()
        }
        .into(),
        MenuEntry::Check(label, checked, action) => CheckmarkItem {
            label,
            checked,
            activate: perform(action),
            ..Default::default()
        }
        .into(),
        MenuEntry::Submenu(label, entries) => SubMenu {
            label,
            submenu: entries.into_iter().map(draw).collect(),
            ..Default::default()
        }
        .into(),
    }
}

impl ksni::Tray for KysoTray {
    fn id(&self) -> String {
        "kyso".into()
    }

    fn title(&self) -> String {
        status_line(&self.snapshot)
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        let (width, height, data) = icon_pixels(self.snapshot.state);
        vec![ksni::Icon {
            width,
            height,
            data,
        }]
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip {
            title: status_line(&self.snapshot),
            ..Default::default()
        }
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        menu(&self.snapshot).into_iter().map(draw).collect()
    }

    fn watcher_offline(&self, reason: ksni::OfflineReason) -> bool {
        // The tray host went away (panel restarted): keep the agent and wait for it to return.
        tracing::info!(?reason, "tray host offline; the icon returns with it");
        true
    }
}

/// The running icon and its refresher.
pub(super) struct LinuxTray {
    handle: ksni::Handle<KysoTray>,
    refresher: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for LinuxTray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinuxTray").finish_non_exhaustive()
    }
}

impl Drop for LinuxTray {
    fn drop(&mut self) {
        self.refresher.abort();
        // Removes the item from the bus; nothing to wait for at shutdown.
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.shutdown().await });
    }
}

pub(super) async fn spawn(
    actions: Arc<TrayActions>,
    language: Language,
) -> Result<LinuxTray, String> {
    let snapshot = {
        let actions = actions.clone();
        tokio::task::spawn_blocking(move || actions.snapshot(language))
            .await
            .map_err(|e| e.to_string())?
    };
    let tray = KysoTray {
        snapshot,
        actions: actions.clone(),
    };
    let handle = tray.spawn().await.map_err(|e| e.to_string())?;
    let refresher = {
        let handle = handle.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH).await;
                let language = handle
                    .update(|t: &mut KysoTray| t.snapshot.language)
                    .await
                    .unwrap_or(language);
                let actions = actions.clone();
                let Ok(fresh) =
                    tokio::task::spawn_blocking(move || actions.snapshot(language)).await
                else {
                    continue;
                };
                if handle
                    .update(|t: &mut KysoTray| t.snapshot = fresh)
                    .await
                    .is_none()
                {
                    break;
                }
            }
        })
    };
    Ok(LinuxTray { handle, refresher })
}
