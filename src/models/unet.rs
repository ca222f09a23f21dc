//! U-Net autoencoder used by `denoise` (RGB + noise-level map → RGB, residual) and
//! `colorize` (L → ab).
//!
//! ```text
//! head 3×3 ─ [ResBlock×b ─ skip ─ unshuffle 2 + 1×1]×(L-1) ─ ResBlock×b ─ [1×1 + shuffle 2 ─ +skip ─ ResBlock×b]×(L-1) ─ tail 3×3
//! ```
//! The levels are the shared [`Trunk`] (space-to-depth down, depth-to-space up, as in DRUNet).

use super::layers::Conv;
use super::trunk::Trunk;
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

/// Shape of a [`UNet`]; stored as JSON in the weights' `config` metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UNetConfig {
    /// Input channels (denoise: 4 = RGB + noise level; colorize: 1 = L).
    pub in_channels: usize,
    /// Output channels (denoise: 3; colorize: 2).
    pub out_channels: usize,
    /// Channels at each level, finest first; `widths.len()` levels, each halving the resolution.
    pub widths: Vec<usize>,
    /// Residual blocks per level (encoder, bottleneck and decoder each).
    pub blocks: usize,
    /// Add the first `out_channels` input channels to the output (predict a correction).
    pub residual: bool,
}

/// `[N, H, W, in_channels]` → `[N, H, W, out_channels]`; H and W must be multiples of
/// [`UNet::align`]. Inputs in `[0, 1]` (images) / normalised planes; output in the same range.
pub struct UNet {
    cfg: UNetConfig,
    head: Conv,
    trunk: Trunk,
    tail: Conv,
}

impl UNet {
    /// Keys: `head`, `down.{l}.blocks.{i}`, `down.{l}.resample`, `mid.{i}`, `up.{l}.resample`,
    /// `up.{l}.blocks.{i}`, `tail` (each with `.weight` / `.bias`).
    pub fn new(vb: VarBuilder, cfg: &UNetConfig) -> Result<Self> {
        let w = &cfg.widths;
        if w.is_empty() || cfg.in_channels == 0 || cfg.out_channels == 0 {
            candle_core::bail!(
                "unet config needs at least one level and non-zero channels: {cfg:?}"
            );
        }
        Ok(Self {
            head: Conv::new(vb.pp("head"), cfg.in_channels, w[0], 3, false)?,
            trunk: Trunk::new(&vb, w, cfg.blocks, 0)?,
            tail: Conv::new(vb.pp("tail"), w[0], cfg.out_channels, 3, cfg.residual)?,
            cfg: cfg.clone(),
        })
    }

    /// Height and width must be multiples of this (2^(levels-1)).
    pub fn align(&self) -> usize {
        1 << self.trunk.depth()
    }

    /// Full-resolution pixels on each side that influence one output pixel (an upper bound).
    pub fn radius(&self) -> usize {
        self.head.radius() + self.tail.radius() + self.trunk.radius()
    }

    /// Multiply-adds per full-resolution output pixel.
    pub fn macs_per_pixel(&self) -> f64 {
        (self.head.macs() + self.tail.macs()) as f64 + self.trunk.macs_per_pixel()
    }

    pub fn params(&self) -> usize {
        self.head.params() + self.tail.params() + self.trunk.params()
    }

    pub fn config(&self) -> &UNetConfig {
        &self.cfg
    }

    /// See [`Conv::prepare_inference`]: every conv of the net.
    pub fn prepare_inference(&mut self) -> Result<()> {
        self.head.prepare_inference()?;
        self.tail.prepare_inference()?;
        self.trunk.prepare_inference()
    }
}

impl Module for UNet {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (h, skips) = self.trunk.encode(self.head.forward(x)?)?;
        let out = self.tail.forward(&self.trunk.decode(h, skips)?)?;
        if self.cfg.residual {
            out + x.narrow(3, 0, self.cfg.out_channels)?
        } else {
            Ok(out)
        }
    }
}
