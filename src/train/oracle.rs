//! Training the noise estimator alone (`finetune --estimator-only`): the estimator's level for
//! each crop is fed to the frozen denoiser, and the loss is how far the denoiser's output is
//! from the clean crop. So the estimator learns the level the denoiser needs, not the RMS
//! difference it was trained to read beside the denoiser: a textured photo through a
//! high-quality JPEG differs from its "clean" copy by a few levels but is best left alone,
//! while heavy JPEG blocking and correlated camera noise need more than their RMS.

use crate::models::{Net, NoiseEstimator};
use anyhow::Result;
use candle_core::{Module, Tensor};

/// The default of [`super::Hyper::estimator_floor_db`]: 40 dB, an MSE of 1e-4 added to each
/// crop's error before its logarithm — the fidelity past which a change to a photo is not worth
/// a loss in the others. Without a floor a clean crop's log-error (its PSNR, 50 dB and more)
/// swings by far more than a noisy one's and the estimator learns to read every photo as clean
/// (tried: 60 dB gave a clean CBSD68 of 48.5 dB through the default and lost 0.4 dB on LIVE1
/// JPEG and 1.5 dB on polyu100; 30 dB traded the other way, 38.8 dB clean for +0.1 dB on JPEG;
/// for the camera-noise model see checkpoints/README.md).
pub(super) fn default_floor_db() -> f64 {
    40.0
}

/// The MSE (images in `[0, 1]`) of a PSNR of `db`.
fn mse_of_psnr(db: f64) -> f64 {
    10f64.powf(-db / 10.0)
}

/// `x` `[N, H, W, 4]` (RGB in `[0, 1]` + level plane, see
/// [`crate::models::planes::denoise_input`]) with image `i`'s level plane set to `levels[i]`
/// (`[N]`, 0–255 scale); differentiable in `levels`.
fn with_level_tensor(x: &Tensor, levels: &Tensor) -> Result<Tensor> {
    let (n, h, w, _) = x.dims4()?;
    let plane = (levels / 255.0)?
        .reshape((n, 1, 1, 1))?
        .broadcast_as((n, h, w, 1))?;
    Ok(Tensor::cat(&[&x.narrow(3, 0, 3)?, &plane], 3)?.contiguous()?)
}

/// [`with_level_tensor`] with levels given as numbers.
pub(super) fn with_levels(x: &Tensor, levels: &[f32]) -> Result<Tensor> {
    with_level_tensor(x, &Tensor::from_slice(levels, levels.len(), x.device())?)
}

/// The mean over the batch of `ln(MSE + floor)` of the denoiser's output at the estimator's
/// levels against `y`, the floor being the MSE of a PSNR of `floor_db` — the mean PSNR up to a
/// factor, so every crop counts alike whatever its noise. Gradients reach the estimator through
/// the denoiser's input; the denoiser should be built from constants
/// ([`super::model::Model::freeze_net`]) so that none are computed for it.
pub(super) fn restoration_loss(
    net: &Net,
    est: &NoiseEstimator,
    x: &Tensor,
    y: &Tensor,
    floor_db: f64,
) -> Result<Tensor> {
    let n = x.dim(0)?;
    let rgb = x.narrow(3, 0, 3)?.contiguous()?;
    // The estimator predicts ln(1 + σ). Levels below 0 (down to −1, a plane of −0.004) are fed
    // as they are, not clipped: a clip would stop the gradient of every crop read as clean, and
    // the estimator would never learn to read those up again (inference clips at 0).
    let levels = (est.forward(&rgb)?.exp()? - 1.0)?;
    let out = net.forward(&with_level_tensor(x, &levels)?)?;
    let mse = (out - y)?.sqr()?.reshape((n, ()))?.mean(1)?;
    Ok((mse + mse_of_psnr(floor_db))?.log()?.mean_all()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{EstimatorConfig, ModelKind};
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    #[test]
    fn the_floor_is_the_mse_of_its_psnr() {
        assert!((mse_of_psnr(40.0) - 1e-4).abs() < 1e-12);
        assert!((mse_of_psnr(30.0) - 1e-3).abs() < 1e-12);
        assert!((mse_of_psnr(default_floor_db()) - 1e-4).abs() < 1e-12);
    }

    #[test]
    fn levels_replace_the_plane_and_keep_the_photo() -> Result<()> {
        let x = Tensor::rand(0f32, 1f32, (2, 4, 5, 4), &Device::Cpu)?;
        let out = with_levels(&x, &[51.0, 0.0])?;
        assert_eq!(out.dims(), x.dims());
        let diff = (out.narrow(3, 0, 3)? - x.narrow(3, 0, 3)?)?.abs()?;
        assert_eq!(diff.sum_all()?.to_scalar::<f32>()?, 0.0);
        let plane = out.narrow(3, 3, 1)?.flatten_from(1)?.to_vec2::<f32>()?;
        assert!(plane[0].iter().all(|&v| (v - 0.2).abs() < 1e-7));
        assert!(plane[1].iter().all(|&v| v == 0.0));
        Ok(())
    }

    /// The loss reaches the estimator's weights through a denoiser built from constants, and
    /// its gradient in the estimator's bias matches a finite difference.
    #[test]
    fn the_loss_trains_the_estimator_through_a_frozen_denoiser() -> Result<()> {
        let dev = Device::Cpu;
        let spec = crate::testing::tiny_spec(ModelKind::Denoise);
        let (_, denoiser_vars) = crate::testing::random_net(&spec, 0.3);
        let values = denoiser_vars
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect::<Vec<_>>();
        let net = Net::from_constants(values, &spec, &dev)?;
        let vm = VarMap::new();
        let est = NoiseEstimator::new(
            VarBuilder::from_varmap(&vm, DType::F32, &dev),
            &EstimatorConfig { width: 2 },
        )?;
        let bias = vm.data().lock().unwrap()["tail.bias"].clone();
        bias.set(&Tensor::new(&[2.5f32], &dev)?)?;
        let x = Tensor::rand(0f32, 1f32, (2, 16, 16, 4), &dev)?;
        let y = Tensor::rand(0f32, 1f32, (2, 16, 16, 3), &dev)?;
        let loss = restoration_loss(&net, &est, &x, &y, 40.0)?;
        let grads = loss.backward()?;
        let g = grads
            .get(bias.as_tensor())
            .expect("a gradient for the estimator");
        let g = g.to_vec1::<f32>()?[0] as f64;
        let at = |b: f32| -> Result<f64> {
            bias.set(&Tensor::new(&[b], &dev)?)?;
            Ok(restoration_loss(&net, &est, &x, &y, 40.0)?.to_scalar::<f32>()? as f64)
        };
        let h = 1e-2;
        let numeric = (at(2.5 + h)? - at(2.5 - h)?) / (2.0 * h as f64);
        assert!(
            (g - numeric).abs() <= 0.05 * numeric.abs() + 1e-5,
            "analytic {g} vs numeric {numeric}"
        );
        // The floor is added to each crop's error: against targets 1e-4 off the denoiser's own
        // output (an MSE of 1e-8, well under either floor), the loss is ln(1e-8 + floor).
        let rgb = x.narrow(3, 0, 3)?.contiguous()?;
        let levels = (est.forward(&rgb)?.exp()? - 1.0)?;
        let near = (net.forward(&with_level_tensor(&x, &levels)?)? + 1e-4)?;
        for db in [40.0, 30.0] {
            let loss = restoration_loss(&net, &est, &x, &near, db)?.to_scalar::<f32>()? as f64;
            let want = (1e-8 + mse_of_psnr(db)).ln();
            assert!(
                (loss - want).abs() < 1e-3,
                "floor {db} dB: {loss} vs {want}"
            );
        }
        // No gradient is computed for the denoiser's constants.
        for t in denoiser_vars.all_vars() {
            assert!(grads.get(t.as_tensor()).is_none());
        }
        Ok(())
    }
}
