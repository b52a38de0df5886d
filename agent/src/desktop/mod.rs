//! The desktop side of the agent: one instance per user, start at login, the tray.

pub mod autostart;
pub mod console;
pub mod install;
pub mod instance;
pub mod show;
#[cfg(feature = "tray")]
pub mod tray;
