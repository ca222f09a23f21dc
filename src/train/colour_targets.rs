//! Colorize training targets for the classification colorizer: the clean crop's ab, averaged
//! down to the network's output grid, soft-encoded over the ab classes and weighted by class
//! rebalancing (Zhang et al. 2016), with the colour prior measured on the training photos.

use super::Dataset;
use crate::maths::color::{rgb_to_lab, AB_SCALE};
use crate::maths::colour_bins::{
    pixel_weights, AbBins, AbHistogram, Prior, REBALANCE_LAMBDA, SOFT_K,
};
use crate::models::{Arch, ModelSpec};
use anyhow::Result;

/// Every how many pixels (each way) the prior samples the training photos.
const PRIOR_STRIDE: usize = 8;

/// Soft class targets for a batch on the output grid (`N·h·w` positions).
pub struct ClassTargets {
    /// `[N, h, w, SOFT_K]` class indices (nearest first).
    pub index: Vec<u32>,
    /// `[N, h, w, SOFT_K]` soft weights, summing to 1 per position.
    pub weight: Vec<f32>,
    /// `[N, h, w]` rebalancing weight of each position's nearest class.
    pub rebalance: Vec<f32>,
}

/// Encodes ab targets into [`ClassTargets`]; built once per run.
pub struct ColourCoder {
    bins: &'static AbBins,
    class_weights: Vec<f32>,
    /// Output grid step in target pixels.
    stride: usize,
}

impl ColourCoder {
    /// The coder a model needs: `Some` for the classification colorizer.
    pub fn for_spec(spec: &ModelSpec, data: &Dataset) -> Result<Option<Self>> {
        match &spec.arch {
            Arch::Colornet(c) => Ok(Some(Self::new(data, 1 << c.out_level)?)),
            _ => Ok(None),
        }
    }

    /// Measures the colour prior on the training photos (never the held-out ones).
    pub fn new(data: &Dataset, stride: usize) -> Result<Self> {
        let bins = AbBins::shared();
        let mut hist = AbHistogram::new(bins);
        for img in &data.train {
            for y in (0..img.height()).step_by(PRIOR_STRIDE) {
                for x in (0..img.width()).step_by(PRIOR_STRIDE) {
                    let p = img.get_pixel(x, y).0.map(|v| v as f32 / 255.0);
                    let lab = rgb_to_lab(p);
                    hist.add(bins, lab[1], lab[2]);
                }
            }
        }
        let prior = Prior::from_histogram(bins, &hist)?;
        let class_weights = prior.rebalance_weights(REBALANCE_LAMBDA);
        Ok(Self {
            bins,
            class_weights,
            stride,
        })
    }

    /// Output grid step in target pixels.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// `ab`: `[n, side, side, 2]` targets in ab / [`AB_SCALE`] units → class targets on the
    /// `side / stride` output grid (ab averaged over each `stride`×`stride` cell first).
    pub fn encode(&self, ab: &[f32], n: usize, side: usize) -> ClassTargets {
        let small = downsample_ab(ab, n, side, self.stride);
        let lab_units: Vec<f32> = small.iter().map(|v| v * AB_SCALE).collect();
        let codes = self.bins.encode_plane(&lab_units);
        let mut index = Vec::with_capacity(codes.len() * SOFT_K);
        let mut weight = Vec::with_capacity(codes.len() * SOFT_K);
        for code in &codes {
            for &(i, w) in code {
                index.push(i as u32);
                weight.push(w);
            }
        }
        ClassTargets {
            index,
            weight,
            rebalance: pixel_weights(&codes, &self.class_weights),
        }
    }
}

/// Averages `[n, side, side, 2]` over `stride`×`stride` cells → `[n, side/stride, side/stride, 2]`.
pub fn downsample_ab(ab: &[f32], n: usize, side: usize, stride: usize) -> Vec<f32> {
    let small = side / stride;
    let mut out = vec![0f32; n * small * small * 2];
    let norm = 1.0 / (stride * stride) as f32;
    for img in 0..n {
        for y in 0..small * stride {
            for x in 0..small * stride {
                let src = ((img * side + y) * side + x) * 2;
                let dst = ((img * small + y / stride) * small + x / stride) * 2;
                out[dst] += ab[src] * norm;
                out[dst + 1] += ab[src + 1] * norm;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsample_averages_cells() {
        // One 4×4 image, stride 2: cell (0, 0) holds a = 0, 0.2, 0.4, 0.6 → 0.3.
        let mut ab = vec![0f32; 4 * 4 * 2];
        for (i, (y, x)) in [(0, 0), (0, 1), (1, 0), (1, 1)].into_iter().enumerate() {
            ab[(y * 4 + x) * 2] = 0.2 * i as f32;
            ab[(y * 4 + x) * 2 + 1] = -0.1;
        }
        let small = downsample_ab(&ab, 1, 4, 2);
        assert_eq!(small.len(), 2 * 2 * 2);
        assert!((small[0] - 0.3).abs() < 1e-6 && (small[1] + 0.1).abs() < 1e-6);
        assert!(small[2..].iter().all(|v| v.abs() < 1e-9));
    }
}
