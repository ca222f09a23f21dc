//! Colorize protocol: the model gets the grey copy of each colour photo (whatever its colour;
//! eval does not skip photos already in colour). RGB PSNR/SSIM, colourfulness relative to the
//! original's, hue-balanced colour correctness; baselines: the grey copy and a uniform sepia
//! tint (added by `scores::score`).

use super::scores::Figures;
use super::{with_rgb, Case, Input, Space};
use crate::maths::colour_metrics::{grey_copy, hue_correctness};
use crate::maths::metrics::colourfulness;
use crate::photo::{self as io, Limits};
use anyhow::Result;

/// The case of one colour photo: its grey copy in, the grey copy as baseline.
pub(super) fn case(input: &Input, limits: &Limits) -> Result<Case> {
    let clean = io::load(&input.clean, limits)?;
    let (w, h) = (clean.width, clean.height);
    let rgb = clean.rgb_f32();
    let grey = grey_copy(&rgb);
    Ok(Case {
        input: with_rgb(&clean, grey.clone().into(), w, h),
        baseline: grey,
        reference: rgb,
        width: w,
        height: h,
        space: Space::Rgb,
    })
}

/// Adds the colour figures of `predicted` against `original` (RGB in `[0, 1]`): colourfulness
/// relative to the original's (`None` for a grey original) and the hue-balanced correctness
/// (`None` where undefined).
pub(super) fn add_colour_figures(f: &mut Figures, original: &[f32], predicted: &[f32]) {
    let orig = colourfulness(original);
    f.colourfulness_ratio = (orig > 0.0).then(|| colourfulness(predicted) / orig);
    f.colour_correctness = hue_correctness(original, predicted);
}
