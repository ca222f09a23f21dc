//! The fixed validation set and the PSNR measured on it during training.

use super::batch::{to_tensors, Batch};
use super::{Dataset, Hyper};
use crate::models::{Net, Task};
use anyhow::Result;
use candle_core::{Device, Module, Tensor};
use image::imageops::{self, FilterType};
use rand::SeedableRng;

/// Mean-squared error → PSNR for values in `[0, 1]`.
fn psnr01(mse: f64) -> f64 {
    10.0 * (1.0 / mse.max(1e-12)).log10()
}

/// Fixed validation set: centre crops of the held-out images with a fixed degradation
/// (σ = 25 for denoise), plus the baseline's PSNR on it.
pub(super) struct Validation {
    input: Tensor,
    target: Tensor,
    pub(super) baseline_psnr: f64,
}

impl Validation {
    pub(super) fn new(data: &Dataset, h: &Hyper, device: &Device) -> Result<Self> {
        let deg = h.degradation(Some(25.0));
        let side = deg.clean_side(h.patch * 2);
        let zoom = (h.zoom().0 + h.zoom().1) / 2.0;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED);
        let mut batch = Batch {
            input: Vec::new(),
            target: Vec::new(),
        };
        let mut baseline_se = 0f64;
        for img in &data.val {
            let clean = super::data::center_crop(img, side, zoom);
            let pair = deg.apply(&clean, &mut rng);
            let base: Vec<f32> = match h.task {
                Task::Denoise => pair.input.chunks(4).flat_map(|p| p[..3].to_vec()).collect(),
                Task::Upscale => {
                    let lr_side = side / h.scale as u32;
                    let lr = image::Rgb32FImage::from_raw(lr_side, lr_side, pair.input.clone())
                        .expect("sized buffer");
                    imageops::resize(&lr, side, side, FilterType::CatmullRom).into_raw()
                }
                Task::Colorize => vec![0.0; pair.target.len()],
            };
            baseline_se += base
                .iter()
                .zip(&pair.target)
                .map(|(a, b)| ((a.clamp(-1.0, 1.0) - b) as f64).powi(2))
                .sum::<f64>();
            batch.input.extend(pair.input);
            batch.target.extend(pair.target);
        }
        let hv = Hyper {
            patch: h.patch * 2,
            ..h.clone()
        };
        let (input, target) = to_tensors(&batch, &hv, data.val.len(), device)?;
        let baseline_psnr = psnr01(baseline_se / target.elem_count() as f64);
        Ok(Self {
            input,
            target,
            baseline_psnr,
        })
    }

    /// PSNR of the model on the validation crops (colorize: on the ab planes, ±1 range).
    pub(super) fn psnr(&self, net: &Net) -> Result<f64> {
        let n = self.input.dim(0)?;
        let mut se = 0f64;
        for i in (0..n).step_by(4) {
            let len = 4.min(n - i);
            let out = net
                .forward(&self.input.narrow(0, i, len)?.detach())?
                .clamp(-1f32, 1f32)?;
            let d = (out - self.target.narrow(0, i, len)?)?;
            se += d.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
        Ok(psnr01(se / self.target.elem_count() as f64))
    }
}
