//! Training losses: L1 for restoration, class-rebalanced soft cross-entropy for the colour
//! classifier, and the noise estimator's asymmetric error.

use candle_core::Tensor;

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
