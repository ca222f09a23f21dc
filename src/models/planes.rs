//! How each task turns pixels into model inputs and model outputs back into pixels. Shared by
//! inference and training so both see exactly the same encoding.
//!
//! All buffers are interleaved HWC f32. RGB values are in `[0, 1]`.

use crate::maths::color::{lab_to_rgb, rgb_to_lab, AB_SCALE};
use crate::maths::colour_bins::{AbBins, ANNEAL_T};

/// Largest noise level the denoiser is trained for, on the `[0, 255]` scale.
pub const MAX_SIGMA: f32 = 50.0;

/// Denoise input: RGB plus a constant noise-level plane holding `sigma / 255`
/// (`sigma` on the `[0, 255]` scale) → HWC with 4 channels.
pub fn denoise_input(rgb: &[f32], sigma: f32) -> Vec<f32> {
    let level = sigma / 255.0;
    rgb.chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], level])
        .collect()
}

/// Splits RGB into the colorize model's input (L / 100, 1 channel) and target
/// (ab / [`AB_SCALE`], 2 channels).
pub fn lab_planes(rgb: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut l = Vec::with_capacity(rgb.len() / 3);
    let mut ab = Vec::with_capacity(rgb.len() / 3 * 2);
    for p in rgb.chunks_exact(3) {
        let lab = rgb_to_lab([p[0], p[1], p[2]]);
        l.push(lab[0] / 100.0);
        ab.extend([lab[1] / AB_SCALE, lab[2] / AB_SCALE]);
    }
    (l, ab)
}

/// The classification colorizer's `[positions, Q]` logits → ab / [`AB_SCALE`] (`[positions, 2]`)
/// by the annealed mean (softmax at temperature [`ANNEAL_T`] over the ab classes: vivid where
/// the network is sure, muted where it hesitates).
pub fn ab_from_logits(logits: &[f32]) -> Vec<f32> {
    AbBins::shared()
        .annealed_mean_plane(logits, ANNEAL_T)
        .into_iter()
        .map(|v| v / AB_SCALE)
        .collect()
}

/// Recombines an L plane (L / 100) with predicted ab (ab / [`AB_SCALE`], clamped to ±1) into RGB.
pub fn lab_to_rgb_planes(l: &[f32], ab: &[f32]) -> Vec<f32> {
    l.iter()
        .zip(ab.chunks_exact(2))
        .flat_map(|(&l, ab)| {
            let a = ab[0].clamp(-1.0, 1.0) * AB_SCALE;
            let b = ab[1].clamp(-1.0, 1.0) * AB_SCALE;
            lab_to_rgb([l * 100.0, a, b])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denoise_input_appends_the_level_plane() {
        let x = denoise_input(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 25.5);
        assert_eq!(x, vec![0.1, 0.2, 0.3, 0.1, 0.4, 0.5, 0.6, 0.1]);
    }

    #[test]
    fn lab_planes_roundtrip() {
        let rgb = vec![0.9, 0.2, 0.1, 0.3, 0.6, 0.8, 0.5, 0.5, 0.5];
        let (l, ab) = lab_planes(&rgb);
        assert_eq!((l.len(), ab.len()), (3, 6));
        let back = lab_to_rgb_planes(&l, &ab);
        for (a, b) in back.iter().zip(&rgb) {
            assert!((a - b).abs() < 1e-4);
        }
        // Grey has ab = 0, so dropping colour is ab = 0.
        assert!(ab[4].abs() < 1e-4 && ab[5].abs() < 1e-4);
    }
}
