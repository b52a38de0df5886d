//! The console on Windows.
//!
//! `kyso.exe` is built for the Windows GUI subsystem (`windows_subsystem = "windows"` in
//! `main.rs`), so starting it at login or from the Start menu opens no console window. A GUI
//! program gets no console of its own, though, so when it is started from a terminal
//! (`kyso doctor` in cmd or PowerShell) it attaches to that terminal's console here, before
//! anything is printed, and its output shows as a console program's would.
//!
//! What stays different from a console program: the shell does not wait for a GUI program, so
//! its prompt comes back at once and kyso's output follows it (`start /wait kyso doctor`, or
//! PowerShell's `kyso doctor | Out-Host`, waits). Output redirected to a file or a pipe is
//! untouched: handles the parent passed are kept.
//!
//! Elsewhere this does nothing.

/// Attaches to the console of the process that started kyso, if it has one, and points the
/// standard handles the parent did not redirect at it. Call first thing in `main`.
pub fn attach_parent_console() {
    #[cfg(windows)]
    windows::attach_parent_console();
}

#[cfg(windows)]
mod windows {
    use windows_sys::Win32::{
        Foundation::{GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE},
        Storage::FileSystem::{CreateFileW, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING},
        System::Console::{
            AttachConsole, GetStdHandle, SetStdHandle, ATTACH_PARENT_PROCESS, STD_ERROR_HANDLE,
            STD_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
        },
    };

    fn missing(handle: HANDLE) -> bool {
        handle.is_null() || handle == INVALID_HANDLE_VALUE
    }

    fn std_handle(which: STD_HANDLE) -> HANDLE {
        // SAFETY: GetStdHandle takes a constant and returns a handle value (maybe null).
        unsafe { GetStdHandle(which) }
    }

    /// Opens the attached console's input (`CONIN$`) or screen buffer (`CONOUT$`).
    fn open_console(name: &str, access: u32) -> HANDLE {
        let wide: Vec<u16> = name.encode_utf16().chain(std::iter::once(0)).collect();
        // SAFETY: `wide` is a NUL-terminated UTF-16 string that outlives the call; no security
        // attributes or template file are passed.
        unsafe {
            CreateFileW(
                wide.as_ptr(),
                access,
                FILE_SHARE_READ | FILE_SHARE_WRITE,
                std::ptr::null(),
                OPEN_EXISTING,
                0,
                std::ptr::null_mut(),
            )
        }
    }

    pub(super) fn attach_parent_console() {
        let streams = [
            (STD_INPUT_HANDLE, "CONIN$"),
            (STD_OUTPUT_HANDLE, "CONOUT$"),
            (STD_ERROR_HANDLE, "CONOUT$"),
        ];
        // All three redirected (a service, a test harness): nothing to attach.
        if !streams.iter().any(|(which, _)| missing(std_handle(*which))) {
            return;
        }
        // SAFETY: no pointers; fails (returns 0) when the parent has no console, as at login
        // or from Explorer, which leaves kyso without one as intended.
        if unsafe { AttachConsole(ATTACH_PARENT_PROCESS) } == 0 {
            return;
        }
        // Windows usually fills the empty standard handles on attaching; where it does not,
        // open the console's own buffers for them.
        for (which, name) in streams {
            if missing(std_handle(which)) {
                let handle = open_console(name, GENERIC_READ | GENERIC_WRITE);
                if !missing(handle) {
                    // SAFETY: a valid console handle, owned by the process from now on.
                    unsafe { SetStdHandle(which, handle) };
                }
            }
        }
    }
}
