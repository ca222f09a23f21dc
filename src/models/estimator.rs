//! Blind noise-level estimator for the denoiser (`--sigma auto`).
//!
//! ```text
//! RGB ─ 3×3 conv, ReLU ─ [unshuffle 2 ─ 1×1 conv, ReLU ─ 3×3 conv, ReLU]×2 ─ 1×1 conv ─ mean over H, W
//! ```
//! It predicts `ln(1 + σ)`, σ being the RMS difference between the photo and its clean version
//! on the 0–255 scale (for additive white Gaussian noise, the noise's σ): the denoiser's
//! strength unit. It is trained beside the denoiser on the same degraded crops (camera noise,
//! JPEG, Gaussian noise), so unlike a wavelet estimator it sees through JPEG's emptied fine
//! bands and measures what the denoiser needs. A whole photo is measured on a grid of crops,
//! read from its flattest ones (see [`NoiseEstimator::measure`]).

use super::layers::{pixel_unshuffle, Conv};
use crate::maths::piecewise::piecewise_linear;
use candle_core::{Device, Module, Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

/// Whether a denoise weights key belongs to the noise estimator (`estimator.*`), which shares
/// the denoiser's file and variable map but is a separate network.
pub fn is_estimator_key(name: &str) -> bool {
    name.starts_with("estimator.")
}

/// Shape of a [`NoiseEstimator`]; stored in the denoiser's `config` metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EstimatorConfig {
    /// Channels of the full-resolution layer; the two half-resolution stages use 2× and 3×.
    pub width: usize,
}

/// `[N, H, W, 3]` RGB in `[0, 1]` → `[N]` predicted `ln(1 + σ)`. H and W must be multiples of 4.
pub struct NoiseEstimator {
    head: Conv,
    stages: Vec<(Conv, Conv)>,
    tail: Conv,
}

impl NoiseEstimator {
    /// Keys (under the caller's prefix, `estimator` in denoise weights): `head`,
    /// `stages.{i}.down`, `stages.{i}.conv`, `tail` (each `.weight` / `.bias`).
    pub fn new(vb: VarBuilder, cfg: &EstimatorConfig) -> Result<Self> {
        let w = cfg.width;
        if w == 0 {
            candle_core::bail!("estimator width must be positive");
        }
        let widths = [w, 2 * w, 3 * w];
        let stages = (0..2)
            .map(|i| {
                let vb = vb.pp("stages").pp(i);
                Ok((
                    Conv::new(vb.pp("down"), 4 * widths[i], widths[i + 1], 1, false)?,
                    Conv::new(vb.pp("conv"), widths[i + 1], widths[i + 1], 3, false)?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            head: Conv::new(vb.pp("head"), 3, w, 3, false)?,
            stages,
            tail: Conv::new(vb.pp("tail"), widths[2], 1, 1, false)?,
        })
    }

    /// Input sides must be multiples of this.
    pub fn align(&self) -> usize {
        4
    }

    /// See [`Conv::prepare_inference`]: every conv of the estimator.
    pub fn prepare_inference(&mut self) -> Result<()> {
        self.head.prepare_inference()?;
        self.tail.prepare_inference()?;
        for (down, conv) in &mut self.stages {
            down.prepare_inference()?;
            conv.prepare_inference()?;
        }
        Ok(())
    }

    pub fn params(&self) -> usize {
        self.head.params()
            + self.tail.params()
            + self
                .stages
                .iter()
                .map(|(d, c)| d.params() + c.params())
                .sum::<usize>()
    }
}

impl Module for NoiseEstimator {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.head.forward_relu(x)?;
        for (down, conv) in &self.stages {
            h = down.forward_relu(&pixel_unshuffle(&h, 2)?)?;
            h = conv.forward_relu(&h)?;
        }
        let (n, _, _, _) = h.dims4()?;
        self.tail.forward(&h)?.reshape((n, ()))?.mean(1)
    }
}

/// Side of the crops a photo is measured on (the denoiser's training crop).
const CROP: usize = 64;
/// Most crops per axis (at most 8 × 8 = 64 crops per photo).
const MAX_PER_AXIS: usize = 8;
/// Fewest crops a photo's weak-texture reading is taken from (photos of 256 px or more on both
/// sides); a photo with fewer crops is read by their median.
const MIN_WEAK_TEXTURE_CROPS: usize = 16;
/// The share of a photo's crops, from the lowest reading up, whose top reading is the photo's
/// weak-texture reading (its 10th percentile).
const WEAK_TEXTURE_QUANTILE: f32 = 0.1;
/// Under white Gaussian noise, the median of a photo's crop readings over their 10th percentile,
/// by 10th-percentile reading (0–255 scale): (reading, median / reading), interpolated linearly,
/// held at the ends. Texture raises some crops' readings, so the ratio falls as noise swamps it.
/// Measured on the 432 training photos of `cbsd432` with the bundled camera-noise estimator
/// (`aetool eval --task denoise ../shared/data/train/cbsd432 --sigma S --blind` for S = 3, 5, 8,
/// 12, 20, 35, every photo 16 crops or more, ratio of the means; twenty-sixth session; at σ 50
/// it is 1.09 again).
const WHITE_NOISE_SPREAD: [(f32, f32); 6] = [
    (2.97, 1.534),
    (3.96, 1.472),
    (6.35, 1.372),
    (10.29, 1.278),
    (18.34, 1.154),
    (32.96, 1.086),
];

/// A photo's level from its crops' readings, sorted ascending: the weak-texture reading — the
/// 10th percentile, scaled by how far white noise puts the median above it
/// ([`WHITE_NOISE_SPREAD`]). On a photo with white noise it reads what the median does; where
/// textured crops read high and flat ones low (a clean photo, a high-quality JPEG) it reads
/// lower, trusting the flat crops; where every crop reads alike (camera noise, which lies over
/// the whole frame and which the estimator reads low) it reads higher. Against the median, for
/// the bundled default (twenty-sixth session, checkpoints/README.md): polyu100 blind 38.52 dB
/// (38.40), clean CBSD68 45.75 dB against the input (44.99), LIVE1 JPEG q10–40 within 0.03 dB,
/// q70 / q80 −0.15 / −0.09 dB. Photos with fewer than [`MIN_WEAK_TEXTURE_CROPS`] crops: the
/// median.
fn photo_level(sorted: &[f32]) -> f32 {
    if sorted.len() < MIN_WEAK_TEXTURE_CROPS {
        return sorted[sorted.len() / 2];
    }
    let low = sorted[(sorted.len() as f32 * WEAK_TEXTURE_QUANTILE) as usize];
    low * piecewise_linear(&WHITE_NOISE_SPREAD, low)
}

impl NoiseEstimator {
    /// The noise level (0–255 scale) of a `w × h` photo read a row at a time (`read_row(y, out)`
    /// appends row `y` as `w × 3` RGB values in `[0, 1]`): [`photo_level`] of the estimates on
    /// an evenly spread grid of up to 8 × 8 crops of 64 px (smaller photos: one crop of their
    /// short side rounded down to a multiple of 4). `None` under 8 px.
    pub fn measure(
        &self,
        w: usize,
        h: usize,
        mut read_row: impl FnMut(usize, &mut Vec<f32>),
        device: &Device,
    ) -> Result<Option<f32>> {
        let side = CROP.min(w.min(h) / 4 * 4);
        if side < 8 {
            return Ok(None);
        }
        let count = |len: usize| (len / side).clamp(1, MAX_PER_AXIS);
        let (nx, ny) = (count(w), count(h));
        let start = |len: usize, n: usize, i: usize| {
            if n == 1 {
                (len - side) / 2
            } else {
                i * (len - side) / (n - 1)
            }
        };
        // Crops `[nx · ny, side, side, 3]`, filled a photo row at a time.
        let crop_len = side * side * 3;
        let mut crops = vec![0f32; nx * ny * crop_len];
        let mut row = Vec::with_capacity(w * 3);
        for iy in 0..ny {
            let y0 = start(h, ny, iy);
            for y in 0..side {
                row.clear();
                read_row(y0 + y, &mut row);
                for ix in 0..nx {
                    let x0 = start(w, nx, ix);
                    let at = (iy * nx + ix) * crop_len + y * side * 3;
                    crops[at..at + side * 3].copy_from_slice(&row[x0 * 3..(x0 + side) * 3]);
                }
            }
        }
        let x = Tensor::from_vec(crops, (nx * ny, side, side, 3), device)?;
        let mut levels: Vec<f32> = self
            .forward(&x)?
            .to_vec1::<f32>()?
            .into_iter()
            .map(level_from_log)
            .collect();
        levels.sort_by(f32::total_cmp);
        Ok(Some(photo_level(&levels)))
    }
}

/// Converts a prediction of [`NoiseEstimator`] back to σ on the 0–255 scale.
pub fn level_from_log(log1p_sigma: f32) -> f32 {
    log1p_sigma.exp_m1().max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn one_value_per_image_and_gradients_reach_every_weight() -> Result<()> {
        let vm = VarMap::new();
        let est = NoiseEstimator::new(
            VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
            &EstimatorConfig { width: 4 },
        )?;
        let x = Tensor::rand(0f32, 1f32, (3, 8, 12, 3), &Device::Cpu)?;
        let y = est.forward(&x)?;
        assert_eq!(y.dims(), &[3]);
        let grads = y.sqr()?.sum_all()?.backward()?;
        for var in vm.all_vars() {
            let g = grads
                .get(var.as_tensor())
                .expect("every weight has a gradient");
            assert!(g.abs()?.sum_all()?.to_scalar::<f32>()? > 0.0 || var.dims().len() == 1);
        }
        assert_eq!(
            est.params(),
            vm.all_vars().iter().map(|v| v.elem_count()).sum::<usize>()
        );
        Ok(())
    }

    #[test]
    fn a_photo_is_measured_on_a_grid_of_crops() -> Result<()> {
        // Zero weights and a tail bias of ln(1 + 7): every crop says σ 7, whatever the size.
        let vm = VarMap::new();
        let est = NoiseEstimator::new(
            VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
            &EstimatorConfig { width: 2 },
        )?;
        for (name, var) in vm.data().lock().unwrap().iter() {
            let value = if name == "tail.bias" { 8f32.ln() } else { 0.0 };
            var.set(&var.as_tensor().ones_like()?.affine(0.0, value as f64)?)?;
        }
        for (w, h) in [(300, 200), (37, 29), (9, 500)] {
            let grey = |_, out: &mut Vec<f32>| out.resize(out.len() + w * 3, 0.5);
            let level = est.measure(w, h, grey, &Device::Cpu)?.unwrap();
            assert!((level - 7.0).abs() < 1e-4, "{w}x{h}: {level}");
        }
        let tiny = |_, out: &mut Vec<f32>| out.resize(out.len() + 7 * 3, 0.5);
        assert_eq!(est.measure(7, 7, tiny, &Device::Cpu)?, None);
        Ok(())
    }

    #[test]
    fn a_photo_is_read_from_its_flattest_crops() {
        // Few crops: the median.
        let few = [1.0, 2.0, 3.0, 4.0, 50.0];
        assert_eq!(photo_level(&few), 3.0);
        // 64 crops: the 10th percentile (the 7th lowest), times white noise's spread there.
        let spread = |lowest: f32, step: f32| -> Vec<f32> {
            (0..64).map(|i| lowest + step * i as f32).collect()
        };
        // As white noise spreads them (10th percentile 4.0, median 5.88): the median.
        let white = spread(3.566, 0.0723);
        let level = photo_level(&white);
        assert!((level - white[6] * piecewise_linear(&WHITE_NOISE_SPREAD, white[6])).abs() < 1e-4);
        assert!(
            (level - white[32]).abs() < 0.05,
            "{level} against {}",
            white[32]
        );
        // Crops that agree (noise over the whole frame) read above their median; crops that
        // differ widely (texture) read below it.
        let alike = spread(5.0, 0.01);
        assert!(photo_level(&alike) > 1.3 * alike[32]);
        let textured = spread(1.0, 0.2);
        assert!(photo_level(&textured) < 0.5 * textured[32]);
    }

    #[test]
    fn the_white_noise_table_is_interpolated_and_held_at_the_ends() {
        let table = WHITE_NOISE_SPREAD;
        for (reading, ratio) in table {
            assert!((piecewise_linear(&WHITE_NOISE_SPREAD, reading) - ratio).abs() < 1e-6);
        }
        assert_eq!(piecewise_linear(&WHITE_NOISE_SPREAD, 0.0), table[0].1);
        assert_eq!(
            piecewise_linear(&WHITE_NOISE_SPREAD, 1e3),
            table[table.len() - 1].1
        );
        let mid = piecewise_linear(&WHITE_NOISE_SPREAD, (table[0].0 + table[1].0) / 2.0);
        assert!((mid - (table[0].1 + table[1].1) / 2.0).abs() < 1e-5);
        assert!(table
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 >= w[1].1));
    }

    #[test]
    fn log_level_round_trip() {
        for s in [0.0f32, 0.5, 7.0, 50.0] {
            assert!((level_from_log(s.ln_1p()) - s).abs() < 1e-4);
        }
        assert_eq!(level_from_log(-0.3), 0.0);
    }
}
