//! The Windows notification-area icon, with `tray-icon`.
//!
//! `tray-icon` needs a Win32 message loop on the thread that created the icon (its docs: "an
//! event loop must be running on the thread ... it doesn't need to be the main thread"), so the
//! icon lives on its own thread running `GetMessageW`. A thread timer wakes the loop every few
//! seconds to re-read tokens and sites; menu clicks arrive through `muda`'s event channel while
//! the loop dispatches the menu's messages. The icon and its menu are [`NativeTray`], shared
//! with macOS. Dropping [`WindowsTray`] posts `WM_QUIT` to it.

use std::{sync::Arc, thread::JoinHandle};

use windows_sys::Win32::{
    System::Threading::GetCurrentThreadId,
    UI::WindowsAndMessaging::{
        DispatchMessageW, GetMessageW, KillTimer, PostThreadMessageW, SetTimer, TranslateMessage,
        MSG, WM_QUIT, WM_TIMER,
    },
};

use super::{native::NativeTray, TrayActions};
use crate::prompt::Language;

/// How often the icon re-reads tokens and sites, in milliseconds.
const REFRESH_MS: u32 = 3000;

/// The icon's thread; dropping this removes the icon.
pub(super) struct WindowsTray {
    thread_id: u32,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WindowsTray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowsTray")
            .field("thread_id", &self.thread_id)
            .finish_non_exhaustive()
    }
}

impl Drop for WindowsTray {
    fn drop(&mut self) {
        // SAFETY: posting to a thread id is safe whatever the id; a thread that has already
        // exited just makes the call fail.
        unsafe { PostThreadMessageW(self.thread_id, WM_QUIT, 0, 0) };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the icon's thread and waits until the icon is shown (or could not be).
pub(super) async fn spawn(
    actions: Arc<TrayActions>,
    language: Language,
) -> Result<WindowsTray, String> {
    let (ready, shown) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("kyso-tray".into())
        .spawn(move || run(&actions, language, ready))
        .map_err(|e| e.to_string())?;
    match shown.await {
        Ok(Ok(thread_id)) => Ok(WindowsTray {
            thread_id,
            thread: Some(thread),
        }),
        Ok(Err(reason)) => Err(reason),
        Err(_) => Err("the tray thread stopped before showing the icon".into()),
    }
}

fn run(
    actions: &Arc<TrayActions>,
    language: Language,
    ready: tokio::sync::oneshot::Sender<Result<u32, String>>,
) {
    let mut tray = match NativeTray::show(actions.clone(), language) {
        Ok(tray) => tray,
        Err(reason) => {
            let _ = ready.send(Err(reason));
            return;
        }
    };
    // SAFETY: plain Win32 calls on this thread; a thread timer (no window) posts WM_TIMER to
    // this thread's queue.
    let (thread_id, timer) = unsafe {
        (
            GetCurrentThreadId(),
            SetTimer(std::ptr::null_mut(), 0, REFRESH_MS, None),
        )
    };
    if ready.send(Ok(thread_id)).is_err() {
        return;
    }
    // SAFETY: MSG is plain data; all-zero is a valid value for GetMessageW to overwrite.
    let mut message: MSG = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `message` is a valid MSG for the whole loop; 0 is WM_QUIT, -1 an error.
        let got = unsafe { GetMessageW(&mut message, std::ptr::null_mut(), 0, 0) };
        if got == 0 || got == -1 {
            break;
        }
        // SAFETY: dispatching the message GetMessageW just filled in.
        unsafe {
            TranslateMessage(&message);
            DispatchMessageW(&message);
        }
        tray.handle_menu_events();
        if message.message == WM_TIMER {
            tray.refresh();
        }
    }
    // SAFETY: the timer was made on this thread; killing an id of 0 (SetTimer failed) fails
    // harmlessly.
    unsafe { KillTimer(std::ptr::null_mut(), timer) };
}
