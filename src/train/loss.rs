//! Training losses: L1 or per-crop log-MSE for restoration, class-rebalanced soft cross-entropy
//! for the colour classifier, and the noise estimator's asymmetric error.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// The loss a denoiser or upscaler is trained with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestorationLoss {
    /// Mean absolute error: the per-pixel median of what the input allows (the default).
    #[default]
    L1,
    /// Mean over crops of `ln(MSE)`, i.e. the mean PSNR that `aetool eval` reports, up to a
    /// factor: the per-pixel mean of what the input allows, every crop counting alike.
    Psnr,
}

/// MSE floor of [`psnr_loss`] (a crop restored to within ~0.8 of 255 stops pulling harder).
const PSNR_FLOOR: f64 = 1e-5;

/// Scale of [`psnr_loss`]: its gradient is `2·err / MSE` per pixel, about 1 / (50 × RMS error)
/// times L1's; 0.02 puts it near L1's size at the 30–40 dB of a typical restoration, so the
/// gradient clip and the noise estimator's weight mean what they do under L1.
const PSNR_SCALE: f64 = 0.02;

/// Weight of the noise-level estimator's loss beside the denoiser's L1.
pub const ESTIMATOR_WEIGHT: f64 = 0.05;

/// Share of the squared error charged to over-estimates; under-estimates get `1 − α`. An
/// estimate that is too low leaves noise in the photo, which users notice more than slightly
/// stronger smoothing (CBDNet's asymmetric loss, α = 0.3).
const ASYMMETRY: f64 = 0.3;

/// Asymmetric squared error of predicted `ln(1 + σ)` (`[N]`) against true levels σ (`[N]`, 0–255).
pub(super) fn estimator_loss(pred: &Tensor, level: &Tensor) -> candle_core::Result<Tensor> {
    let err = (pred - (level + 1.0)?.log()?)?;
    let under = err.detach().lt(0f32)?.to_dtype(err.dtype())?;
    let weight = ((under * (1.0 - 2.0 * ASYMMETRY))? + ASYMMETRY)?;
    (weight * err.sqr()?)?.mean_all()
}

/// Class-rebalanced soft cross-entropy of `[N, h, w, Q]` logits against [`ClassTargets`]
/// (Zhang et al. 2016, eq. 2 with the eq. 4 weights): each position's loss is
/// `−w(nearest class) · Σ_k t_k · log softmax(z)_{i_k}` over its 5 soft targets.
pub(super) fn class_loss(
    logits: &Tensor,
    t: &super::colour_targets::ClassTargets,
) -> candle_core::Result<Tensor> {
    let (n, h, w, _) = logits.dims4()?;
    let dev = logits.device();
    let k = t.index.len() / (n * h * w);
    let index = Tensor::from_slice(&t.index, (n, h, w, k), dev)?;
    let soft = Tensor::from_slice(&t.weight, (n, h, w, k), dev)?;
    let rebalance = Tensor::from_slice(&t.rebalance, (n, h, w), dev)?;
    let log_p = candle_nn::ops::log_softmax(logits, 3)?;
    let picked = log_p.contiguous()?.gather(&index, 3)?;
    let ce = (picked * soft)?.sum(3)?.neg()?;
    (ce * rebalance)?.mean_all()
}

/// L1 loss of `[N, H, W, C]` restorations against their targets.
pub(super) fn l1(pred: &Tensor, target: &Tensor) -> candle_core::Result<Tensor> {
    (pred - target)?.abs()?.mean_all()
}

/// `PSNR_SCALE` × the mean over the batch of `ln(MSE + floor)` of `[N, H, W, C]` restorations
/// against their targets.
pub(super) fn psnr_loss(pred: &Tensor, target: &Tensor) -> candle_core::Result<Tensor> {
    let n = pred.dim(0)?;
    let mse = (pred - target)?.sqr()?.reshape((n, ()))?.mean(1)?;
    (mse + PSNR_FLOOR)?.log()?.mean_all()? * PSNR_SCALE
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn value(t: Tensor) -> f32 {
        t.to_scalar::<f32>().unwrap()
    }

    #[test]
    fn l1_is_the_mean_absolute_error() {
        let t = |v: [f32; 4]| Tensor::from_slice(&v, (1, 2, 2, 1), &Device::Cpu).unwrap();
        let e = value(l1(&t([0.5, 0.5, 0.0, 1.0]), &t([0.25, 0.5, 0.5, 1.0])).unwrap());
        assert!((e - 0.75 / 4.0).abs() < 1e-7);
    }

    #[test]
    fn psnr_loss_is_the_mean_log_mse_of_each_crop() {
        // Two crops of 2 pixels: errors (0.1, 0.1) and (0, 0.2): MSEs 0.01 and 0.02.
        let t = |v: [f32; 4]| Tensor::from_slice(&v, (2, 1, 2, 1), &Device::Cpu).unwrap();
        let e = value(psnr_loss(&t([0.6, 0.4, 0.5, 0.7]), &t([0.5, 0.5, 0.5, 0.5])).unwrap());
        let want = PSNR_SCALE * ((0.01 + PSNR_FLOOR).ln() + (0.02 + PSNR_FLOOR).ln()) / 2.0;
        assert!((f64::from(e) - want).abs() < 1e-6, "{e} against {want}");
    }

    #[test]
    fn estimator_loss_charges_under_estimates_more() {
        let level = Tensor::new(&[9f32], &Device::Cpu).unwrap();
        let at = |p: f32| {
            let pred = Tensor::new(&[10f32.ln() + p], &Device::Cpu).unwrap();
            value(estimator_loss(&pred, &level).unwrap())
        };
        assert!(at(0.0).abs() < 1e-9);
        assert!((at(0.5) - 0.3 * 0.25).abs() < 1e-6);
        assert!((at(-0.5) - 0.7 * 0.25).abs() < 1e-6);
    }

    #[test]
    fn class_loss_is_lowest_for_the_target_class() {
        use crate::train::colour_targets::ClassTargets;
        // One position, 3 classes; the target puts 0.8 on class 1 and 0.2 on class 2.
        let t = ClassTargets {
            index: vec![1, 2],
            weight: vec![0.8, 0.2],
            rebalance: vec![2.0],
        };
        let at = |z: [f32; 3]| {
            let logits = Tensor::from_slice(&z, (1, 1, 1, 3), &Device::Cpu).unwrap();
            value(class_loss(&logits, &t).unwrap())
        };
        // Uniform logits: −2·(0.8 + 0.2)·ln(1/3).
        assert!((at([0.0; 3]) - 2.0 * 3f32.ln()).abs() < 1e-5);
        assert!(at([0.0, 3.0, 1.0]) < at([0.0; 3]));
        assert!(at([3.0, 0.0, 0.0]) > at([0.0; 3]));
    }
}
