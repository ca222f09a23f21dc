//! Denoise protocols: Gaussian noise (told σ, or blind), JPEG artefacts (blind), real noise
//! from `noisy/` + `clean/` pairs. RGB PSNR/SSIM; the baseline is the model's input.

use super::{jpeg_rgb, photo_files, with_rgb, Case, Degrade, Input, Setting, Space};
use crate::app::config::EvalProtocol;
use crate::photo::{self as io, Limits};
use crate::pipeline::restore::Sigma;
use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::path::Path;

/// Whether `dir` holds real-noise pairs: `noisy/` and `clean/` folders.
pub fn is_paired_folder(dir: &Path) -> bool {
    dir.join("noisy").is_dir() && dir.join("clean").is_dir()
}

/// Each photo under `dir/noisy` with its partner of the same relative path under `dir/clean`,
/// sorted. Fails when a noisy photo has no clean partner, or there are no pairs.
pub(super) fn paired_files(dir: &Path) -> Result<Vec<Input>> {
    let (noisy_dir, clean_dir) = (dir.join("noisy"), dir.join("clean"));
    let mut list = Vec::new();
    for noisy in photo_files(&noisy_dir) {
        let rel = noisy.strip_prefix(&noisy_dir).expect("walked from noisy/");
        let clean = clean_dir.join(rel);
        if !clean.is_file() {
            bail!(
                "{}: no clean partner (expected {})",
                noisy.display(),
                clean.display()
            );
        }
        list.push(Input {
            clean,
            degraded: Some(noisy),
        });
    }
    if list.is_empty() {
        bail!("{}: no noisy photos to evaluate", noisy_dir.display());
    }
    Ok(list)
}

/// The rows of a denoise run.
pub(super) fn settings(protocol: &EvalProtocol) -> Vec<Setting> {
    let row = |label: String, degrade, sigma| Setting {
        label,
        degrade,
        sigma,
    };
    match protocol {
        EvalProtocol::Awgn { sigmas, blind } => sigmas
            .iter()
            .map(|&s| {
                if *blind {
                    row(format!("sigma {s} blind"), Degrade::Awgn(s), Sigma::Auto)
                } else {
                    row(format!("sigma {s}"), Degrade::Awgn(s), Sigma::Fixed(s))
                }
            })
            .collect(),
        EvalProtocol::RealNoise { sigmas: None } => {
            vec![row("real noise".into(), Degrade::Given, Sigma::Auto)]
        }
        EvalProtocol::RealNoise {
            sigmas: Some(sigmas),
        } => sigmas
            .iter()
            .map(|&s| {
                row(
                    format!("real noise sigma {s}"),
                    Degrade::Given,
                    Sigma::Fixed(s),
                )
            })
            .collect(),
        EvalProtocol::Jpeg { qualities } => qualities
            .iter()
            .map(|&q| row(format!("jpeg q{q}"), Degrade::Jpeg(q), Sigma::Auto))
            .collect(),
        EvalProtocol::Standard => unreachable!("config gives denoise a noise protocol"),
    }
}

/// AWGN of `sigma` (0–255 scale) on `clean`, clipped to `[0, 1]`, not quantised; the noise of
/// image `i` is seeded by `(i, σ)`, so every run (and every model) sees the same noise.
pub(super) fn awgn(clean: &[f32], sigma: f32, i: usize) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(i as u64 + 1000 * sigma as u64);
    clean
        .iter()
        .map(|&v| {
            let n: f32 = StandardNormal.sample(&mut rng);
            (v + n * sigma / 255.0).clamp(0.0, 1.0)
        })
        .collect()
}

/// The case of image `i`.
pub(super) fn case(input: &Input, degrade: Degrade, i: usize, limits: &Limits) -> Result<Case> {
    let clean = io::load(&input.clean, limits)?;
    let (w, h) = (clean.width, clean.height);
    let noisy = match (degrade, &input.degraded) {
        (Degrade::Given, Some(file)) => {
            let noisy = io::load(file, limits).with_context(|| file.display().to_string())?;
            if (noisy.width, noisy.height) != (w, h) {
                bail!(
                    "{} is {}×{}, its clean partner {w}×{h}",
                    file.display(),
                    noisy.width,
                    noisy.height
                );
            }
            noisy
        }
        (Degrade::Awgn(sigma), _) => {
            with_rgb(&clean, awgn(&clean.rgb_f32(), sigma, i).into(), w, h)
        }
        (Degrade::Jpeg(q), _) => with_rgb(&clean, jpeg_rgb(&clean.rgb_f32(), w, h, q)?, w, h),
        (Degrade::Given, None) => unreachable!("denoise settings without a noisy file"),
    };
    Ok(Case {
        baseline: noisy.rgb_f32(),
        input: noisy,
        reference: clean.rgb_f32(),
        width: w,
        height: h,
        space: Space::Rgb,
    })
}
