//! Training batches: batch `step` is drawn from an RNG seeded by `(seed, step)`.

use super::colour_targets::{ClassTargets, ColourCoder};
use super::{Dataset, Hyper};
use anyhow::Result;
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};

/// A batch of `n` pairs: `([N, h, w, C_in], [N, H, W, C_out])`.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) input: Vec<f32>,
    pub(super) target: Vec<f32>,
    /// Per example: the degradation's level on the 0–255 scale (see [`super::Pair::level`]).
    pub(super) levels: Vec<f32>,
    /// Classification colorizer: soft class targets on the output grid.
    pub(super) classes: Option<ClassTargets>,
}

pub(super) fn make_batch(
    data: &Dataset,
    h: &Hyper,
    step: u64,
    coder: Option<&ColourCoder>,
) -> Batch {
    let mut rng =
        rand::rngs::StdRng::seed_from_u64(h.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step);
    let deg = h.degradation(None);
    let side = deg.clean_side(h.patch);
    let mut batch = Batch::default();
    for _ in 0..h.batch {
        let img = &data.train[rng.random_range(0..data.train.len())];
        let clean = h.crop(img, side, &mut rng);
        batch.push(deg.apply(&clean, &mut rng));
    }
    batch.classes = coder.map(|c| c.encode(&batch.target, h.batch, side as usize));
    batch
}

impl Batch {
    pub(super) fn push(&mut self, pair: super::Pair) {
        self.input.extend(pair.input);
        self.target.extend(pair.target);
        self.levels.push(pair.level);
    }
}

pub(super) fn to_tensors(
    b: &Batch,
    h: &Hyper,
    n: usize,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let (ci, co) = h.kind().channels();
    let p = h.patch as usize;
    let hr = p * h.scale;
    Ok((
        Tensor::from_vec(b.input.clone(), (n, p, p, ci), device)?,
        Tensor::from_vec(b.target.clone(), (n, hr, hr, co), device)?,
    ))
}
