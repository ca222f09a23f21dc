//! Runs a restoration over a planned list of jobs: decode → restore → encode, overlapped on
//! three threads (decoding the next file while the model runs, and writing each output band by
//! band as the model finishes it: `stream.rs`), with per-file errors reported and counted, never
//! fatal. Hand-overs between the threads are rendezvous, so besides the photo being restored at
//! most one more decoded photo and two bands of output are held (a large PNG or TIFF input is
//! held as a window of its rows: `photo::open`).

pub mod colorize;
pub mod dest;
mod jpeg_boost;
pub mod restore;
pub mod stream;
pub mod tiling;
pub mod walk;

pub use jpeg_boost::JPEG_NET_BELOW;

use crate::photo::{self as io, EncodeSettings, Limits, OutputFormat};
use crate::pipeline::restore::{Restorer, Target};
use crate::pipeline::stream::{Output, WriteStopped};
use crate::pipeline::walk::{Job, Plan};
use crate::progress::{Kind, Progress};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Instant;

/// One failed file.
#[derive(Debug, Serialize)]
pub struct Failure {
    #[serde(serialize_with = "crate::json_path::one")]
    pub file: PathBuf,
    pub error: String,
}

/// What a run did (printed at the end; `--json` prints it on stdout).
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub model: String,
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Megapixels of input processed.
    pub megapixels: f64,
    pub seconds: f64,
    pub megapixels_per_second: f64,
    #[serde(serialize_with = "crate::json_path::many")]
    pub outputs: Vec<PathBuf>,
    pub failures: Vec<Failure>,
    pub interrupted: bool,
}

/// Processes every job of `plan` with `restorer`: inputs decoded within `limits`, outputs
/// written with `encode`.
pub fn run(
    plan: &Plan,
    restorer: &Restorer,
    limits: &Limits,
    encode: &EncodeSettings,
    quiet: bool,
) -> Summary {
    let started = Instant::now();
    let progress = Progress::new(Kind::Files, plan.jobs.len() as u64, quiet);
    let summary = Mutex::new(Summary {
        model: restorer.origin().to_string(),
        ..Default::default()
    });
    let fail = |file: &Path, error: String| {
        progress.error(format!("aetool: {}: {error}", file.display()));
        let mut s = summary.lock().expect("summary lock");
        s.failed += 1;
        s.failures.push(Failure {
            file: file.to_path_buf(),
            error,
        });
    };
    for (path, why) in &plan.skipped {
        progress.note(format!("aetool: skipping {}: {why}", path.display()));
    }
    summary.lock().expect("summary lock").skipped = plan.skipped.len();
    for (path, error) in &plan.errors {
        fail(path, error.clone());
    }

    let (decoded_tx, decoded_rx) = mpsc::sync_channel::<(&Job, anyhow::Result<io::Input>)>(0);
    let (output_tx, output_rx) = mpsc::sync_channel::<Output>(1);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for job in &plan.jobs {
                if crate::interrupt::requested()
                    || decoded_tx
                        .send((job, io::open(&job.input, limits)))
                        .is_err()
                {
                    break;
                }
            }
        });
        scope.spawn(|| {
            for mut out in output_rx {
                let path = &out.job.output;
                let written = io::save_bands(path, &out.header, out.format, encode, &mut out.bands);
                if out.bands.cut_short() {
                    // The restoration stopped; the restore thread reports why.
                    continue;
                }
                match written {
                    Ok(()) => {
                        let mut s = summary.lock().expect("summary lock");
                        s.done += 1;
                        s.megapixels += out.megapixels;
                        s.outputs.push(path.clone());
                    }
                    Err(e) => fail(path, format!("cannot write output: {e:#}")),
                }
                progress.bar().inc(1);
            }
        });
        for (job, decoded) in decoded_rx {
            let name = job.input.display().to_string();
            progress.bar().set_message(name.clone());
            let mut photo = match decoded {
                Ok(p) => {
                    if let Some(format) = io::animated(&job.input) {
                        progress.note(format!(
                            "aetool: {name}: animated {format}: only the first frame is restored"
                        ));
                    }
                    p
                }
                Err(e) => {
                    fail(&job.input, format!("{e:#}"));
                    progress.bar().inc(1);
                    continue;
                }
            };
            match restorer.skip_reason(&mut photo) {
                Ok(None) => {}
                Ok(Some(why)) => {
                    progress.note(format!("aetool: skipping {name}: {why}"));
                    summary.lock().expect("summary lock").skipped += 1;
                    progress.bar().inc(1);
                    continue;
                }
                Err(e) => {
                    fail(&job.input, format!("{e:#}"));
                    progress.bar().inc(1);
                    continue;
                }
            }
            let mut on_tile = |done: usize, total: usize| {
                if total > 1 {
                    progress
                        .bar()
                        .set_message(format!("{name} (tile {done}/{total})"));
                }
            };
            // The output is made in the samples it is written with, and written as it is made.
            let format = job
                .format
                .unwrap_or_else(|| OutputFormat::for_input(photo.meta().format));
            let header = restorer.output(&photo, Target::File(format));
            if let Err(e) = io::check_output(&header, format) {
                fail(&job.input, format!("cannot write output: {e:#}"));
                progress.bar().inc(1);
                continue;
            }
            let (sender, bands) = stream::channel();
            let output = Output {
                job,
                header: header.clone(),
                format,
                megapixels: photo.pixels() as f64 / 1e6,
                bands,
            };
            if output_tx.send(output).is_err() {
                break;
            }
            let mut sink = |band| sender.send(band);
            match restorer.restore_bands(&mut photo, &header, &mut sink, &mut on_tile) {
                Ok(details) => {
                    if let Some(level) = details.describe_level() {
                        progress.note(format!("aetool: {name}: noise level {level}"));
                    }
                }
                // The encoder gave up on the output and reports why.
                Err(e) if e.is::<WriteStopped>() => {}
                Err(e) if crate::interrupt::requested() => {
                    progress.error(format!("aetool: {name}: {e:#}"));
                    break;
                }
                Err(e) => {
                    fail(&job.input, format!("{e:#}"));
                    progress.bar().inc(1);
                }
            }
        }
        drop(output_tx);
    });
    progress.finish();
    let mut s = summary.into_inner().expect("summary lock");
    s.seconds = started.elapsed().as_secs_f64();
    s.megapixels_per_second = if s.seconds > 0.0 {
        s.megapixels / s.seconds
    } else {
        0.0
    };
    s.interrupted = crate::interrupt::requested();
    s
}
