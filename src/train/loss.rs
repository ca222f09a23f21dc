//! Training losses: L1 for restoration, L1 plus a colourfulness term for the regression
//! colorizer, class-rebalanced soft cross-entropy for the classification colorizer, and the
//! noise estimator's asymmetric error.

use super::Hyper;
use crate::models::Task;
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

/// Training loss on `[N, H, W, C]` predictions.
///
/// Restoration tasks: L1. Colorize: L1 on ab plus a one-sided colourfulness term — for each
/// image, how far its mean chroma `mean √(a² + b²)` falls short of the target's. Plain L1
/// regression drifts toward grey wherever the colour is ambiguous (measured: 39% of the
/// originals' colourfulness on CBSD68 after 1000 steps); the term pushes back only when the
/// prediction is less colourful than the truth.
pub(super) fn loss(h: &Hyper, pred: &Tensor, target: &Tensor) -> candle_core::Result<Tensor> {
    let l1 = (pred - target)?.abs()?.mean_all()?;
    if h.task != Task::Colorize || h.chroma_weight == 0.0 {
        return Ok(l1);
    }
    let chroma = |t: &Tensor| -> candle_core::Result<Tensor> {
        let (n, rows, cols, _) = t.dims4()?;
        (t.sqr()?.sum_keepdim(3)? + 1e-6)?
            .sqrt()?
            .reshape((n, rows * cols))?
            .mean(1)
    };
    let shortfall = (chroma(target)? - chroma(pred)?)?.relu()?.mean_all()?;
    l1 + (shortfall * h.chroma_weight)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelKind;
    use candle_core::Device;

    fn hyper(chroma_weight: f64) -> Hyper {
        Hyper {
            chroma_weight,
            ..Hyper::defaults(ModelKind::Colorize, true)
        }
    }

    /// `[1, 2, 2, 2]` ab maps.
    fn ab(v: [f32; 8]) -> Tensor {
        Tensor::from_slice(&v, (1, 2, 2, 2), &Device::Cpu).unwrap()
    }

    fn value(t: Tensor) -> f32 {
        t.to_scalar::<f32>().unwrap()
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
    fn zero_weight_is_plain_l1() {
        let target = ab([0.3, -0.4, 0.3, -0.4, 0.0, 0.0, 0.1, 0.2]);
        let grey = ab([0.0; 8]);
        let l1 = (0.3 + 0.4 + 0.3 + 0.4 + 0.1 + 0.2) / 8.0;
        assert!((value(loss(&hyper(0.0), &grey, &target).unwrap()) - l1).abs() < 1e-6);
    }

    #[test]
    fn colour_term_penalises_only_a_greyer_prediction() {
        let target = ab([0.3, -0.4, 0.3, -0.4, 0.0, 0.0, 0.0, 0.0]); // mean chroma 0.25
        let grey = ab([0.0; 8]);
        let l1 = value(loss(&hyper(0.0), &grey, &target).unwrap());
        let with_term = value(loss(&hyper(0.5), &grey, &target).unwrap());
        assert!(
            (with_term - l1 - 0.5 * 0.25).abs() < 1e-3,
            "{with_term} vs {l1}"
        );
        // A prediction more colourful than the truth pays only its L1 error.
        let vivid = ab([0.6, -0.8, 0.6, -0.8, 0.0, 0.0, 0.0, 0.0]);
        let l1_vivid = value(loss(&hyper(0.0), &vivid, &target).unwrap());
        assert!((value(loss(&hyper(0.5), &vivid, &target).unwrap()) - l1_vivid).abs() < 1e-6);
    }

    #[test]
    fn restoration_tasks_ignore_the_colour_weight() {
        let h = Hyper {
            chroma_weight: 1.0,
            ..Hyper::defaults(ModelKind::Denoise, true)
        };
        let target = ab([0.5; 8]);
        let pred = ab([0.25; 8]);
        assert!((value(loss(&h, &pred, &target).unwrap()) - 0.25).abs() < 1e-6);
    }
}
