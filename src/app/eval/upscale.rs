//! Super-resolution protocols: the sets' LR files or a bicubic downscale, optionally through
//! JPEG. Y PSNR/SSIM with `scale` pixels cropped from each border; baseline: bicubic upsampling
//! of the model's input.

use super::{
    jpeg_rgb, photo_files, resize_rgb, with_rgb, Case, Degrade, Input, Made, Setting, Space,
};
use crate::app::config::EvalProtocol;
use crate::photo::{self as io, Limits};
use crate::pipeline::restore::Sigma;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The HR images under `dir`: the `*_SRF_<scale>_HR` files with their `_LR` partners when the
/// set has them, else every photo whose name has no `_SRF_`.
pub(super) fn files(dir: &Path, scale: usize) -> Vec<Input> {
    let files = photo_files(dir);
    let (hr_tag, lr_tag) = (format!("_SRF_{scale}_HR"), format!("_SRF_{scale}_LR"));
    let paired: Vec<Input> = files
        .iter()
        .filter(|f| f.to_string_lossy().contains(&hr_tag))
        .map(|f| Input {
            clean: f.clone(),
            degraded: Some(PathBuf::from(f.to_string_lossy().replace(&hr_tag, &lr_tag))),
        })
        .collect();
    if !paired.is_empty() {
        return paired;
    }
    files
        .into_iter()
        .filter(|f| !f.to_string_lossy().contains("_SRF_"))
        .map(|clean| Input {
            clean,
            degraded: None,
        })
        .collect()
}

/// The rows of an upscale run.
pub(super) fn settings(protocol: &EvalProtocol, scale: usize) -> Vec<Setting> {
    let row = |label: String, degrade| Setting {
        label,
        degrade,
        sigma: Sigma::Auto,
    };
    match protocol {
        EvalProtocol::Jpeg { qualities } => qualities
            .iter()
            .map(|&q| row(format!("x{scale} jpeg q{q}"), Degrade::Jpeg(q)))
            .collect(),
        _ => vec![row(format!("x{scale}"), Degrade::Given)],
    }
}

/// The HR image cropped to whole multiples of `scale` (top-left kept): pixels and size.
pub(super) fn crop_to_scale(
    rgb: &[f32],
    w: usize,
    h: usize,
    scale: usize,
) -> (Vec<f32>, usize, usize) {
    let (hw, hh) = (w / scale * scale, h / scale * scale);
    let hr = (0..hh)
        .flat_map(|y| rgb[y * w * 3..(y * w + hw) * 3].iter().copied())
        .collect();
    (hr, hw, hh)
}

/// The low-resolution copy of HR `hw × hh` (multiples of `scale`): antialiased bicubic
/// downscale, then JPEG at `jpeg` quality if given.
pub(super) fn low_res(
    hr: &[f32],
    hw: usize,
    hh: usize,
    scale: usize,
    jpeg: Option<u8>,
) -> Result<Made> {
    let (lw, lh) = (hw / scale, hh / scale);
    let lr = resize_rgb(hr, hw, hh, lw, lh);
    match jpeg {
        Some(q) => jpeg_rgb(&lr, lw, lh, q),
        None => Ok(lr.into()),
    }
}

/// Why a `w`×`h` image cannot be scored at ×`scale` (the protocol crops `scale` pixels from
/// each border of the HR image, whose sides are cut to multiples of `scale`): `None` if it can.
pub(super) fn too_small(w: usize, h: usize, scale: usize) -> Option<String> {
    let min = 3 * scale;
    (w / scale * scale < min || h / scale * scale < min)
        .then(|| format!("{w}×{h} is too small to evaluate ×{scale} (at least {min}×{min} pixels)"))
}

/// The case of one HR image; `None` (after a note naming it) when it is too small to score.
pub(super) fn case(
    input: &Input,
    degrade: Degrade,
    scale: usize,
    limits: &Limits,
) -> Result<Option<Case>> {
    let clean = io::load(&input.clean, limits)?;
    if let Some(why) = too_small(clean.width, clean.height, scale) {
        eprintln!("aetool: skipping {}: {why}", input.clean.display());
        return Ok(None);
    }
    let (hr, hw, hh) = crop_to_scale(&clean.rgb_f32(), clean.width, clean.height, scale);
    let (lw, lh) = (hw / scale, hh / scale);
    let lr = match (degrade, &input.degraded) {
        (Degrade::Given, Some(f)) => {
            io::load(f, limits).with_context(|| f.display().to_string())?
        }
        (Degrade::Given, None) => with_rgb(&clean, low_res(&hr, hw, hh, scale, None)?, lw, lh),
        (Degrade::Jpeg(q), _) => with_rgb(&clean, low_res(&hr, hw, hh, scale, Some(q))?, lw, lh),
        (Degrade::Awgn(_), _) => unreachable!("upscale settings add no noise"),
    };
    if (lr.width, lr.height) != (lw, lh) {
        bail!("LR image is {}×{}, expected {lw}×{lh}", lr.width, lr.height);
    }
    let baseline = resize_rgb(&lr.rgb_f32(), lw, lh, hw, hh);
    Ok(Some(Case {
        input: lr,
        reference: hr,
        width: hw,
        height: hh,
        baseline,
        space: Space::Y { border: scale },
    }))
}
