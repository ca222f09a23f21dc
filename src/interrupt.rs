//! Ctrl-C handling: the first Ctrl-C asks the running job to stop at the next safe point
//! (between files or tiles; after saving a checkpoint when training). A second one exits at
//! once — outputs are written through temp files, so nothing half-written is left either way.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler (once per process; later calls are no-ops).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!(
            "\naetool: interrupted; stopping after the current step (Ctrl-C again to quit now)"
        );
    });
}

/// Whether the user asked to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
