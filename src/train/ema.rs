//! An exponential moving average of the trained weights (`finetune --ema D`): after every step
//! `average ← d·average + (1 − d)·weights`, with `d = min(D, (1 + t) / (10 + t))` at step `t`
//! so the first steps are not dominated by the starting weights' share. Validation scores the
//! average and the written weights are the average's best; the optimiser keeps stepping the live
//! weights. Checkpoints carry it (`ema.<var>`), so `--resume` continues it exactly.

use crate::ops::{f32_slice, f32_slice_mut};
use candle_core::{CpuStorage, InplaceOp2, Layout, Result, Tensor, Var};

/// The running average of some variables.
pub(super) struct Ema {
    decay: f64,
    /// One average per variable, in the order of the variables given to [`Ema::new`].
    average: Vec<Tensor>,
}

impl Ema {
    /// Starts the average at the variables' current values (copies: it is updated in place).
    pub(super) fn new(vars: &[(String, Var)], decay: f64) -> Result<Self> {
        let average = vars
            .iter()
            .map(|(_, v)| v.as_tensor().copy())
            .collect::<Result<_>>()?;
        Ok(Self { decay, average })
    }

    /// The decay used after step `step` (1-based).
    fn decay_at(&self, step: u64) -> f64 {
        self.decay.min((1 + step) as f64 / (10 + step) as f64)
    }

    /// Folds the variables' values after step `step` (1-based) into the average.
    pub(super) fn update(&mut self, vars: &[(String, Var)], step: u64) -> Result<()> {
        let d = self.decay_at(step);
        for (avg, (_, var)) in self.average.iter_mut().zip(vars) {
            let w = var.as_tensor();
            if w.device().is_cpu() {
                avg.inplace_op2(&w.contiguous()?, &Blend { keep: d as f32 })?;
            } else {
                *avg = ((&*avg * d)? + (w * (1.0 - d))?)?;
            }
        }
        Ok(())
    }

    /// The average as named tensors (`ema.<var>`), for checkpoints: copies.
    pub(super) fn state(&self, vars: &[(String, Var)]) -> Result<Vec<(String, Tensor)>> {
        vars.iter()
            .zip(&self.average)
            .map(|((name, _), avg)| Ok((format!("ema.{name}"), avg.copy()?)))
            .collect()
    }

    /// Restores the average saved by [`Ema::state`].
    pub(super) fn load_state(
        &mut self,
        vars: &[(String, Var)],
        get: impl Fn(&str) -> Result<Tensor>,
    ) -> Result<()> {
        for (avg, (name, _)) in self.average.iter_mut().zip(vars) {
            *avg = get(&format!("ema.{name}"))?.copy()?;
        }
        Ok(())
    }

    /// Runs `f` with the variables holding the average, then puts their own values back (also
    /// when `f` fails).
    pub(super) fn with_average<T>(
        &self,
        vars: &[(String, Var)],
        f: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let live = vars
            .iter()
            .map(|(_, v)| v.as_tensor().copy())
            .collect::<Result<Vec<_>>>()?;
        for ((_, var), avg) in vars.iter().zip(&self.average) {
            var.set(avg)?;
        }
        let out = f();
        for ((_, var), w) in vars.iter().zip(&live) {
            var.set(w)?;
        }
        out
    }
}

/// `a ← keep·a + (1 − keep)·w`, in place on the average `a`, from the weights `w`.
struct Blend {
    keep: f32,
}

impl InplaceOp2 for Blend {
    fn name(&self) -> &'static str {
        "ema-blend"
    }

    fn cpu_fwd(&self, a: &mut CpuStorage, al: &Layout, w: &CpuStorage, wl: &Layout) -> Result<()> {
        let (a, w) = (
            f32_slice_mut(a, al, self.name())?,
            f32_slice(w, wl, self.name())?,
        );
        for (a, &w) in a.iter_mut().zip(w) {
            *a = self.keep * *a + (1.0 - self.keep) * w;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn average_follows_the_formula_and_swaps_back() -> anyhow::Result<()> {
        let x = Var::new(&[1f32, -2.0], &Device::Cpu)?;
        let vars = vec![("x".to_string(), x.clone())];
        let mut ema = Ema::new(&vars, 0.9)?;
        let mut want = [1f64, -2.0];
        for (step, value) in [(1u64, [3f32, 0.0]), (2, [5.0, 4.0]), (50, [-1.0, 1.0])] {
            x.set(&Tensor::new(&value, &Device::Cpu)?)?;
            ema.update(&vars, step)?;
            let d = 0.9f64.min((1 + step) as f64 / (10 + step) as f64);
            for (w, v) in want.iter_mut().zip(value) {
                *w = d * *w + (1.0 - d) * f64::from(v);
            }
        }
        let seen = ema.with_average(&vars, || Ok(x.as_tensor().to_vec1::<f32>()?))?;
        for (s, w) in seen.iter().zip(want) {
            assert!((f64::from(*s) - w).abs() < 1e-5, "{seen:?} vs {want:?}");
        }
        // The live weights are back, also after a failing closure.
        assert_eq!(x.as_tensor().to_vec1::<f32>()?, [-1.0, 1.0]);
        assert!(ema
            .with_average::<()>(&vars, || anyhow::bail!("no"))
            .is_err());
        assert_eq!(x.as_tensor().to_vec1::<f32>()?, [-1.0, 1.0]);
        // A checkpoint round trip restores the same average.
        let state = ema.state(&vars)?;
        assert_eq!(state[0].0, "ema.x");
        let mut again = Ema::new(&vars, 0.9)?;
        again.load_state(&vars, |n| {
            assert_eq!(n, "ema.x");
            Ok(state[0].1.clone())
        })?;
        let restored = again.with_average(&vars, || Ok(x.as_tensor().to_vec1::<f32>()?))?;
        assert_eq!(restored, seen);
        Ok(())
    }
}
