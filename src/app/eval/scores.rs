//! The figures `eval` reports, per image and as means over a set.

use super::Case;
use crate::maths::metrics::{crop_border, psnr, ssim, y_channel, SSIM_WINDOW};
use crate::models::Task;
use serde::Serialize;

/// Figures of one output (the model's, a baseline's, or the `--compare` model's).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    pub psnr: f64,
    pub ssim: f64,
    /// Colorize: colourfulness of the output / of the original.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colourfulness_ratio: Option<f64>,
    /// Colorize: hue-balanced colour correctness (`None` where the original has too few
    /// coloured pixels for it to be defined).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colour_correctness: Option<f64>,
}

/// Scores of one image (or the mean of a set).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Scores {
    pub psnr: f64,
    pub ssim: f64,
    /// The task's baseline: the noisy / JPEG input, bicubic, the grey copy. Infinite when the
    /// baseline is the reference itself (denoise at σ 0; serialised as `null`).
    pub baseline_psnr: f64,
    pub baseline_ssim: f64,
    /// Colorize only: colourfulness of the output / of the original.
    pub colourfulness_ratio: Option<f64>,
    /// Colorize only: the hue-balanced colour correctness (means: over the images where it is
    /// defined).
    pub colour_correctness: Option<f64>,
    /// Colorize: the grey copy (the baseline above, with its colour figures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grey: Option<Figures>,
    /// Colorize: a uniform sepia tint on the original lightness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sepia: Option<Figures>,
    /// `--compare`: the second weights on the same inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Figures>,
}

/// Where PSNR/SSIM are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Space {
    /// RGB on `[0, 255]`.
    Rgb,
    /// BT.601 Y with `border` pixels cropped from each edge (the super-resolution protocol).
    Y { border: usize },
}

impl Space {
    /// PSNR/SSIM of `out` against `reference` (RGB in `[0, 1]`, `w × h`); SSIM is NaN for
    /// images under the SSIM window.
    pub(super) fn figures(self, out: &[f32], reference: &[f32], w: usize, h: usize) -> Figures {
        let to255 = |v: &[f32]| v.iter().map(|x| x * 255.0).collect::<Vec<f32>>();
        let (o, r, w, h, c) = match self {
            Space::Rgb => (to255(out), to255(reference), w, h, 3),
            Space::Y { border } => {
                let y = |v: &[f32]| crop_border(&y_channel(v), w, h, 1, border);
                let ((o, cw, ch), (r, _, _)) = (y(out), y(reference));
                (o, r, cw, ch, 1)
            }
        };
        Figures {
            psnr: psnr(&o, &r, 255.0),
            ssim: if w.min(h) >= SSIM_WINDOW {
                ssim(&o, &r, w, h, c, 255.0)
            } else {
                f64::NAN
            },
            colourfulness_ratio: None,
            colour_correctness: None,
        }
    }
}

/// Scores of `out` (and of the `--compare` model's `previous`) on `case`.
pub(super) fn score(task: Task, case: &Case, out: &[f32], previous: Option<&[f32]>) -> Scores {
    let figures = |rgb: &[f32]| {
        let mut f = case
            .space
            .figures(rgb, &case.reference, case.width, case.height);
        if task == Task::Colorize {
            super::colorize::add_colour_figures(&mut f, &case.reference, rgb);
        }
        f
    };
    let (model, baseline) = (figures(out), figures(&case.baseline));
    let colorize = task == Task::Colorize;
    Scores {
        psnr: model.psnr,
        ssim: model.ssim,
        baseline_psnr: baseline.psnr,
        baseline_ssim: baseline.ssim,
        colourfulness_ratio: model.colourfulness_ratio,
        colour_correctness: model.colour_correctness,
        grey: colorize.then(|| baseline.clone()),
        sepia: colorize.then(|| figures(&crate::maths::colour_metrics::sepia(&case.reference))),
        previous: previous.map(figures),
    }
}

fn mean_of(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n as f64
}

/// Mean of the values present; `None` when none is.
fn mean_some(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let present: Vec<f64> = values.flatten().collect();
    (!present.is_empty()).then(|| mean_of(present.into_iter()))
}

fn mean_figures<'a>(list: impl Iterator<Item = Option<&'a Figures>> + Clone) -> Option<Figures> {
    let present: Vec<&Figures> = list.flatten().collect();
    (!present.is_empty()).then(|| Figures {
        psnr: mean_of(present.iter().map(|f| f.psnr)),
        ssim: mean_of(present.iter().map(|f| f.ssim)),
        colourfulness_ratio: mean_some(present.iter().map(|f| f.colourfulness_ratio)),
        colour_correctness: mean_some(present.iter().map(|f| f.colour_correctness)),
    })
}

/// Means over a set: PSNR and SSIM over every image, the colour figures over the images where
/// they are defined.
pub(super) fn mean(rows: &[&Scores]) -> Scores {
    let it = || rows.iter();
    Scores {
        psnr: mean_of(it().map(|s| s.psnr)),
        ssim: mean_of(it().map(|s| s.ssim)),
        baseline_psnr: mean_of(it().map(|s| s.baseline_psnr)),
        baseline_ssim: mean_of(it().map(|s| s.baseline_ssim)),
        colourfulness_ratio: mean_some(it().map(|s| s.colourfulness_ratio)),
        colour_correctness: mean_some(it().map(|s| s.colour_correctness)),
        grey: mean_figures(it().map(|s| s.grey.as_ref())),
        sepia: mean_figures(it().map(|s| s.sepia.as_ref())),
        previous: mean_figures(it().map(|s| s.previous.as_ref())),
    }
}
