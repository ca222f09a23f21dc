//! Training batches: batch `step` is drawn from an RNG seeded by `(seed, step)`.

use super::{Dataset, Hyper};
use anyhow::Result;
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};

/// A batch of `n` pairs: `([N, h, w, C_in], [N, H, W, C_out])`.
pub(super) struct Batch {
    pub(super) input: Vec<f32>,
    pub(super) target: Vec<f32>,
}

pub(super) fn make_batch(data: &Dataset, h: &Hyper, step: u64) -> Batch {
    let mut rng =
        rand::rngs::StdRng::seed_from_u64(h.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step);
    let deg = h.degradation(None);
    let side = deg.clean_side(h.patch);
    let mut batch = Batch {
        input: Vec::new(),
        target: Vec::new(),
    };
    for _ in 0..h.batch {
        let img = &data.train[rng.random_range(0..data.train.len())];
        let clean = super::data::random_crop(img, side, h.zoom(), &mut rng);
        let pair = deg.apply(&clean, &mut rng);
        batch.input.extend(pair.input);
        batch.target.extend(pair.target);
    }
    batch
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
