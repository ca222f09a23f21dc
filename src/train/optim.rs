//! AdamW with its state exposed (candle-nn's keeps its moments private, so a checkpoint could
//! not resume it exactly), global-norm gradient clipping and a warm-up + cosine schedule.

use candle_core::{backprop::GradStore, Result, Tensor, Var};

/// Hyper-parameters of [`AdamW`].
#[derive(Clone, Copy, Debug)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
        }
    }
}

/// Decoupled-weight-decay Adam over named variables.
pub struct AdamW {
    cfg: AdamWConfig,
    vars: Vec<(String, Var)>,
    /// First and second moments, one per variable (same order as `vars`).
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// Updates applied so far (bias correction uses it).
    pub step: u64,
}

impl AdamW {
    pub fn new(mut vars: Vec<(String, Var)>, cfg: AdamWConfig) -> Result<Self> {
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |v: &Var| v.as_tensor().zeros_like();
        let m = vars.iter().map(|(_, v)| zeros(v)).collect::<Result<_>>()?;
        let v = vars.iter().map(|(_, v)| zeros(v)).collect::<Result<_>>()?;
        Ok(Self {
            cfg,
            vars,
            m,
            v,
            step: 0,
        })
    }

    /// Global L2 norm of the gradients.
    pub fn grad_norm(&self, grads: &GradStore) -> Result<f32> {
        let mut sum = 0f32;
        for (_, var) in &self.vars {
            if let Some(g) = grads.get(var) {
                sum += g.sqr()?.sum_all()?.to_scalar::<f32>()?;
            }
        }
        Ok(sum.sqrt())
    }

    /// One update with learning rate `lr`, gradients scaled by `grad_scale` (clipping).
    pub fn step(&mut self, grads: &GradStore, lr: f64, grad_scale: f64) -> Result<()> {
        self.step += 1;
        let c = self.cfg;
        let bc1 = 1.0 - c.beta1.powi(self.step as i32);
        let bc2 = 1.0 - c.beta2.powi(self.step as i32);
        for (i, (_, var)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var) else { continue };
            // Detached: gradients carry the step's autograd graph, which the moments must not keep alive.
            let g = (g.detach() * grad_scale)?;
            self.m[i] = ((&self.m[i] * c.beta1)? + (&g * (1.0 - c.beta1))?)?;
            self.v[i] = ((&self.v[i] * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let update = ((&self.m[i] / bc1)? / ((&self.v[i] / bc2)?.sqrt()? + c.eps)?)?;
            let theta = var.as_tensor();
            let next = ((theta * (1.0 - lr * c.weight_decay))? - (update * lr)?)?;
            var.set(&next)?;
        }
        Ok(())
    }

    /// Optimizer state as named tensors (`opt.m.<var>`, `opt.v.<var>`), for checkpoints.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.vars
            .iter()
            .enumerate()
            .flat_map(|(i, (name, _))| {
                [
                    (format!("opt.m.{name}"), self.m[i].clone()),
                    (format!("opt.v.{name}"), self.v[i].clone()),
                ]
            })
            .collect()
    }

    /// Restores the moments saved by [`AdamW::state`].
    pub fn load_state(&mut self, step: u64, get: impl Fn(&str) -> Result<Tensor>) -> Result<()> {
        for (i, (name, _)) in self.vars.iter().enumerate() {
            self.m[i] = get(&format!("opt.m.{name}"))?;
            self.v[i] = get(&format!("opt.v.{name}"))?;
        }
        self.step = step;
        Ok(())
    }
}

/// Linear warm-up to `peak` over `warmup` steps, then cosine decay to `peak · floor` at `total`.
pub fn learning_rate(step: u64, total: u64, warmup: u64, peak: f64, floor: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let t = ((step - warmup) as f64 / span).min(1.0);
    peak * (floor + (1.0 - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn schedule_warms_up_then_decays() {
        assert!(learning_rate(0, 100, 10, 1.0, 0.1) < 0.2);
        assert!((learning_rate(9, 100, 10, 1.0, 0.1) - 1.0).abs() < 1e-12);
        assert!((learning_rate(10, 100, 10, 1.0, 0.1) - 1.0).abs() < 1e-12);
        assert!((learning_rate(100, 100, 10, 1.0, 0.1) - 0.1).abs() < 1e-12);
        assert!(learning_rate(50, 100, 10, 1.0, 0.1) < learning_rate(30, 100, 10, 1.0, 0.1));
    }

    #[test]
    fn adamw_minimises_a_quadratic() -> Result<()> {
        let x = Var::new(&[3f32, -2.0], &Device::Cpu)?;
        let mut opt = AdamW::new(
            vec![("x".into(), x.clone())],
            AdamWConfig {
                weight_decay: 0.0,
                ..Default::default()
            },
        )?;
        for _ in 0..300 {
            let grads = x.as_tensor().sqr()?.sum_all()?.backward()?;
            opt.step(&grads, 0.05, 1.0)?;
        }
        let v = x.as_tensor().to_vec1::<f32>()?;
        assert!(v.iter().all(|v| v.abs() < 0.05), "{v:?}");
        Ok(())
    }
}
