//! The icon drawn with `tray-icon` (and its menu crate `muda`), shared by Windows and macOS:
//! the platform-neutral [`MenuEntry`] list becomes native menu items, a picked item maps back
//! to its [`MenuAction`], and [`NativeTray`] keeps the icon current. The backends only run the
//! event loop `tray-icon` needs (a Win32 message loop on a thread of its own; the AppKit loop
//! on the main thread).

use std::{collections::HashMap, sync::Arc};

use tray_icon::menu::{
    CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuId, MenuItem, PredefinedMenuItem, Submenu,
};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use super::{
    icon_pixels, menu, status_line, MenuAction, MenuEntry, Snapshot, TrayActions, TrayState,
};
use crate::prompt::Language;

/// A built menu and what each of its items does.
struct NativeMenu {
    menu: Menu,
    actions: HashMap<MenuId, MenuAction>,
}

/// Builds the native menu for `snapshot`.
fn build(snapshot: &Snapshot) -> Result<NativeMenu, tray_icon::menu::Error> {
    let menu_bar = Menu::new();
    let mut actions = HashMap::new();
    for entry in menu(snapshot) {
        let item = draw(entry, &mut actions)?;
        menu_bar.append(item.as_ref())?;
    }
    Ok(NativeMenu {
        menu: menu_bar,
        actions,
    })
}

fn draw(
    entry: MenuEntry,
    actions: &mut HashMap<MenuId, MenuAction>,
) -> Result<Box<dyn IsMenuItem>, tray_icon::menu::Error> {
    Ok(match entry {
        MenuEntry::Label(label) => Box::new(MenuItem::new(label, false, None)),
        MenuEntry::Separator => Box::new(PredefinedMenuItem::separator()),
        MenuEntry::Item(label, action) => {
            let item = MenuItem::new(label, true, None);
            actions.insert(item.id().clone(), action);
            Box::new(item)
        }
        MenuEntry::Check(label, checked, action) => {
            let item = CheckMenuItem::new(label, true, checked, None);
            actions.insert(item.id().clone(), action);
            Box::new(item)
        }
        MenuEntry::Submenu(label, entries) => {
            let submenu = Submenu::new(label, true);
            for entry in entries {
                let item = draw(entry, actions)?;
                submenu.append(item.as_ref())?;
            }
            Box::new(submenu)
        }
    })
}

/// The state's icon as `tray-icon` wants it (RGBA; the shared drawing is ARGB).
fn icon(state: TrayState) -> Result<Icon, tray_icon::BadIcon> {
    let (width, height, argb) = icon_pixels(state);
    let rgba = argb
        .chunks_exact(4)
        .flat_map(|p| [p[1], p[2], p[3], p[0]])
        .collect();
    // icon_pixels draws a fixed 32×32 square: the sizes are positive.
    Icon::from_rgba(rgba, width.unsigned_abs(), height.unsigned_abs())
}

/// A shown `tray-icon` icon with its menu, and what the menu does: the part of the Windows and
/// macOS backends that is not about their event loops. It must stay on the thread that made it
/// (the loop's thread), which calls [`NativeTray::handle_menu_events`] after dispatching
/// events and [`NativeTray::refresh`] every few seconds.
pub(super) struct NativeTray {
    tray: TrayIcon,
    menu: NativeMenu,
    snapshot: Snapshot,
    actions: Arc<TrayActions>,
}

impl std::fmt::Debug for NativeTray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeTray")
            .field("state", &self.snapshot.state)
            .finish_non_exhaustive()
    }
}

impl NativeTray {
    /// Shows the icon for the current state.
    pub(super) fn show(actions: Arc<TrayActions>, language: Language) -> Result<Self, String> {
        let snapshot = actions.snapshot(language);
        let tray = TrayIconBuilder::new()
            .with_id("kyso")
            .with_icon(icon(snapshot.state).map_err(|e| e.to_string())?)
            .with_tooltip(status_line(&snapshot))
            .build()
            .map_err(|e| e.to_string())?;
        let menu = update(&tray, &snapshot)?;
        Ok(Self {
            tray,
            menu,
            snapshot,
            actions,
        })
    }

    /// Does what the picked menu entries waiting in `muda`'s channel say, and redraws the menu
    /// if any did something.
    pub(super) fn handle_menu_events(&mut self) {
        let mut changed = false;
        while let Ok(event) = MenuEvent::receiver().try_recv() {
            if let Some(action) = self.menu.actions.get(event.id()).cloned() {
                self.actions.perform(&action, &mut self.snapshot);
                changed = true;
            }
        }
        if changed {
            self.redraw();
        }
    }

    /// Re-reads tokens and sites; redraws only when something shows differently.
    pub(super) fn refresh(&mut self) {
        let fresh = self.actions.snapshot(self.snapshot.language);
        let changed = fresh.state != self.snapshot.state || menu(&fresh) != menu(&self.snapshot);
        self.snapshot = fresh;
        if changed {
            self.redraw();
        }
    }

    fn redraw(&mut self) {
        match update(&self.tray, &self.snapshot) {
            Ok(fresh) => self.menu = fresh,
            Err(reason) => tracing::warn!(%reason, "tray menu not updated"),
        }
    }
}

/// Gives the icon `snapshot`'s menu, tooltip and picture.
fn update(tray: &TrayIcon, snapshot: &Snapshot) -> Result<NativeMenu, String> {
    let built = build(snapshot).map_err(|e| e.to_string())?;
    tray.set_menu(Some(Box::new(built.menu.clone())));
    let _ = tray.set_tooltip(Some(status_line(snapshot)));
    if let Ok(icon) = icon(snapshot.state) {
        let _ = tray.set_icon(Some(icon));
    }
    Ok(built)
}
