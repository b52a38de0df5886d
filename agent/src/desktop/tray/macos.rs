//! The macOS menu-bar icon, with `tray-icon`.
//!
//! AppKit draws only on the main thread: `tray-icon`'s docs say the icon must be made on the
//! main thread with its event loop already running there. So [`with_main_thread`] runs the
//! agent (its tokio runtime, the server) on a thread of its own and keeps the main thread for
//! AppKit. When the agent asks for the icon ([`spawn`]), the main thread starts the application
//! (an accessory: no Dock icon, no menu bar of its own), shows the icon and runs the event loop
//! by hand, `nextEventMatchingMask` with a short timeout, so that between events it also does
//! what the menu asked, re-reads tokens and sites every few seconds, and notices when the agent
//! has finished (Quit, a signal): then the icon goes and `with_main_thread` returns. The icon
//! and its menu are [`NativeTray`], shared with Windows.

use std::{
    sync::{mpsc, Arc, Mutex},
    time::{Duration, Instant},
};

use objc2::MainThreadMarker;
use objc2_app_kit::{NSApplication, NSApplicationActivationPolicy, NSEventMask};
use objc2_foundation::{NSDate, NSDefaultRunLoopMode};

use super::{native::NativeTray, TrayActions};
use crate::prompt::Language;

/// How often the icon re-reads tokens and sites.
const REFRESH: Duration = Duration::from_secs(3);

/// The longest the main thread waits for an event before it looks at the menu's picks and
/// whether the agent has finished.
const TICK: Duration = Duration::from_millis(200);

/// A request from the agent's thread to show the icon.
struct ShowRequest {
    actions: Arc<TrayActions>,
    language: Language,
    shown: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// Where [`spawn`] sends its request while [`with_main_thread`] runs; `None` otherwise.
static MAIN_THREAD: Mutex<Option<mpsc::Sender<ShowRequest>>> = Mutex::new(None);

/// The icon as the agent holds it. The icon itself belongs to the main thread and goes when
/// the agent's function returns to [`with_main_thread`].
#[derive(Debug)]
pub(super) struct MacTray;

/// Asks the main thread to show the icon and waits until it is shown (or could not be).
pub(super) async fn spawn(
    actions: Arc<TrayActions>,
    language: Language,
) -> Result<MacTray, String> {
    let sender = MAIN_THREAD
        .lock()
        .ok()
        .and_then(|main| main.clone())
        .ok_or("the menu-bar icon needs the main thread, which runs something else")?;
    let (shown, answer) = tokio::sync::oneshot::channel();
    sender
        .send(ShowRequest {
            actions,
            language,
            shown,
        })
        .map_err(|_| "the main thread stopped listening")?;
    match answer.await {
        Ok(Ok(())) => Ok(MacTray),
        Ok(Err(reason)) => Err(reason),
        Err(_) => Err("the main thread dropped the request to show the icon".into()),
    }
}

/// Runs `agent` on a thread of its own while this thread, which must be the main thread, runs
/// AppKit for the menu-bar icon; returns what `agent` returns once it has. Called from any
/// other thread it just runs `agent` (and [`spawn`] reports that there can be no icon).
pub fn with_main_thread<T: Send>(agent: impl FnOnce() -> T + Send) -> T {
    let Some(mtm) = MainThreadMarker::new() else {
        return agent();
    };
    let (sender, requests) = mpsc::channel();
    set_main_thread(Some(sender));
    let result = std::thread::scope(|scope| {
        let agent = scope.spawn(agent);
        let mut tray: Option<NativeTray> = None;
        let mut next_refresh = Instant::now() + REFRESH;
        while !agent.is_finished() {
            let Some(shown) = tray.as_mut() else {
                if let Ok(request) = requests.recv_timeout(TICK) {
                    tray = show(mtm, request);
                    next_refresh = Instant::now() + REFRESH;
                }
                continue;
            };
            pump_events(mtm, TICK);
            shown.handle_menu_events();
            if Instant::now() >= next_refresh {
                shown.refresh();
                next_refresh = Instant::now() + REFRESH;
            }
        }
        drop(tray);
        agent.join()
    });
    set_main_thread(None);
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn set_main_thread(sender: Option<mpsc::Sender<ShowRequest>>) {
    match MAIN_THREAD.lock() {
        Ok(mut main) => *main = sender,
        Err(poisoned) => *poisoned.into_inner() = sender,
    }
}

/// Starts the application and shows the icon; answers `request` either way.
fn show(mtm: MainThreadMarker, request: ShowRequest) -> Option<NativeTray> {
    let app = NSApplication::sharedApplication(mtm);
    // An accessory: no Dock icon and no menu bar of its own, only the status item.
    app.setActivationPolicy(NSApplicationActivationPolicy::Accessory);
    app.finishLaunching();
    // Let the launch finish (its events dispatched) before the icon is made, as tray-icon asks.
    pump_events(mtm, Duration::ZERO);
    let shown = NativeTray::show(request.actions, request.language);
    let answer = shown.as_ref().map(drop).map_err(Clone::clone);
    let _ = request.shown.send(answer);
    shown.ok()
}

/// Dispatches AppKit's events for up to `wait` (at least once, without waiting, when zero).
/// A click on the icon opens its menu inside `sendEvent`, which returns once the menu closes.
fn pump_events(mtm: MainThreadMarker, wait: Duration) {
    let app = NSApplication::sharedApplication(mtm);
    let until = NSDate::dateWithTimeIntervalSinceNow(wait.as_secs_f64());
    // SAFETY: reading an immutable constant AppKit's Foundation exports.
    let mode = unsafe { NSDefaultRunLoopMode };
    while let Some(event) = app.nextEventMatchingMask_untilDate_inMode_dequeue(
        NSEventMask::Any,
        Some(&until),
        mode,
        true,
    ) {
        app.sendEvent(&event);
    }
}
