//! Colorization network: L in, a probability distribution over quantised ab colours out
//! (Zhang, Isola & Efros 2016), with a global scene vector fused into every position (Iizuka
//! et al. 2016) so the whole photo decides its palette.
//!
//! ```text
//! L ─ head 3×3 ─ [ResBlock×b ─ skip ─ unshuffle 2 + 1×1]×(L-1) ─ ResBlock×b ─ + global(mean → 1×1 → ReLU → 1×1)
//!   ─ [1×1 + shuffle 2 ─ +skip ─ ResBlock×b] up to level `out_level` ─ 1×1 → bin logits
//! ```
//! Colour is low-frequency, so the logits come out at `1 / 2^out_level` of the input resolution
//! and the finest decoder levels are never computed; the caller decodes the logits with the
//! annealed mean (`colour_bins`) and recombines the upsampled ab with the full-resolution L.

use super::layers::Conv;
use super::trunk::Trunk;
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

/// Shape of a [`ColorNet`]; stored as JSON in the weights' `config` metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColorNetConfig {
    /// Channels at each level, finest first; each level halves the resolution.
    pub widths: Vec<usize>,
    /// Residual blocks per level (encoder, bottleneck and decoder each).
    pub blocks: usize,
    /// Number of ab classes (the `colour_bins` grid).
    pub bins: usize,
    /// Level the logits come out at (0 = input resolution); `< widths.len()`.
    pub out_level: usize,
}

/// `[N, H, W, 1]` (L / 100) → `[N, H / 2^out_level, W / 2^out_level, bins]` logits; H and W must
/// be multiples of [`ColorNet::align`].
pub struct ColorNet {
    cfg: ColorNetConfig,
    head: Conv,
    trunk: Trunk,
    global: (Conv, Conv),
    tail: Conv,
}

impl ColorNet {
    /// Keys: `head`, `down.{l}.blocks.{i}`, `down.{l}.resample`, `mid.{i}`, `global.0`,
    /// `global.1`, `up.{l}.resample`, `up.{l}.blocks.{i}` (l ≥ out_level), `tail`.
    pub fn new(vb: VarBuilder, cfg: &ColorNetConfig) -> Result<Self> {
        let w = &cfg.widths;
        if w.is_empty() || cfg.bins == 0 || cfg.out_level >= w.len() {
            candle_core::bail!(
                "colornet config needs levels, bins and out_level < levels: {cfg:?}"
            );
        }
        let deep = w[w.len() - 1];
        Ok(Self {
            head: Conv::new(vb.pp("head"), 1, w[0], 3, false)?,
            trunk: Trunk::new(&vb, w, cfg.blocks, cfg.out_level)?,
            global: (
                Conv::new(vb.pp("global").pp(0), deep, deep, 1, false)?,
                Conv::new(vb.pp("global").pp(1), deep, deep, 1, true)?,
            ),
            tail: Conv::new(vb.pp("tail"), w[cfg.out_level], cfg.bins, 1, false)?,
            cfg: cfg.clone(),
        })
    }

    /// Height and width must be multiples of this (2^(levels-1)).
    pub fn align(&self) -> usize {
        1 << self.trunk.depth()
    }

    /// Output grid step in input pixels.
    pub fn out_stride(&self) -> usize {
        1 << self.cfg.out_level
    }

    /// Multiply-adds per input pixel (the global branch is negligible).
    pub fn macs_per_pixel(&self) -> f64 {
        let tail = self.tail.macs() as f64 / (1usize << (2 * self.cfg.out_level)) as f64;
        self.head.macs() as f64 + tail + self.trunk.macs_per_pixel()
    }

    pub fn params(&self) -> usize {
        self.head.params()
            + self.tail.params()
            + self.global.0.params()
            + self.global.1.params()
            + self.trunk.params()
    }

    pub fn config(&self) -> &ColorNetConfig {
        &self.cfg
    }

    /// See [`Conv::prepare_inference`]: every conv of the net.
    pub fn prepare_inference(&mut self) -> Result<()> {
        self.head.prepare_inference()?;
        self.tail.prepare_inference()?;
        self.global.0.prepare_inference()?;
        self.global.1.prepare_inference()?;
        self.trunk.prepare_inference()
    }
}

impl Module for ColorNet {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (h, skips) = self.trunk.encode(self.head.forward(x)?)?;
        // Global scene vector: [N, 1, 1, C], added to every position.
        let g = h.mean_keepdim(1)?.mean_keepdim(2)?;
        let g = self.global.1.forward(&self.global.0.forward_relu(&g)?)?;
        self.tail
            .forward(&self.trunk.decode(h.broadcast_add(&g)?, skips)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    fn tiny() -> ColorNetConfig {
        ColorNetConfig {
            widths: vec![4, 6, 8],
            blocks: 1,
            bins: 5,
            out_level: 1,
        }
    }

    #[test]
    fn logits_come_out_at_the_output_level_and_every_weight_learns() -> Result<()> {
        let vm = VarMap::new();
        let net = ColorNet::new(
            VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
            &tiny(),
        )?;
        let x = Tensor::rand(0f32, 1f32, (2, 8, 12, 1), &Device::Cpu)?;
        let y = net.forward(&x)?;
        assert_eq!(y.dims(), &[2, 4, 6, 5]);
        assert_eq!(net.align(), 4);
        assert_eq!(net.out_stride(), 2);
        assert_eq!(
            net.params(),
            vm.all_vars().iter().map(|v| v.elem_count()).sum::<usize>()
        );
        // The zero-initialised last global layer blocks gradients to the first at init only
        // through its weight; every variable still receives a gradient tensor.
        let grads = y.sqr()?.sum_all()?.backward()?;
        for var in vm.all_vars() {
            assert!(grads.get(var.as_tensor()).is_some());
        }
        Ok(())
    }

    #[test]
    fn the_global_branch_sees_the_whole_image() -> Result<()> {
        // Changing a far corner changes the logits everywhere once the global branch is on. The
        // weights are drawn seeded by name (an unseeded draw of this width-4 net left the global
        // branch's ReLU dead for both inputs now and then).
        let spec = crate::testing::small_spec(crate::models::ModelKind::Colorize);
        let (net, _) = crate::testing::random_net(&spec, 0.3);
        let a = Tensor::zeros((1, 32, 32, 1), DType::F32, &Device::Cpu)?;
        let b = a.slice_assign(
            &[0..1, 28..32, 28..32, 0..1],
            &Tensor::ones((1, 4, 4, 1), DType::F32, &Device::Cpu)?,
        )?;
        let d = (net.forward(&a)? - net.forward(&b)?)?.abs()?;
        // The top-left output position is far outside the corner's local receptive field.
        let corner = d
            .narrow(1, 0, 1)?
            .narrow(2, 0, 1)?
            .sum_all()?
            .to_scalar::<f32>()?;
        assert!(
            corner > 1e-6,
            "global context did not reach the far corner: {corner}"
        );
        Ok(())
    }
}
