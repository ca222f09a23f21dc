//! The one place progress bars are made. Bars draw on stderr, and are hidden when stderr is not
//! a terminal or the user asked for `--quiet`; messages printed through [`Progress::note`] never
//! tear a bar.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// What a bar counts.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Files of a run: `[00:12] ████░░ 12/40 files  cat.jpg`.
    Files,
    /// Training steps: message carries loss / validation PSNR / speed.
    Steps,
}

/// A progress bar (or a hidden one) plus a way to print lines above it.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
    quiet: bool,
}

impl Progress {
    /// A bar of `len` items; hidden when `quiet` or stderr is not a terminal.
    pub fn new(kind: Kind, len: u64, quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if quiet || !std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        let template = match kind {
            Kind::Files => "{elapsed_precise} {bar:30.cyan/blue} {pos}/{len} files {wide_msg}",
            Kind::Steps => {
                "{elapsed_precise} {bar:30.cyan/blue} step {pos}/{len} ({per_sec}, ETA {eta}) {wide_msg}"
            }
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("█▉▊▋▌▍▎▏ "),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        Self { bar, quiet }
    }

    pub fn bar(&self) -> &ProgressBar {
        &self.bar
    }

    /// Prints a line on stderr above the bar (always shown, even when the bar is hidden,
    /// unless `--quiet` — errors go through [`Progress::error`] instead).
    pub fn note(&self, line: impl AsRef<str>) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("{}", line.as_ref()));
        }
    }

    /// Prints an error line on stderr above the bar; shown even with `--quiet`.
    pub fn error(&self, line: impl AsRef<str>) {
        self.bar.suspend(|| eprintln!("{}", line.as_ref()));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
