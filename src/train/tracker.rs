//! Whether training helps: the base model's validation PSNR (measured before step 1), the
//! best validation so far and a copy of its weights, which are the ones written at the end.

use super::model::Model;
use anyhow::Result;
use candle_core::Tensor;

/// Gains smaller than this (dB) count as no gain.
const NO_GAIN_DB: f64 = 0.01;

struct Best {
    step: u64,
    psnr: f64,
    tensors: Vec<(String, Tensor)>,
}

/// Validation results of a run.
pub(super) struct Tracker {
    /// Validation PSNR of the weights training started from (`None`: unknown, e.g. resumed
    /// from a checkpoint written before it was recorded).
    pub(super) base: Option<f64>,
    best: Option<Best>,
}

impl Tracker {
    pub(super) fn new(base: Option<f64>) -> Self {
        Self { base, best: None }
    }

    /// Records the validation PSNR of `model` after `step` steps; keeps a copy of its weights
    /// when it is the best so far (non-finite PSNRs never are).
    pub(super) fn record(&mut self, step: u64, psnr: f64, model: &Model) -> Result<()> {
        if !psnr.is_finite() || self.best.as_ref().is_some_and(|b| b.psnr >= psnr) {
            return Ok(());
        }
        let tensors = model
            .tensors()
            .into_iter()
            .map(|(n, t)| Ok((n, t.copy()?)))
            .collect::<Result<_>>()?;
        self.best = Some(Best {
            step,
            psnr,
            tensors,
        });
        Ok(())
    }

    /// `"base model X dB, +Y dB"` for a validation line, or empty when the base is unknown.
    pub(super) fn versus_base(&self, psnr: f64) -> String {
        match self.base {
            Some(b) => format!("base model {b:.2} dB, {:+.2} dB; ", psnr - b),
            None => String::new(),
        }
    }

    /// Step and PSNR of the best validation.
    pub(super) fn best(&self) -> Option<(u64, f64)> {
        self.best.as_ref().map(|b| (b.step, b.psnr))
    }

    /// Whether the best weights beat the base model (unknown base: assumed yes).
    pub(super) fn improved(&self) -> bool {
        match (self.base, self.best()) {
            (Some(base), Some((_, best))) => best > base + NO_GAIN_DB,
            _ => true,
        }
    }

    /// The best weights, if any validation was recorded.
    pub(super) fn into_best_tensors(self) -> Option<Vec<(String, Tensor)>> {
        self.best.map(|b| b.tensors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn improvement_needs_a_real_gain_over_the_base() {
        let mut t = Tracker::new(Some(30.0));
        assert_eq!(t.versus_base(30.5), "base model 30.00 dB, +0.50 dB; ");
        t.best = Some(Best {
            step: 10,
            psnr: 30.005,
            tensors: Vec::new(),
        });
        assert!(!t.improved());
        t.best.as_mut().unwrap().psnr = 30.2;
        assert!(t.improved());
        assert_eq!(t.best(), Some((10, 30.2)));
        assert!(Tracker::new(None).improved());
        assert_eq!(Tracker::new(None).versus_base(1.0), "");
    }
}
