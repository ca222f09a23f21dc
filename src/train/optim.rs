//! AdamW with its state exposed (candle-nn's keeps its moments private, so a checkpoint could
//! not resume it exactly), global-norm gradient clipping and a warm-up + cosine schedule.
//!
//! On the CPU a variable's update is three in-place passes (first moment, second moment, weights)
//! instead of a dozen candle ops that each allocate a tensor the size of the variable.

use crate::ops::{f32_slice, f32_slice_mut};
use candle_core::{
    backprop::GradStore, CpuStorage, InplaceOp2, InplaceOp3, Layout, Result, Tensor, Var,
};

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
        let k = Apply {
            lr: lr as f32,
            decay: (1.0 - lr * c.weight_decay) as f32,
            bc1: (1.0 - c.beta1.powi(self.step as i32)) as f32,
            bc2: (1.0 - c.beta2.powi(self.step as i32)) as f32,
            eps: c.eps as f32,
        };
        for (i, (_, var)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var) else { continue };
            // Detached: gradients carry the step's autograd graph, which the moments must not keep alive.
            let g = g.detach();
            let (m, v, theta) = (&self.m[i], &self.v[i], var.as_tensor());
            if theta.device().is_cpu() {
                let moment = |beta: f64, square| Moment {
                    beta: beta as f32,
                    scale: grad_scale as f32,
                    square,
                };
                let g = g.contiguous()?;
                m.inplace_op2(&g, &moment(c.beta1, false))?;
                v.inplace_op2(&g, &moment(c.beta2, true))?;
                theta.inplace_op3(m, v, &k)?;
            } else {
                let g = (g * grad_scale)?;
                let m = ((m * c.beta1)? + (&g * (1.0 - c.beta1))?)?;
                let v = ((v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
                let update =
                    ((&m / f64::from(k.bc1))? / ((&v / f64::from(k.bc2))?.sqrt()? + c.eps)?)?;
                var.set(&((theta * f64::from(k.decay))? - (update * lr)?)?)?;
                (self.m[i], self.v[i]) = (m, v);
            }
        }
        Ok(())
    }

    /// Optimizer state as named tensors (`opt.m.<var>`, `opt.v.<var>`), for checkpoints: copies,
    /// since [`AdamW::step`] updates the moments in place.
    pub fn state(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::with_capacity(2 * self.vars.len());
        for (i, (name, _)) in self.vars.iter().enumerate() {
            out.push((format!("opt.m.{name}"), self.m[i].copy()?));
            out.push((format!("opt.v.{name}"), self.v[i].copy()?));
        }
        Ok(out)
    }

    /// Restores the moments saved by [`AdamW::state`].
    pub fn load_state(&mut self, step: u64, get: impl Fn(&str) -> Result<Tensor>) -> Result<()> {
        for (i, (name, _)) in self.vars.iter().enumerate() {
            // Copies of their own: the moments are updated in place.
            self.m[i] = get(&format!("opt.m.{name}"))?.copy()?;
            self.v[i] = get(&format!("opt.v.{name}"))?.copy()?;
        }
        self.step = step;
        Ok(())
    }
}

/// `m ← β·m + (1 − β)·(s·g)` (`square`: `(s·g)²`), in place on the moment `m`, from the gradient `g`.
struct Moment {
    beta: f32,
    scale: f32,
    square: bool,
}

/// `θ ← decay·θ − lr·(m / bc1) / (√(v / bc2) + eps)`, in place on the weights `θ`.
struct Apply {
    lr: f32,
    decay: f32,
    bc1: f32,
    bc2: f32,
    eps: f32,
}

impl InplaceOp2 for Moment {
    fn name(&self) -> &'static str {
        "adamw-moment"
    }

    fn cpu_fwd(&self, m: &mut CpuStorage, ml: &Layout, g: &CpuStorage, gl: &Layout) -> Result<()> {
        let (m, g) = (
            f32_slice_mut(m, ml, self.name())?,
            f32_slice(g, gl, self.name())?,
        );
        for (m, &g) in m.iter_mut().zip(g) {
            let g = g * self.scale;
            let g = if self.square { g * g } else { g };
            *m = self.beta * *m + (1.0 - self.beta) * g;
        }
        Ok(())
    }
}

impl InplaceOp3 for Apply {
    fn name(&self) -> &'static str {
        "adamw-apply"
    }

    fn cpu_fwd(
        &self,
        theta: &mut CpuStorage,
        tl: &Layout,
        m: &CpuStorage,
        ml: &Layout,
        v: &CpuStorage,
        vl: &Layout,
    ) -> Result<()> {
        let op = self.name();
        let theta = f32_slice_mut(theta, tl, op)?;
        let (m, v) = (f32_slice(m, ml, op)?, f32_slice(v, vl, op)?);
        for ((t, &m), &v) in theta.iter_mut().zip(m).zip(v) {
            *t = self.decay * *t - self.lr * (m / self.bc1) / ((v / self.bc2).sqrt() + self.eps);
        }
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
    fn in_place_steps_follow_the_adamw_formula() -> Result<()> {
        let cfg = AdamWConfig::default();
        let (x0, lr, scale) = ([0.5f32, -1.5, 2.0], 0.01, 0.5);
        let x = Var::new(&x0, &Device::Cpu)?;
        let mut opt = AdamW::new(vec![("x".into(), x.clone())], cfg)?;
        // The same three steps by the formula, in f64: the gradient of Σ x³ is 3x².
        let (mut want, mut m, mut v) = (x0.map(f64::from), [0f64; 3], [0f64; 3]);
        for t in 1..=3 {
            let grads = x.as_tensor().powf(3.0)?.sum_all()?.backward()?;
            opt.step(&grads, lr, scale)?;
            for i in 0..3 {
                let g = 3.0 * want[i] * want[i] * scale;
                m[i] = cfg.beta1 * m[i] + (1.0 - cfg.beta1) * g;
                v[i] = cfg.beta2 * v[i] + (1.0 - cfg.beta2) * g * g;
                let update = m[i]
                    / (1.0 - cfg.beta1.powi(t))
                    / ((v[i] / (1.0 - cfg.beta2.powi(t))).sqrt() + cfg.eps);
                want[i] = want[i] * (1.0 - lr * cfg.weight_decay) - lr * update;
            }
        }
        let got = x.as_tensor().to_vec1::<f32>()?;
        for (g, w) in got.iter().zip(want) {
            assert!((f64::from(*g) - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
        // The saved state is a copy: a later step does not change it.
        let saved = opt.state()?.remove(0).1;
        let before = saved.to_vec1::<f32>()?;
        let grads = x.as_tensor().sum_all()?.backward()?;
        opt.step(&grads, lr, 1.0)?;
        assert_eq!(saved.to_vec1::<f32>()?, before);
        assert_ne!(opt.state()?[0].1.to_vec1::<f32>()?, before);
        Ok(())
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
