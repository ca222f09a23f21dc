//! The encoder–bottleneck–decoder trunk shared by [`super::UNet`] and [`super::ColorNet`]:
//!
//! ```text
//! [ResBlock×b ─ skip ─ unshuffle 2 + 1×1]×(L-1) ─ ResBlock×b ─ (caller's step) ─ [1×1 + shuffle 2 ─ +skip ─ ResBlock×b] down to `out_level`
//! ```
//! Downsampling is space-to-depth + 1×1 conv (a 2×2 stride-2 conv) and upsampling is 1×1 conv +
//! depth-to-space (a 2×2 stride-2 transposed conv), as in DRUNet; no pooling, no interpolation,
//! so every op has a correct CPU gradient in candle.

use super::layers::{pixel_shuffle, pixel_unshuffle, Conv, ResBlock};
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

struct Level {
    blocks: Vec<ResBlock>,
    /// Encoder: 1×1 conv after unshuffle (4·C_l → C_{l+1}). Decoder: 1×1 conv before shuffle (C_{l+1} → 4·C_l).
    resample: Conv,
}

impl Level {
    fn params(&self) -> usize {
        self.resample.params() + self.blocks.iter().map(ResBlock::params).sum::<usize>()
    }

    fn prepare_inference(&mut self) -> Result<()> {
        self.resample.prepare_inference()?;
        self.blocks
            .iter_mut()
            .try_for_each(ResBlock::prepare_inference)
    }
}

fn res_blocks(vb: VarBuilder, n: usize, c: usize) -> Result<Vec<ResBlock>> {
    (0..n).map(|i| ResBlock::new(vb.pp(i), c)).collect()
}

fn run_blocks(blocks: &[ResBlock], mut x: Tensor) -> Result<Tensor> {
    for b in blocks {
        x = b.forward(&x)?;
    }
    Ok(x)
}

/// `[N, H, W, widths[0]]` → bottleneck `[N, H/2^(L-1), W/2^(L-1), widths[L-1]]` → `[N, H/2^o,
/// W/2^o, widths[o]]` with `o = out_level` (0: the input resolution).
pub(super) struct Trunk {
    down: Vec<Level>,
    mid: Vec<ResBlock>,
    /// Decoder levels `out_level..L-1`, finest first.
    up: Vec<Level>,
    out_level: usize,
}

impl Trunk {
    /// Keys: `down.{l}.blocks.{i}`, `down.{l}.resample`, `mid.{i}`, `up.{l}.resample`,
    /// `up.{l}.blocks.{i}` (l ≥ `out_level`). `widths` must not be empty.
    pub(super) fn new(
        vb: &VarBuilder,
        widths: &[usize],
        blocks: usize,
        out_level: usize,
    ) -> Result<Self> {
        let w = widths;
        let levels = w.len() - 1;
        let down = (0..levels)
            .map(|l| {
                let vb = vb.pp("down").pp(l);
                Ok(Level {
                    blocks: res_blocks(vb.pp("blocks"), blocks, w[l])?,
                    resample: Conv::new(vb.pp("resample"), 4 * w[l], w[l + 1], 1, false)?,
                })
            })
            .collect::<Result<_>>()?;
        let up = (out_level..levels)
            .map(|l| {
                let vb = vb.pp("up").pp(l);
                Ok(Level {
                    resample: Conv::new(vb.pp("resample"), w[l + 1], 4 * w[l], 1, false)?,
                    blocks: res_blocks(vb.pp("blocks"), blocks, w[l])?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            down,
            mid: res_blocks(vb.pp("mid"), blocks, w[levels])?,
            up,
            out_level,
        })
    }

    /// Downsampling steps (levels − 1); input sides must be multiples of `2^depth`.
    pub(super) fn depth(&self) -> usize {
        self.down.len()
    }

    /// Encoder and bottleneck: the bottleneck features and the skips, finest first.
    pub(super) fn encode(&self, mut h: Tensor) -> Result<(Tensor, Vec<Tensor>)> {
        let mut skips = Vec::with_capacity(self.down.len());
        for level in &self.down {
            h = run_blocks(&level.blocks, h)?;
            skips.push(h.clone());
            h = level.resample.forward(&pixel_unshuffle(&h, 2)?)?;
        }
        Ok((run_blocks(&self.mid, h)?, skips))
    }

    /// Decoder from the bottleneck up to `out_level`, adding the matching skips.
    pub(super) fn decode(&self, mut h: Tensor, mut skips: Vec<Tensor>) -> Result<Tensor> {
        for level in self.up.iter().rev() {
            let skip = skips.pop().expect("one skip per level");
            h = (pixel_shuffle(&level.resample.forward(&h)?, 2)? + skip)?;
            h = run_blocks(&level.blocks, h)?;
        }
        Ok(h)
    }

    /// Input pixels on each side that influence one output pixel (an upper bound).
    pub(super) fn radius(&self) -> usize {
        let mut r = 0;
        for (l, d) in self.down.iter().enumerate() {
            let scale = 1 << l;
            let up = l
                .checked_sub(self.out_level)
                .and_then(|i| self.up.get(i))
                .map_or(0, |u| u.blocks.iter().map(ResBlock::radius).sum());
            let blocks: usize = d.blocks.iter().map(ResBlock::radius).sum::<usize>() + up;
            // Blocks run at 2^l; each resample step can mix a whole 2^(l+1) cell.
            r += blocks * scale + 2 * (2 * scale);
        }
        r + self.mid.iter().map(ResBlock::radius).sum::<usize>() * (1 << self.depth())
    }

    /// Multiply-adds per input pixel.
    pub(super) fn macs_per_pixel(&self) -> f64 {
        let at = |n: usize, level: usize| n as f64 / (1usize << (2 * level)) as f64;
        let level_macs = |lv: &Level, l: usize| {
            at(lv.blocks.iter().map(ResBlock::macs).sum(), l) + at(lv.resample.macs(), l + 1)
        };
        let down: f64 = self
            .down
            .iter()
            .enumerate()
            .map(|(l, d)| level_macs(d, l))
            .sum();
        let up: f64 = (self.up.iter().zip(self.out_level..))
            .map(|(u, l)| level_macs(u, l))
            .sum();
        down + up + at(self.mid.iter().map(ResBlock::macs).sum(), self.depth())
    }

    pub(super) fn params(&self) -> usize {
        self.mid.iter().map(ResBlock::params).sum::<usize>()
            + self
                .down
                .iter()
                .chain(&self.up)
                .map(Level::params)
                .sum::<usize>()
    }

    /// See [`Conv::prepare_inference`]: every conv of the trunk.
    pub(super) fn prepare_inference(&mut self) -> Result<()> {
        for level in self.down.iter_mut().chain(&mut self.up) {
            level.prepare_inference()?;
        }
        self.mid
            .iter_mut()
            .try_for_each(ResBlock::prepare_inference)
    }
}
