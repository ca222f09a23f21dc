//! PNG output at each `--png-compression` setting: file size and encode time of one photo.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --example encode-bench -- PHOTO [REPS]
//! ```
//! Decodes `PHOTO` (any format aetool reads) once, then writes it as PNG through
//! `aetool::photo::save` (quantisation, metadata and the atomic write included, as a restore
//! run writes its outputs) `REPS` times (default 3) per setting, interleaved, into a temporary
//! folder; prints the size and the median wall time of each setting.

use aetool::photo::{self, EncodeSettings, Limits, OutputFormat, PngCompression};
use anyhow::{Context, Result};
use std::time::Instant;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().context("usage: encode-bench PHOTO [REPS]")?;
    let reps: usize = match args.get(1) {
        Some(r) => r.parse().context("REPS: expected a number")?,
        None => 3,
    };
    let photo = photo::load(path.as_ref(), &Limits::default())?;
    println!(
        "{path}: {}×{}, {}-bit{}",
        photo.width,
        photo.height,
        if photo.meta.sixteen_bit { 16 } else { 8 },
        if photo.meta.gray { " gray" } else { "" }
    );
    let dir = tempfile::tempdir()?;
    let settings = [
        PngCompression::Fast,
        PngCompression::Default,
        PngCompression::Best,
    ];
    let mut times = vec![Vec::new(); settings.len()];
    let mut sizes = vec![0; settings.len()];
    for _ in 0..reps.max(1) {
        for (i, &png_compression) in settings.iter().enumerate() {
            let dest = dir.path().join(format!("{png_compression:?}.png"));
            let started = Instant::now();
            photo::save(
                &dest,
                &photo,
                OutputFormat::Png,
                &EncodeSettings { png_compression },
            )?;
            times[i].push(started.elapsed().as_secs_f64());
            sizes[i] = dest.metadata()?.len();
        }
    }
    for ((setting, t), size) in settings.iter().zip(&mut times).zip(&sizes) {
        t.sort_by(f64::total_cmp);
        println!(
            "{:<8} {:>6.2} MB  {:>7.3} s (median of {})",
            format!("{setting:?}").to_lowercase(),
            *size as f64 / 1e6,
            t[t.len() / 2],
            t.len()
        );
    }
    Ok(())
}
