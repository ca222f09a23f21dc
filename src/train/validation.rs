//! The fixed validation set and the PSNR measured on it during training.

use super::batch::{to_tensors, Batch};
use super::colour_targets::{downsample_ab, ColourCoder};
use super::{Dataset, Hyper};
use crate::models::{level_from_log, Net, NoiseEstimator, Task};
use crate::pipeline::restore::DEFAULT_WORK_SIZE;
use anyhow::Result;
use candle_core::{Device, Module, Tensor};
use image::imageops::{self, FilterType};
use rand::SeedableRng;

/// Mean-squared error → PSNR for values in `[0, 1]`.
fn psnr01(mse: f64) -> f64 {
    10.0 * (1.0 / mse.max(1e-12)).log10()
}

/// Fixed validation set: centre crops of the held-out images with a fixed degradation (σ = 25
/// for classic denoise; the realistic mixture drawn from a fixed seed otherwise), plus the
/// baseline's PSNR on it. Crops are twice the training patch, except colorize's: the whole
/// centre square at [`DEFAULT_WORK_SIZE`].
pub(super) struct Validation {
    input: Tensor,
    target: Tensor,
    /// `[N]` degradation levels (denoise).
    levels: Vec<f32>,
    pub(super) baseline_psnr: f64,
}

impl Validation {
    pub(super) fn new(data: &Dataset, h: &Hyper, device: &Device) -> Result<Self> {
        let deg = h.degradation((!h.mixture.is_realistic()).then_some(25.0));
        let side = match h.task {
            // The scale `aetool colorize` predicts colour at (the photo's short side at the default
            // `--work-size`), which lies inside the training crops' range of scales.
            Task::Colorize => DEFAULT_WORK_SIZE,
            _ => deg.clean_side(h.patch * 2),
        };
        let zoom = (h.zoom().0 + h.zoom().1) / 2.0;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED);
        let mut batch = Batch::default();
        let mut baseline_se = 0f64;
        for img in &data.val {
            let clean = match h.task {
                // The whole centre square: colorize trains on context.
                Task::Colorize => super::data::center_crop(img, side, 1e-3),
                _ => super::data::center_crop(img, side, zoom),
            };
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
            batch.push(pair);
        }
        let hv = Hyper {
            patch: match h.task {
                Task::Colorize => side,
                _ => h.patch * 2,
            },
            ..h.clone()
        };
        let (input, target) = to_tensors(&batch, &hv, data.val.len(), device)?;
        let baseline_psnr = psnr01(baseline_se / target.elem_count() as f64);
        Ok(Self {
            input,
            target,
            levels: batch.levels,
            baseline_psnr,
        })
    }

    /// The figure a run keeps its best weights by: [`Self::psnr`], or with
    /// [`Hyper::estimator_only`] the denoiser's PSNR at the estimator's levels, averaged over
    /// the crops (as that run's loss and `aetool eval` weigh them, so a clean crop counts as
    /// much as a noisy one).
    pub(super) fn score(
        &self,
        model: &super::model::Model,
        h: &Hyper,
        coder: Option<&ColourCoder>,
    ) -> Result<f64> {
        match (&model.estimator, h.estimator_only) {
            (Some(est), true) => {
                let levels = self.estimates(est)?;
                let input = super::oracle::with_levels(&self.input, &levels)?;
                self.mean_psnr(&model.net, &input)
            }
            _ => self.psnr(&model.net, coder),
        }
    }

    /// PSNR of the model on the validation crops (colorize: on the ab planes, ±1 range; the
    /// classification colorizer is decoded by the annealed mean and scored on its output grid).
    pub(super) fn psnr(&self, net: &Net, coder: Option<&ColourCoder>) -> Result<f64> {
        self.psnr_on(net, &self.input, coder)
    }

    /// Runs `net` on `input` (the validation input, maybe with other levels) four crops at a
    /// time, handing `f` each chunk's output and targets.
    fn each_chunk(
        &self,
        net: &Net,
        input: &Tensor,
        mut f: impl FnMut(Tensor, Tensor) -> Result<()>,
    ) -> Result<()> {
        let n = input.dim(0)?;
        for i in (0..n).step_by(4) {
            let len = 4.min(n - i);
            let out = net.forward(&input.narrow(0, i, len)?.detach())?;
            f(out, self.target.narrow(0, i, len)?)?;
        }
        Ok(())
    }

    /// [`Self::psnr`] with `input` fed.
    fn psnr_on(&self, net: &Net, input: &Tensor, coder: Option<&ColourCoder>) -> Result<f64> {
        let mut se = 0f64;
        let mut count = 0;
        self.each_chunk(net, input, |out, target| {
            let len = out.dim(0)?;
            let (out, target) = match coder {
                Some(c) => {
                    let (_, oh, ow, q) = out.dims4()?;
                    let logits = out.reshape((len * oh * ow, q))?.to_vec2::<f32>()?.concat();
                    let side = target.dim(1)?;
                    let ab = target.flatten_all()?.to_vec1::<f32>()?;
                    let dev = out.device();
                    (
                        Tensor::new(crate::models::planes::ab_from_logits(&logits), dev)?,
                        Tensor::new(downsample_ab(&ab, len, side, c.stride()), dev)?,
                    )
                }
                None => (out.clamp(-1f32, 1f32)?, target),
            };
            let d = (out - target)?;
            se += d.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
            count += d.elem_count();
            Ok(())
        })?;
        Ok(psnr01(se / count.max(1) as f64))
    }

    /// The mean over the crops of the PSNR of `net` (output clamped to `[0, 1]`) fed `input`.
    fn mean_psnr(&self, net: &Net, input: &Tensor) -> Result<f64> {
        let mut sum = 0f64;
        self.each_chunk(net, input, |out, target| {
            let len = out.dim(0)?;
            let d = (out.clamp(0f32, 1f32)? - target)?;
            let mse = d.sqr()?.reshape((len, ()))?.mean(1)?.to_vec1::<f32>()?;
            sum += mse.iter().map(|&m| psnr01(m as f64)).sum::<f64>();
            Ok(())
        })?;
        Ok(sum / input.dim(0)?.max(1) as f64)
    }

    /// The estimator's levels (0–255 scale) for the validation crops.
    fn estimates(&self, est: &NoiseEstimator) -> Result<Vec<f32>> {
        let rgb = self.input.narrow(3, 0, 3)?.contiguous()?.detach();
        Ok(est
            .forward(&rgb)?
            .to_vec1::<f32>()?
            .into_iter()
            .map(level_from_log)
            .collect())
    }

    /// Mean absolute difference between the estimated noise level and the degradation's RMS
    /// level on the validation crops (0–255 scale).
    pub(super) fn estimator_error(&self, est: &NoiseEstimator) -> Result<f64> {
        let pred = self.estimates(est)?;
        let err: f64 = pred
            .iter()
            .zip(&self.levels)
            .map(|(p, l)| (p - l).abs() as f64)
            .sum();
        Ok(err / pred.len().max(1) as f64)
    }
}
