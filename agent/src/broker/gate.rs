//! One dialog on screen at a time: requests queue for it, a flooding page is rate-limited,
//! and a dialog nobody answers ends in `PROMPT_TIMEOUT`.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc, Mutex,
    },
    time::{Duration, Instant},
};

use crate::prompt::PromptError;

/// Why the gate refused to show a dialog.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// Too many requests are already waiting, or this origin asked too often.
    #[error("busy: {0}")]
    Busy(&'static str),
    /// The dialog failed or was cancelled.
    #[error(transparent)]
    Prompt(#[from] PromptError),
}

/// Serialises dialogs.
#[derive(Debug)]
pub struct PromptGate {
    screen: Mutex<()>,
    waiting: AtomicUsize,
    max_waiting: usize,
    per_minute: u32,
    recent: Mutex<HashMap<String, VecDeque<Instant>>>,
    timeout: Duration,
}

impl PromptGate {
    /// A gate allowing `max_waiting` queued requests, `per_minute` dialogs per origin, each
    /// waiting at most `timeout` for the user.
    pub fn new(max_waiting: usize, per_minute: u32, timeout: Duration) -> Self {
        Self {
            screen: Mutex::new(()),
            waiting: AtomicUsize::new(0),
            max_waiting,
            per_minute,
            recent: Mutex::new(HashMap::new()),
            timeout,
        }
    }

    fn admit(&self, origin: &str) -> Result<(), GateError> {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let times = recent.entry(origin.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60))
        {
            times.pop_front();
        }
        if times.len() >= self.per_minute as usize {
            return Err(GateError::Busy("too many dialogs from this site"));
        }
        times.push_back(now);
        Ok(())
    }

    /// Shows one dialog (`ask`, run on its own thread so a dialog that never returns cannot
    /// hold the agent) once the screen is free; blocks the calling (blocking) thread.
    pub fn ask<T: Send + 'static>(
        &self,
        origin: &str,
        ask: impl FnOnce() -> Result<T, PromptError> + Send + 'static,
    ) -> Result<T, GateError> {
        self.admit(origin)?;
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(GateError::Busy("too many requests are waiting"));
        }
        let screen = self.screen.lock().unwrap_or_else(|p| p.into_inner());
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("kyso-prompt".into())
            .spawn(move || {
                let _ = tx.send(ask());
            })
            .map_err(PromptError::Io)?;
        let answer = rx.recv_timeout(self.timeout);
        drop(screen);
        match answer {
            Ok(result) => Ok(result?),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(PromptError::Timeout.into()),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(PromptError::Unavailable("the dialog stopped".into()).into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unanswered_dialog_times_out() {
        let gate = PromptGate::new(4, 10, Duration::from_millis(50));
        let result = gate.ask("https://a.vn", || {
            std::thread::sleep(Duration::from_millis(500));
            Ok(())
        });
        assert!(matches!(
            result,
            Err(GateError::Prompt(PromptError::Timeout))
        ));
    }

    #[test]
    fn a_page_asking_too_often_is_refused() {
        let gate = PromptGate::new(4, 2, Duration::from_secs(1));
        assert!(gate.ask("https://a.vn", || Ok(())).is_ok());
        assert!(gate.ask("https://a.vn", || Ok(())).is_ok());
        assert!(matches!(
            gate.ask("https://a.vn", || Ok(())),
            Err(GateError::Busy(_))
        ));
        // Other sites are not affected.
        assert!(gate.ask("https://b.vn", || Ok(())).is_ok());
    }
}
