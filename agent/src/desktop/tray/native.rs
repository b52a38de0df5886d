//! The menu drawn with `tray-icon` (and its menu crate `muda`), for Windows and macOS: the
//! platform-neutral [`MenuEntry`] list becomes native menu items, and a picked item maps back
//! to its [`MenuAction`].

use std::collections::HashMap;

use tray_icon::menu::{
    CheckMenuItem, IsMenuItem, Menu, MenuId, MenuItem, PredefinedMenuItem, Submenu,
};
use tray_icon::Icon;

use super::{icon_pixels, menu, MenuAction, MenuEntry, Snapshot, TrayState};

/// A built menu and what each of its items does.
pub(super) struct NativeMenu {
    pub(super) menu: Menu,
    pub(super) actions: HashMap<MenuId, MenuAction>,
}

/// Builds the native menu for `snapshot`.
pub(super) fn build(snapshot: &Snapshot) -> Result<NativeMenu, tray_icon::menu::Error> {
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
pub(super) fn icon(state: TrayState) -> Result<Icon, tray_icon::BadIcon> {
    let (width, height, argb) = icon_pixels(state);
    let rgba = argb
        .chunks_exact(4)
        .flat_map(|p| [p[1], p[2], p[3], p[0]])
        .collect();
    // icon_pixels draws a fixed 32×32 square: the sizes are positive.
    Icon::from_rgba(rgba, width.unsigned_abs(), height.unsigned_abs())
}
