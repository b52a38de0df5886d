//! The StatusNotifierItem backend (KDE, GNOME with the AppIndicator extension, Xfce, ...), over
//! D-Bus with `ksni`.

use std::{sync::Arc, time::Duration};

use ksni::{
    menu::{CheckmarkItem, RadioGroup, RadioItem, StandardItem, SubMenu},
    MenuItem, TrayMethods,
};

use super::{icon_pixels, status_line, Snapshot, TrayActions};
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

fn item(label: String, activate: impl Fn(&mut KysoTray) + Send + 'static) -> MenuItem<KysoTray> {
    StandardItem {
        label,
        activate: Box::new(activate),
        ..Default::default()
    }
    .into()
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
        let l = self.snapshot.language;
        let mut certificates: Vec<MenuItem<Self>> = self
            .snapshot
            .certificates
            .iter()
            .map(|summary| {
                let name = summary
                    .common_name
                    .clone()
                    .unwrap_or_else(|| summary.subject.clone());
                let id = summary
                    .identifiers
                    .iter()
                    .next()
                    .map(|(k, v)| format!(" — {k} {v}"))
                    .unwrap_or_default();
                let summary = summary.clone();
                item(format!("{name}{id}"), move |this: &mut Self| {
                    this.actions
                        .show_certificate(&summary, this.snapshot.language)
                })
            })
            .collect();
        if certificates.is_empty() {
            certificates.push(
                StandardItem {
                    label: l
                        .pick("(không có chứng thư số)", "(no certificates)")
                        .into(),
                    enabled: false,
                    ..Default::default()
                }
                .into(),
            );
        }
        let mut sites: Vec<MenuItem<Self>> = self
            .snapshot
            .allowed_sites
            .iter()
            .map(|origin| {
                let origin_owned = origin.clone();
                item(
                    format!("{} {origin}", l.pick("Thu hồi", "Revoke")),
                    move |this: &mut Self| {
                        this.actions.revoke(&origin_owned);
                        this.snapshot
                            .allowed_sites
                            .retain(|site| site != &origin_owned);
                    },
                )
            })
            .collect();
        if sites.is_empty() {
            sites.push(
                StandardItem {
                    label: l.pick("(chưa có trang nào)", "(none yet)").into(),
                    enabled: false,
                    ..Default::default()
                }
                .into(),
            );
        }
        vec![
            StandardItem {
                label: status_line(&self.snapshot),
                enabled: false,
                ..Default::default()
            }
            .into(),
            MenuItem::Separator,
            SubMenu {
                label: l.pick("Chứng thư số", "Certificates").into(),
                submenu: certificates,
                ..Default::default()
            }
            .into(),
            SubMenu {
                label: l.pick("Trang web được phép", "Allowed sites").into(),
                submenu: sites,
                ..Default::default()
            }
            .into(),
            item(
                l.pick("Mở nhật ký ký số", "Open audit log").into(),
                |this: &mut Self| this.actions.open_audit_log(),
            ),
            CheckmarkItem {
                label: l.pick("Chạy khi đăng nhập", "Start at login").into(),
                checked: self.snapshot.autostart,
                activate: Box::new(|this: &mut Self| {
                    let on = !this.snapshot.autostart;
                    this.actions.set_autostart(on);
                    this.snapshot.autostart = on;
                }),
                ..Default::default()
            }
            .into(),
            SubMenu {
                label: l.pick("Ngôn ngữ", "Language").into(),
                submenu: vec![RadioGroup {
                    selected: match l {
                        Language::Vi => 0,
                        Language::En => 1,
                    },
                    select: Box::new(|this: &mut Self, index| {
                        let language = if index == 0 {
                            Language::Vi
                        } else {
                            Language::En
                        };
                        this.actions.set_language(language);
                        this.snapshot.language = language;
                    }),
                    options: vec![
                        RadioItem {
                            label: "Tiếng Việt".into(),
                            ..Default::default()
                        },
                        RadioItem {
                            label: "English".into(),
                            ..Default::default()
                        },
                    ],
                }
                .into()],
                ..Default::default()
            }
            .into(),
            item(
                l.pick("Giới thiệu kyso", "About kyso").into(),
                |this: &mut Self| this.actions.about(this.snapshot.language),
            ),
            MenuItem::Separator,
            item(l.pick("Thoát", "Quit").into(), |this: &mut Self| {
                this.actions.quit()
            }),
        ]
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
