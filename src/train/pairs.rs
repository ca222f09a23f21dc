//! Synthetic degradations: a clean crop becomes an (input, target) pair for one task.
//!
//! Realistic (the default, see [`super::degrade`]):
//! - denoise: a mixture of camera noise (Poisson-Gaussian through a simulated mosaic /
//!   demosaic), colour blotches, JPEG (single and shifted double), and plain Gaussian noise; the
//!   level plane carries the RMS difference to the clean crop (σ for Gaussian noise);
//! - upscale: blur, resize, noise and JPEG on the low-resolution side, sometimes twice.
//!
//! Coarse JPEG (`--degradation jpeg`, denoise): every crop ends in a JPEG of quality 10–75, half
//! of them over camera noise; the level plane as for realistic draws.
//!
//! Classic (`--degradation classic`, and fixed-σ validation):
//! - denoise: additive white Gaussian noise, σ drawn uniformly from `[0, 50]` (on `[0, 255]`),
//!   the noisy image clipped to `[0, 1]` like a real 8-bit photo (the published AWGN protocol),
//!   or left unclipped (`--degradation unclipped`), σ fed as the level plane;
//! - upscale: antialiased bicubic (Catmull-Rom) downscale by the scale factor, quantised to
//!   8 bits as a real low-resolution file would be.
//!
//! Colorize: CIE Lab, L in, ab out.

use super::degrade::{degrade, rms_255, Profile};
use crate::models::planes::{denoise_input, lab_planes, MAX_SIGMA};
use crate::models::{ModelKind, Task};
use image::imageops::{self, FilterType};
use image::Rgb32FImage;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// One training example, interleaved HWC f32.
pub struct Pair {
    pub input: Vec<f32>,
    pub target: Vec<f32>,
    /// Denoise: the RMS difference between input and target on the 0–255 scale (the level
    /// the σ plane carries and the noise estimator learns); 0 for other tasks.
    pub level: f32,
}

/// What `finetune` degrades each clean crop with (`--degradation`; the checkpoint's hyper-parameters
/// store it as `"mixture"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mixture {
    /// Denoise: white Gaussian noise, the noisy crop clipped to `[0, 1]` as the published AWGN
    /// protocol does (its targets are not clipped, so the net learns to undo the clipping's bias:
    /// it darkens noisy shadows); upscale: a bicubic downscale; colorize: the grey copy, its only
    /// input.
    Classic,
    /// Denoise: [`Mixture::Classic`]'s noise left unclipped, so the net keeps a region's mean, as
    /// references of real camera noise do (means of many clipped shots carry the same bias as
    /// each shot).
    Unclipped,
    /// Denoise / upscale: the realistic engine ([`Profile::Denoise`], [`Profile::Upscale`]).
    Realistic,
    /// Denoise: the coarse-JPEG mixture ([`Profile::CoarseJpeg`]).
    CoarseJpeg,
}

impl Mixture {
    /// Drawn from the realistic engine (either of its denoise profiles, or upscale's).
    pub fn is_realistic(self) -> bool {
        matches!(self, Mixture::Realistic | Mixture::CoarseJpeg)
    }
}

/// How to degrade: the model kind, the mixture and an optional fixed σ (denoise validation).
#[derive(Clone, Copy, Debug)]
pub struct Degradation {
    pub kind: ModelKind,
    /// Fixed noise level on `[0, 255]` (classic Gaussian noise, clipped unless the mixture is
    /// [`Mixture::Unclipped`]); `None` draws from the mixture.
    pub sigma: Option<f32>,
    pub mixture: Mixture,
}

impl Degradation {
    /// Side of the clean crop needed for a model input of `input_side` pixels.
    pub fn clean_side(&self, input_side: u32) -> u32 {
        input_side * self.kind.scale() as u32
    }

    /// Makes the pair from a clean crop (RGB in `[0, 1]`).
    pub fn apply(&self, clean: &Rgb32FImage, rng: &mut impl Rng) -> Pair {
        let realistic = self.mixture.is_realistic() && self.sigma.is_none();
        match self.kind.task() {
            Task::Denoise if realistic => {
                let profile = if self.mixture == Mixture::CoarseJpeg {
                    Profile::CoarseJpeg
                } else {
                    Profile::Denoise
                };
                let noisy = degrade(clean, profile, rng).image;
                let level = rms_255(&noisy, clean).min(MAX_SIGMA);
                Pair {
                    input: denoise_input(noisy.as_raw(), level),
                    target: clean.as_raw().clone(),
                    level,
                }
            }
            Task::Upscale if realistic => {
                let scale = self.kind.scale() as u32;
                Pair {
                    input: degrade(clean, Profile::Upscale { scale }, rng)
                        .image
                        .into_raw(),
                    target: clean.as_raw().clone(),
                    level: 0.0,
                }
            }
            Task::Denoise => {
                let sigma = self
                    .sigma
                    .unwrap_or_else(|| rng.random_range(0.0..=MAX_SIGMA));
                let noisy: Vec<f32> = clean
                    .as_raw()
                    .iter()
                    .map(|&v| {
                        let n: f32 = StandardNormal.sample(rng);
                        let noisy = v + n * sigma / 255.0;
                        if self.mixture != Mixture::Unclipped {
                            noisy.clamp(0.0, 1.0)
                        } else {
                            noisy
                        }
                    })
                    .collect();
                Pair {
                    input: denoise_input(&noisy, sigma),
                    target: clean.as_raw().clone(),
                    level: sigma,
                }
            }
            Task::Upscale => {
                let (w, h) = clean.dimensions();
                let s = self.kind.scale() as u32;
                let lr = imageops::resize(clean, w / s, h / s, FilterType::CatmullRom);
                let input = lr
                    .as_raw()
                    .iter()
                    .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() / 255.0)
                    .collect();
                Pair {
                    input,
                    target: clean.as_raw().clone(),
                    level: 0.0,
                }
            }
            Task::Colorize => {
                let (l, ab) = lab_planes(clean.as_raw());
                Pair {
                    input: l,
                    target: ab,
                    level: 0.0,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn flat(side: u32, v: f32) -> Rgb32FImage {
        Rgb32FImage::from_pixel(side, side, image::Rgb([v, v, v]))
    }

    #[test]
    fn denoise_noise_has_the_requested_sigma() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let clean = flat(64, 0.5);
        let d = Degradation {
            kind: ModelKind::Denoise,
            sigma: Some(25.0),
            mixture: Mixture::Classic,
        };
        let pair = d.apply(&clean, &mut rng);
        assert_eq!(pair.input.len(), 64 * 64 * 4);
        let noise: Vec<f32> = pair
            .input
            .chunks(4)
            .flat_map(|p| p[..3].iter().map(|v| (v - 0.5) * 255.0))
            .collect();
        let std = (noise.iter().map(|n| n * n).sum::<f32>() / noise.len() as f32).sqrt();
        assert!((std - 25.0).abs() < 1.0, "measured σ {std}");
        assert!(pair
            .input
            .chunks(4)
            .all(|p| (p[3] - 25.0 / 255.0).abs() < 1e-7));
    }

    #[test]
    fn clipped_noise_stays_in_range_and_unclipped_noise_keeps_the_mean_near_black() {
        let clean = flat(64, 2.0 / 255.0);
        let mean_of = |mixture| {
            let d = Degradation {
                kind: ModelKind::Denoise,
                sigma: Some(10.0),
                mixture,
            };
            let pair = d.apply(&clean, &mut rand::rngs::StdRng::seed_from_u64(5));
            let rgb: Vec<f32> = pair.input.chunks(4).flat_map(|p| p[..3].to_vec()).collect();
            let (lo, hi) = rgb
                .iter()
                .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            (rgb.iter().sum::<f32>() / rgb.len() as f32 * 255.0, lo, hi)
        };
        let (clipped, lo, hi) = mean_of(Mixture::Classic);
        assert!(lo >= 0.0 && hi <= 1.0, "clipped range {lo}..{hi}");
        // Clipping at black lifts the mean of N(2, 10²) to about 5.1 levels.
        assert!(clipped > 4.5, "clipped mean {clipped}");
        let (unclipped, lo, _) = mean_of(Mixture::Unclipped);
        assert!(lo < 0.0, "unclipped minimum {lo}");
        assert!((unclipped - 2.0).abs() < 0.3, "unclipped mean {unclipped}");
    }

    #[test]
    fn coarse_jpeg_pairs_carry_their_level_and_the_clean_target() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let clean = Rgb32FImage::from_fn(48, 48, |x, y| {
            image::Rgb([
                ((x * 7 + y * 3) % 48) as f32 / 47.0,
                0.4,
                (y % 5) as f32 / 4.0,
            ])
        });
        let d = Degradation {
            kind: ModelKind::Denoise,
            sigma: None,
            mixture: Mixture::CoarseJpeg,
        };
        for _ in 0..8 {
            let pair = d.apply(&clean, &mut rng);
            assert_eq!(&pair.target, clean.as_raw());
            // A JPEG of quality 75 at most always changes this crop; the plane carries its RMS.
            assert!(pair.level > 0.5, "level {}", pair.level);
            let level = pair.level / 255.0;
            assert!(pair.input.chunks(4).all(|p| p[3] == level));
        }
    }

    #[test]
    fn upscale_pairs_are_downscaled_and_quantised() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let clean = Rgb32FImage::from_fn(32, 32, |x, _| image::Rgb([x as f32 / 31.0, 0.2, 0.7]));
        let pair = Degradation {
            kind: ModelKind::UpscaleX4,
            sigma: None,
            mixture: Mixture::Classic,
        }
        .apply(&clean, &mut rng);
        assert_eq!(pair.input.len(), 8 * 8 * 3);
        assert!(pair
            .input
            .iter()
            .all(|v| ((v * 255.0) - (v * 255.0).round()).abs() < 1e-3));
        // A constant channel stays constant through the antialiased downscale.
        assert!(pair
            .input
            .chunks(3)
            .all(|p| (p[1] - 51.0 / 255.0).abs() < 1e-6));
    }

    #[test]
    fn colorize_pairs_split_lab() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let pair = Degradation {
            kind: ModelKind::Colorize,
            sigma: None,
            mixture: Mixture::Classic,
        }
        .apply(&flat(8, 0.5), &mut rng);
        assert_eq!((pair.input.len(), pair.target.len()), (64, 128));
        assert!(pair.target.iter().all(|v| v.abs() < 1e-4));
    }
}
