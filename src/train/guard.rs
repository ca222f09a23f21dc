//! Stops training at the first non-finite number (a learning rate too high for the data, a
//! broken base), before it reaches the weights, a checkpoint or a validation score.

use anyhow::{bail, Result};
use candle_core::Var;

fn diverged(step: u64, what: &str, lr: f64) -> anyhow::Error {
    anyhow::anyhow!(
        "training diverged at step {step}: {what}; stopped without writing weights (the last checkpoint, if any, is from before it). Try a lower --lr (this run: {lr:e})"
    )
}

/// Errors when step `step`'s loss or gradient norm is NaN or infinite.
pub(super) fn ensure_finite(loss: f32, grad_norm: f64, step: u64, lr: f64) -> Result<()> {
    if !(loss.is_finite() && grad_norm.is_finite()) {
        bail!(diverged(
            step,
            &format!("the loss is {loss} and the gradient norm {grad_norm}"),
            lr
        ));
    }
    Ok(())
}

/// Errors when an update left a NaN or infinite weight.
pub(super) fn ensure_finite_weights(vars: &[(String, Var)], step: u64, lr: f64) -> Result<()> {
    for (name, var) in vars {
        let sum = var.as_tensor().sum_all()?.to_scalar::<f32>()?;
        if !sum.is_finite() {
            bail!(diverged(step, &format!("weight `{name}` became {sum}"), lr));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn names_the_step_and_suggests_a_lower_rate() {
        assert!(ensure_finite(0.5, 2.0, 3, 1e-3).is_ok());
        for (loss, norm) in [(f32::NAN, 1.0), (0.5, f64::INFINITY)] {
            let msg = ensure_finite(loss, norm, 7, 5.0).unwrap_err().to_string();
            assert!(
                msg.contains("step 7") && msg.contains("lower --lr"),
                "{msg}"
            );
        }
        let ok = Var::new(&[1f32, 2.0], &Device::Cpu).unwrap();
        let bad = Var::new(&[1f32, f32::NAN], &Device::Cpu).unwrap();
        assert!(ensure_finite_weights(&[("a".into(), ok.clone())], 1, 1e-3).is_ok());
        let msg = ensure_finite_weights(&[("a".into(), ok), ("b".into(), bad)], 4, 1e-3)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("step 4") && msg.contains("`b`"), "{msg}");
    }
}
