//! Ctrl-C and SIGTERM handling: the first one asks the running job to stop at the next safe
//! point (between files or tiles; after saving a checkpoint when training) and the process then
//! exits with 130 (Ctrl-C) or 143 (SIGTERM, how Slurm and Kubernetes stop jobs). A second one
//! exits at once — outputs are written through temp files, so nothing half-written is left
//! either way.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static TERMINATED: AtomicBool = AtomicBool::new(false);

/// Installs the handlers (once per process; later calls are no-ops).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!(
            "\naetool: interrupted; stopping after the current step (Ctrl-C again to quit now)"
        );
    });
    #[cfg(unix)]
    sigterm::install();
}

/// Whether the user (or the job scheduler) asked to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// The exit status of a stopped run: 143 after SIGTERM, else 130.
pub fn exit_status() -> i32 {
    if TERMINATED.load(Ordering::SeqCst) {
        143
    } else {
        130
    }
}

#[cfg(unix)]
mod sigterm {
    use super::{Ordering, REQUESTED, TERMINATED};

    /// Async-signal-safe: atomics, `write(2)` and `_exit(2)` only.
    extern "C" fn on_sigterm(_: libc::c_int) {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            // SAFETY: `_exit` is async-signal-safe.
            unsafe { libc::_exit(143) };
        }
        TERMINATED.store(true, Ordering::SeqCst);
        let msg = b"\naetool: terminated (SIGTERM); stopping after the current step (a second signal quits now)\n";
        // SAFETY: `write` is async-signal-safe; the buffer outlives the call.
        unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    }

    pub fn install() {
        // SAFETY: a zeroed `sigaction` is a valid "no flags, empty mask" value; the handler
        // only touches atomics and async-signal-safe calls. SA_RESTART keeps interrupted reads
        // and writes going.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigterm as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = libc::SA_RESTART;
            libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut());
        }
    }
}
