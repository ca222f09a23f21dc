//! Quantised ab colour classes for the classification colorizer (after Zhang, Isola & Efros
//! 2016, "Colorful Image Colorization"): the in-gamut 10×10 ab grid, soft-encoded per-pixel
//! targets, the smoothed empirical colour prior with its class-rebalancing weights, and the
//! annealed-mean decoding of predicted class logits back to ab.
//!
//! All a/b values are in CIE Lab units (D65, L in `[0, 100]`, a/b roughly `[-110, 110]`), i.e.
//! *not* divided by [`crate::maths::color::AB_SCALE`]. Pure maths on `f32` slices; no tensors.
//!
//! Training data flow: `ab` plane (HW×2) → [`AbBins::encode_plane`] → per-pixel [`SoftCode`]s →
//! either [`AbBins::gather_targets`] (5 indices + 5 weights per pixel, for a `gather` on the
//! log-softmax) or [`AbBins::dense_targets`] (B×Q×HW) as the cross-entropy target, and
//! [`pixel_weights`] with [`Prior::rebalance_weights`] as the per-pixel loss weight.
//! Inference: logits → [`AbBins::annealed_mean_plane`] → ab plane.

use palette::{convert::FromColorUnclamped, Lab, LinSrgb};

/// Spacing of the ab grid in Lab units; bin centres sit at multiples of it.
pub const GRID_STEP: f32 = 10.0;
/// Largest |a| or |b| of a bin centre.
pub const GRID_LIMIT: f32 = 110.0;
/// Number of nearest bins a pixel's colour is spread over by [`AbBins::soft_encode`].
pub const SOFT_K: usize = 5;
/// σ (Lab units) of the Gaussian weighting the [`SOFT_K`] nearest bins.
pub const SOFT_SIGMA: f32 = 5.0;
/// σ (Lab units) of the Gaussian smoothing the empirical prior over bin centres.
pub const PRIOR_SIGMA: f32 = 5.0;
/// Mixing weight of the uniform distribution in the rebalancing weights (Zhang's λ).
pub const REBALANCE_LAMBDA: f32 = 0.5;
/// Temperature of the annealed-mean decoding (Zhang's T).
pub const ANNEAL_T: f32 = 0.38;

/// Step of the lightness grid on which a bin's cell is tested for touching the gamut.
const GAMUT_L_STEP: f32 = 1.0;
/// Step of the ab sample grid over a bin's 10×10 cell (edges included) for the gamut test.
const GAMUT_AB_STEP: f32 = 2.5;
/// Tolerance on linear-RGB channels for the gamut test (float noise at the cube's faces).
const GAMUT_TOL: f32 = 1e-5;
/// Half-width of the square of ab covered by the nearest-bin lookup table; points outside it
/// (never produced by sRGB, whose |a|,|b| stay below 110) fall back to a full scan.
const LUT_EXTENT: f32 = 130.0;
/// Side of one lookup-table cell in Lab units.
const LUT_CELL: f32 = 5.0;

/// Soft-encoded target of one pixel: `SOFT_K` pairs of (bin index, weight), nearest bin first
/// (ascending distance, ties broken by the lower index); weights are positive and sum to 1.
pub type SoftCode = [(u16, f32); SOFT_K];

/// Linear-light sRGB of a Lab colour, *not* clamped: a channel outside `[0, 1]` means the colour
/// is outside the sRGB gamut.
pub fn lab_to_linear_unclamped(lab: [f32; 3]) -> [f32; 3] {
    let lin: LinSrgb = LinSrgb::from_color_unclamped(Lab::new(lab[0], lab[1], lab[2]));
    [lin.red, lin.green, lin.blue]
}

/// Whether a Lab colour is displayable in sRGB (every linear channel in `[0, 1]`, up to 1e-5).
pub fn in_srgb_gamut(lab: [f32; 3]) -> bool {
    lab_to_linear_unclamped(lab)
        .iter()
        .all(|&c| (-GAMUT_TOL..=1.0 + GAMUT_TOL).contains(&c))
}

/// The Q in-gamut colour classes: centres of the 10×10 ab grid (multiples of 10 with
/// |a|, |b| ≤ 110) whose cell `[a ± 5] × [b ± 5]` holds a colour inside the sRGB gamut at some
/// lightness L in `[0, 100]` (tested unclamped on a 2.5-unit ab grid over the cell × every 1 L;
/// finer sampling changes nothing). That is Zhang et al.'s "bins some real colour falls into"
/// with the whole sRGB gamut in place of ImageNet's pixels: every sRGB colour's nearest grid
/// point is a class, so no displayable colour is quantised more than 5√2 away. Q = 262 (Zhang
/// et al. report 313 from ImageNet in their own Lab pipeline). Requiring the *centre* itself to
/// be in gamut would give Q = 226 and cut off the most saturated blues, reds and greens; 36
/// classes thus have a centre just outside sRGB, which decoding clamps (`color::lab_to_rgb`).
///
/// Ordering (the class index, stable across runs and builds): ascending a, then ascending b,
/// i.e. row-major over the grid with a as the row.
///
/// Also holds a lookup table over ab (5×5 cells covering `[-130, 130]²`) listing for each cell
/// the few bins that can be among the 5 nearest of any point in it, so that
/// [`AbBins::soft_encode`] examines ~10 bins instead of Q.
#[derive(Clone, Debug)]
pub struct AbBins {
    /// Bin centres, `[a, b]`, in class order.
    centres: Vec<[f32; 2]>,
    /// Cells per side of the lookup table.
    lut_n: usize,
    /// `lut_start[c]..lut_start[c + 1]` indexes `lut_cand` for cell `c = row * lut_n + col`.
    lut_start: Vec<u32>,
    /// Candidate bin indices of every cell, concatenated.
    lut_cand: Vec<u16>,
}

impl Default for AbBins {
    fn default() -> Self {
        Self::new()
    }
}

impl AbBins {
    /// The one grid of the process, built on first use.
    pub fn shared() -> &'static AbBins {
        static BINS: std::sync::OnceLock<AbBins> = std::sync::OnceLock::new();
        BINS.get_or_init(AbBins::new)
    }

    /// Builds the grid and its lookup table (≈ 20 ms, mostly the gamut test; build once, share).
    pub fn new() -> Self {
        let half = (GRID_LIMIT / GRID_STEP).round() as i32;
        let l_steps = (100.0 / GAMUT_L_STEP).round() as i32;
        let mut centres = Vec::new();
        for ia in -half..=half {
            for ib in -half..=half {
                let (a, b) = (ia as f32 * GRID_STEP, ib as f32 * GRID_STEP);
                if cell_touches_gamut(a, b, l_steps) {
                    centres.push([a, b]);
                }
            }
        }
        assert!(centres.len() >= SOFT_K && centres.len() <= u16::MAX as usize);

        let lut_n = (2.0 * LUT_EXTENT / LUT_CELL).round() as usize;
        let mut lut_start = Vec::with_capacity(lut_n * lut_n + 1);
        let mut lut_cand = Vec::new();
        let mut max_d2 = vec![0f32; centres.len()];
        lut_start.push(0u32);
        for row in 0..lut_n {
            let a0 = -LUT_EXTENT + row as f32 * LUT_CELL;
            let a1 = a0 + LUT_CELL;
            for col in 0..lut_n {
                let b0 = -LUT_EXTENT + col as f32 * LUT_CELL;
                let b1 = b0 + LUT_CELL;
                // Every point of the cell has at least SOFT_K bins within the SOFT_K-th smallest
                // farthest-corner distance, so a bin whose nearest approach to the cell exceeds
                // it cannot be among the SOFT_K nearest of any point in the cell.
                for (m, c) in max_d2.iter_mut().zip(&centres) {
                    let da = (c[0] - a0).abs().max((c[0] - a1).abs());
                    let db = (c[1] - b0).abs().max((c[1] - b1).abs());
                    *m = da * da + db * db;
                }
                let mut sorted = max_d2.clone();
                sorted.select_nth_unstable_by(SOFT_K - 1, f32::total_cmp);
                let bound = sorted[SOFT_K - 1];
                for (i, c) in centres.iter().enumerate() {
                    let da = (a0 - c[0]).max(0.0).max(c[0] - a1);
                    let db = (b0 - c[1]).max(0.0).max(c[1] - b1);
                    if da * da + db * db <= bound {
                        lut_cand.push(i as u16);
                    }
                }
                lut_start.push(lut_cand.len() as u32);
            }
        }
        AbBins {
            centres,
            lut_n,
            lut_start,
            lut_cand,
        }
    }

    /// Number of classes Q.
    pub fn len(&self) -> usize {
        self.centres.len()
    }

    /// Centre `[a, b]` of class `i` (Lab units). Panics if `i >= Q`.
    pub fn centre(&self, i: usize) -> [f32; 2] {
        self.centres[i]
    }

    /// All Q centres in class order.
    pub fn centres(&self) -> &[[f32; 2]] {
        &self.centres
    }

    /// Candidate bins for (a, b): a lookup-table cell's list, or `None` outside the table.
    fn candidates(&self, a: f32, b: f32) -> Option<&[u16]> {
        let fa = (a + LUT_EXTENT) / LUT_CELL;
        let fb = (b + LUT_EXTENT) / LUT_CELL;
        // Also rejects NaN (comparisons false).
        if !(fa >= 0.0 && fb >= 0.0) {
            return None;
        }
        let (row, col) = (fa as usize, fb as usize);
        if row >= self.lut_n || col >= self.lut_n {
            return None;
        }
        let cell = row * self.lut_n + col;
        let (s, e) = (
            self.lut_start[cell] as usize,
            self.lut_start[cell + 1] as usize,
        );
        Some(&self.lut_cand[s..e])
    }

    /// Target distribution of one pixel colour: the 5 nearest bin centres with weights
    /// ∝ exp(−d² / 2σ²), σ = 5, normalised to sum 1, nearest first. `a`, `b` in Lab units; a
    /// non-finite value is treated as 0 (grey). Exact (same result as scanning all Q bins).
    pub fn soft_encode(&self, a: f32, b: f32) -> SoftCode {
        let a = if a.is_finite() { a } else { 0.0 };
        let b = if b.is_finite() { b } else { 0.0 };
        // Sorted by (d², index); insertion keeps the SOFT_K best.
        let mut best = [(f32::INFINITY, u16::MAX); SOFT_K];
        let mut consider = |i: u16| {
            let c = self.centres[i as usize];
            let d2 = (a - c[0]) * (a - c[0]) + (b - c[1]) * (b - c[1]);
            let key = (d2, i);
            if key < best[SOFT_K - 1] {
                let mut k = SOFT_K - 1;
                while k > 0 && key < best[k - 1] {
                    best[k] = best[k - 1];
                    k -= 1;
                }
                best[k] = key;
            }
        };
        match self.candidates(a, b) {
            Some(cands) => cands.iter().for_each(|&i| consider(i)),
            None => (0..self.centres.len() as u16).for_each(consider),
        }
        let inv_two_var = 1.0 / (2.0 * SOFT_SIGMA * SOFT_SIGMA);
        let d0 = best[0].0;
        let mut out = [(0u16, 0f32); SOFT_K];
        let mut sum = 0.0;
        for (o, &(d2, i)) in out.iter_mut().zip(&best) {
            // Relative to the nearest, so far-away inputs cannot underflow to 0/0.
            let w = (-(d2 - d0) * inv_two_var).exp();
            *o = (i, w);
            sum += w;
        }
        for o in &mut out {
            o.1 /= sum;
        }
        out
    }

    /// Index of the nearest bin centre to (a, b) (ties: lower index; non-finite → 0).
    pub fn nearest(&self, a: f32, b: f32) -> u16 {
        self.soft_encode(a, b)[0].0
    }

    /// Soft-encodes a plane of N pixels. `ab`: N×2 interleaved `[a0, b0, a1, b1, …]` in Lab units
    /// (N = B·H·W for a batch, image-major then row-major). Returns N codes in the same order.
    /// Panics if `ab.len()` is odd.
    ///
    /// Sparse on purpose: 5 classes per pixel instead of Q. Feed [`AbBins::gather_targets`] to
    /// `log_softmax(logits, 1).gather(idx, 1)` for the cross-entropy (5/Q of the dense cost), or
    /// expand with [`AbBins::dense_targets`] where a dense target is simpler.
    pub fn encode_plane(&self, ab: &[f32]) -> Vec<SoftCode> {
        assert!(
            ab.len().is_multiple_of(2),
            "ab plane length {} is odd",
            ab.len()
        );
        ab.chunks_exact(2)
            .map(|p| self.soft_encode(p[0], p[1]))
            .collect()
    }

    /// Annealed-mean decoding of one pixel: `softmax(logits / t)` (max-subtracted, stable)
    /// weighted mean of the bin centres, `[a, b]` in Lab units. `logits`: Q values in class
    /// order. `t` = 1 gives the distribution's mean, `t` → 0 its mode; `t <= 0` returns the
    /// mode exactly (the centre of the first largest logit). Panics if `logits.len() != Q`.
    pub fn annealed_mean(&self, logits: &[f32], t: f32) -> [f32; 2] {
        assert_eq!(logits.len(), self.len(), "logits must have Q entries");
        if t <= 0.0 {
            return self.centres[argmax(logits)];
        }
        let inv_t = 1.0 / t;
        let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let (mut s, mut sa, mut sb) = (0f32, 0f32, 0f32);
        for (&l, c) in logits.iter().zip(&self.centres) {
            let e = ((l - m) * inv_t).exp();
            s += e;
            sa += e * c[0];
            sb += e * c[1];
        }
        [sa / s, sb / s]
    }

    /// [`AbBins::annealed_mean`] over a plane. `logits`: N×Q channels-last (pixel-major).
    /// Returns N×2 interleaved ab in Lab units. Panics unless Q divides `logits.len()`.
    pub fn annealed_mean_plane(&self, logits: &[f32], t: f32) -> Vec<f32> {
        let q = self.len();
        assert!(
            logits.len().is_multiple_of(q),
            "logits length not a multiple of Q"
        );
        let mut out = Vec::with_capacity(logits.len() / q * 2);
        for px in logits.chunks_exact(q) {
            out.extend_from_slice(&self.annealed_mean(px, t));
        }
        out
    }
}

/// Whether some point of the 10×10 cell centred on (a, b), sampled every [`GAMUT_AB_STEP`]
/// (edges included), is in the sRGB gamut at some L sampled every [`GAMUT_L_STEP`].
fn cell_touches_gamut(a: f32, b: f32, l_steps: i32) -> bool {
    let n = (GRID_STEP / GAMUT_AB_STEP).round() as i32;
    let half = GRID_STEP / 2.0;
    (0..=n).any(|i| {
        (0..=n).any(|j| {
            let (x, y) = (
                a - half + i as f32 * GAMUT_AB_STEP,
                b - half + j as f32 * GAMUT_AB_STEP,
            );
            (0..=l_steps).any(|il| in_srgb_gamut([il as f32 * GAMUT_L_STEP, x, y]))
        })
    })
}

/// Index of the first largest value (NaN never wins).
fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Per-pixel loss weight `w[argmax target]` (Zhang eq. 2–4): the class weight of each pixel's
/// nearest bin. `codes`: N codes; `class_weights`: Q values from [`Prior::rebalance_weights`].
/// Returns N weights in the order of `codes` (so B×HW codes give a B×1×H×W weight map).
pub fn pixel_weights(codes: &[SoftCode], class_weights: &[f32]) -> Vec<f32> {
    codes
        .iter()
        .map(|c| class_weights[c[0].0 as usize])
        .collect()
}

/// Counts of training pixels per class (hard assignment to the nearest bin), accumulated over
/// the training photos; turned into a [`Prior`] by [`Prior::from_histogram`].
#[derive(Clone, Debug, PartialEq)]
pub struct AbHistogram {
    counts: Vec<f64>,
}

impl AbHistogram {
    /// Empty histogram over `bins`' Q classes.
    pub fn new(bins: &AbBins) -> Self {
        AbHistogram {
            counts: vec![0.0; bins.len()],
        }
    }

    /// Counts one pixel colour (Lab units).
    pub fn add(&mut self, bins: &AbBins, a: f32, b: f32) {
        self.counts[bins.nearest(a, b) as usize] += 1.0;
    }

    /// Number of pixels counted.
    pub fn total(&self) -> f64 {
        self.counts.iter().sum()
    }
}

/// Why a prior could not be built or restored.
#[derive(Clone, Debug, PartialEq)]
pub enum PriorError {
    /// The histogram counted no pixels, or the stored values sum to 0.
    Empty,
    /// Stored prior has `found` entries where the bins have `expected`.
    WrongLength { expected: usize, found: usize },
}

impl std::fmt::Display for PriorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PriorError::Empty => write!(f, "colour prior is empty (no pixels counted)"),
            PriorError::WrongLength { expected, found } => write!(
                f,
                "colour prior has {found} classes but the ab grid has {expected}"
            ),
        }
    }
}

impl std::error::Error for PriorError {}

/// Smoothed empirical distribution p over the Q classes (Zhang's p̃ convolved with a Gaussian,
/// σ = 5 Lab units), sums to 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Prior {
    p: Vec<f32>,
}

impl Prior {
    /// Normalises `hist` and smooths it with a Gaussian of σ = [`PRIOR_SIGMA`] over bin centres.
    pub fn from_histogram(bins: &AbBins, hist: &AbHistogram) -> Result<Self, PriorError> {
        Self::from_histogram_sigma(bins, hist, PRIOR_SIGMA)
    }

    /// As [`Prior::from_histogram`] with smoothing σ in Lab units (`sigma <= 0`: no smoothing).
    /// Each bin's mass is spread over all bins by exp(−d²/2σ²), normalised per source bin, so
    /// the total mass stays 1 at the grid's edges too.
    pub fn from_histogram_sigma(
        bins: &AbBins,
        hist: &AbHistogram,
        sigma: f32,
    ) -> Result<Self, PriorError> {
        let q = bins.len();
        if hist.counts.len() != q {
            return Err(PriorError::WrongLength {
                expected: q,
                found: hist.counts.len(),
            });
        }
        let total = hist.total();
        if total <= 0.0 || !total.is_finite() {
            return Err(PriorError::Empty);
        }
        let raw: Vec<f64> = hist.counts.iter().map(|c| c / total).collect();
        let smoothed = if sigma > 0.0 {
            let inv_two_var = 1.0 / (2.0 * sigma as f64 * sigma as f64);
            let mut out = vec![0f64; q];
            let mut kernel = vec![0f64; q];
            for (j, &pj) in raw.iter().enumerate() {
                if pj == 0.0 {
                    continue;
                }
                let cj = bins.centre(j);
                for (k, ci) in kernel.iter_mut().zip(bins.centres()) {
                    let da = (ci[0] - cj[0]) as f64;
                    let db = (ci[1] - cj[1]) as f64;
                    *k = (-(da * da + db * db) * inv_two_var).exp();
                }
                let norm: f64 = kernel.iter().sum();
                for (o, k) in out.iter_mut().zip(&kernel) {
                    *o += pj * k / norm;
                }
            }
            out
        } else {
            raw
        };
        Ok(Prior {
            p: smoothed.iter().map(|&v| v as f32).collect(),
        })
    }

    /// The Q probabilities in class order.
    #[cfg(test)]
    fn probs(&self) -> &[f32] {
        &self.p
    }

    /// Class-rebalancing weights (Zhang eq. 4): w_q ∝ ((1 − λ)·p_q + λ/Q)⁻¹, scaled so that
    /// Σ_q p_q·w_q = 1 (the expected per-pixel weight under the prior is 1, so the loss scale
    /// matches the unweighted loss). λ = [`REBALANCE_LAMBDA`] = 0.5 in the paper; λ = 1 gives
    /// all-ones weights, small λ → ∝ 1/p. Panics unless 0 < λ ≤ 1.
    pub fn rebalance_weights(&self, lambda: f32) -> Vec<f32> {
        assert!(
            lambda > 0.0 && lambda <= 1.0,
            "lambda {lambda} outside (0, 1]"
        );
        let q = self.p.len() as f64;
        let lambda = lambda as f64;
        let w: Vec<f64> = self
            .p
            .iter()
            .map(|&p| 1.0 / ((1.0 - lambda) * p as f64 + lambda / q))
            .collect();
        let expect: f64 = self.p.iter().zip(&w).map(|(&p, w)| p as f64 * w).sum();
        w.iter().map(|w| (w / expect) as f32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maths::color::{lab_to_rgb, rgb_to_lab};
    use rand::{rngs::StdRng, Rng, SeedableRng};

    fn brute_force(bins: &AbBins, a: f32, b: f32) -> Vec<(u16, f32)> {
        let mut d: Vec<(f32, u16)> = bins
            .centres()
            .iter()
            .enumerate()
            .map(|(i, c)| ((a - c[0]) * (a - c[0]) + (b - c[1]) * (b - c[1]), i as u16))
            .collect();
        d.sort_by(|x, y| x.partial_cmp(y).unwrap());
        d.truncate(SOFT_K);
        let w: Vec<f64> = d
            .iter()
            .map(|&(d2, _)| (-(d2 as f64) / (2.0 * 25.0)).exp())
            .collect();
        let s: f64 = w.iter().sum();
        d.iter()
            .zip(&w)
            .map(|(&(_, i), &w)| (i, (w / s) as f32))
            .collect()
    }

    #[test]
    fn bin_count_is_plausible_and_every_bin_in_gamut() {
        let bins = AbBins::new();
        let q = bins.len();
        println!("Q = {q}");
        assert_eq!(q, 262);
        assert!((250..=330).contains(&q), "Q = {q}");
        let mut centre_in = 0;
        for &[a, b] in bins.centres() {
            assert!(a % 10.0 == 0.0 && b % 10.0 == 0.0 && a.abs() <= 110.0 && b.abs() <= 110.0);
            // Some colour of the bin's cell is displayable (checked finer than `new` does).
            let in_cell = (0..=10).any(|i| {
                (0..=10).any(|j| {
                    let (x, y) = (a - 5.0 + i as f32, b - 5.0 + j as f32);
                    (0..=200).any(|il| in_srgb_gamut([il as f32 * 0.5, x, y]))
                })
            });
            assert!(in_cell, "({a}, {b}) out of gamut");
            if (0..=200).any(|il| in_srgb_gamut([il as f32 * 0.5, a, b])) {
                centre_in += 1;
            }
        }
        println!("centres themselves in gamut: {centre_in}");
        assert_eq!(centre_in, 226);
        // Grey and the neighbourhoods of the sRGB primaries are classes.
        assert!(bins.centres().contains(&[0.0, 0.0]));
        let red = rgb_to_lab([1.0, 0.0, 0.0]);
        assert_eq!(
            bins.centre(bins.nearest(red[1], red[2]) as usize),
            [80.0, 70.0]
        );
        // Far corners of the square are outside sRGB at every lightness.
        assert!(!bins.centres().contains(&[110.0, 110.0]));
        assert!(!bins.centres().contains(&[-110.0, -110.0]));
    }

    #[test]
    fn every_srgb_colour_falls_in_a_class_cell() {
        // The surface of the 8-bit RGB cube reaches every ab the gamut reaches.
        let bins = AbBins::new();
        let mut used = vec![false; bins.len()];
        for face in 0..6 {
            let c = (face % 2) as f32;
            for i in 0..256 {
                for j in 0..256 {
                    let (u, v) = (i as f32 / 255.0, j as f32 / 255.0);
                    let rgb = match face / 2 {
                        0 => [c, u, v],
                        1 => [u, c, v],
                        _ => [u, v, c],
                    };
                    let lab = rgb_to_lab(rgb);
                    let n = bins.nearest(lab[1], lab[2]) as usize;
                    let ctr = bins.centre(n);
                    assert!(
                        (lab[1] - ctr[0]).abs() <= 5.001 && (lab[2] - ctr[1]).abs() <= 5.001,
                        "{rgb:?} -> {lab:?} nearest {ctr:?}"
                    );
                    used[n] = true;
                }
            }
        }
        // And nearly every class is the cell of some 8-bit colour (slivers aside).
        let unused = used.iter().filter(|u| !**u).count();
        assert!(unused <= 3, "{unused} classes no 8-bit colour reaches");
    }

    #[test]
    fn ordering_is_a_then_b_ascending_and_deterministic() {
        let bins = AbBins::new();
        for w in bins.centres().windows(2) {
            assert!(w[0][0] < w[1][0] || (w[0][0] == w[1][0] && w[0][1] < w[1][1]));
        }
        assert_eq!(bins.centres(), AbBins::new().centres());
    }

    #[test]
    fn gamut_test_is_unclamped() {
        assert!(in_srgb_gamut([50.0, 0.0, 0.0]));
        assert!(in_srgb_gamut(rgb_to_lab([0.0, 0.0, 1.0])));
        // Saturated cyan-green at this lightness is beyond sRGB: a channel goes negative.
        let lin = lab_to_linear_unclamped([50.0, -100.0, 0.0]);
        assert!(lin.iter().any(|&c| c < 0.0), "{lin:?}");
        assert!(!in_srgb_gamut([50.0, -100.0, 0.0]));
        // The project's converter clamps the same colour into [0, 1].
        assert!(lab_to_rgb([50.0, -100.0, 0.0])
            .iter()
            .all(|&c| (0.0..=1.0).contains(&c)));
    }

    #[test]
    fn soft_encode_sums_to_one_nearest_first() {
        let bins = AbBins::new();
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..2000 {
            let (a, b) = (
                rng.random_range(-90.0..100.0),
                rng.random_range(-110.0..95.0),
            );
            let code = bins.soft_encode(a, b);
            let sum: f32 = code.iter().map(|c| c.1).sum();
            assert!((sum - 1.0).abs() < 1e-5, "{code:?}");
            let d = |i: u16| {
                let c = bins.centre(i as usize);
                (a - c[0]).hypot(b - c[1])
            };
            for w in code.windows(2) {
                assert!(d(w[0].0) <= d(w[1].0) && w[0].1 >= w[1].1, "{code:?}");
            }
            assert_eq!(code[0].0, bins.nearest(a, b));
        }
    }

    #[test]
    fn soft_encode_matches_brute_force_on_random_points() {
        let bins = AbBins::new();
        let mut rng = StdRng::seed_from_u64(7);
        // 1,000 points over the grid's square plus some beyond the lookup table (scan fallback).
        let mut pts: Vec<(f32, f32)> = (0..1000)
            .map(|_| {
                (
                    rng.random_range(-120.0..120.0),
                    rng.random_range(-120.0..120.0),
                )
            })
            .collect();
        pts.extend([
            (-200.0, 3.0),
            (150.0, 150.0),
            (129.99, -129.99),
            (0.0, 131.0),
        ]);
        // Cell edges and bin centres.
        pts.extend([
            (5.0, 5.0),
            (-5.0, 15.0),
            (10.0, 10.0),
            (0.0, 0.0),
            (-130.0, -130.0),
        ]);
        for (a, b) in pts {
            let got = bins.soft_encode(a, b);
            let want = brute_force(&bins, a, b);
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.0, w.0, "({a}, {b}): {got:?} vs {want:?}");
                assert!((g.1 - w.1).abs() < 1e-5, "({a}, {b}): {got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn soft_encode_at_a_centre_and_of_non_finite_input() {
        let bins = AbBins::new();
        // At (0, 0): four neighbours at distance 10 share weight e^-2 each against 1.
        let code = bins.soft_encode(0.0, 0.0);
        assert_eq!(bins.centre(code[0].0 as usize), [0.0, 0.0]);
        let w0 = 1.0 / (1.0 + 4.0 * (-2.0f32).exp());
        assert!((code[0].1 - w0).abs() < 1e-6, "{code:?}");
        for c in &code[1..] {
            assert!((c.1 - w0 * (-2.0f32).exp()).abs() < 1e-6);
        }
        assert_eq!(bins.soft_encode(f32::NAN, f32::INFINITY), code);
    }

    #[test]
    fn prior_of_a_single_colour_concentrates_near_it() {
        let bins = AbBins::new();
        let mut hist = AbHistogram::new(&bins);
        for _ in 0..500 {
            hist.add(&bins, 31.0, -42.0);
        }
        assert_eq!(hist.total(), 500.0);
        let prior = Prior::from_histogram(&bins, &hist).unwrap();
        let p = prior.probs();
        assert!((p.iter().map(|&x| x as f64).sum::<f64>() - 1.0).abs() < 1e-5);
        let top = argmax(p);
        assert_eq!(bins.centre(top), [30.0, -40.0]);
        // σ = 5 on a 10-grid: the bin keeps 1/(1 + 4e^-2 + 4e^-4 + …) ≈ 0.62 of the mass, and
        // everything within 15 units holds nearly all of it.
        assert!(p[top] > 0.55 && p[top] < 0.7, "{}", p[top]);
        let near: f32 = bins
            .centres()
            .iter()
            .zip(p)
            .filter(|(c, _)| (c[0] - 30.0).hypot(c[1] + 40.0) < 15.0)
            .map(|(_, &p)| p)
            .sum();
        assert!(near > 0.99, "{near}");
        // Unsmoothed: all mass in the one bin.
        let raw = Prior::from_histogram_sigma(&bins, &hist, 0.0).unwrap();
        assert_eq!(raw.probs()[top], 1.0);
    }

    #[test]
    fn rebalancing_favours_rare_bins_with_unit_expectation() {
        let bins = AbBins::new();
        let mut rng = StdRng::seed_from_u64(11);
        let mut hist = AbHistogram::new(&bins);
        // Mostly near-grey pixels, some browns, a few saturated blues: the usual skew.
        for _ in 0..20_000 {
            let r: f32 = rng.random();
            let (a, b) = if r < 0.8 {
                (rng.random_range(-6.0..6.0), rng.random_range(-6.0..6.0))
            } else if r < 0.97 {
                (rng.random_range(5.0..25.0), rng.random_range(10.0..40.0))
            } else {
                (rng.random_range(0.0..30.0), rng.random_range(-70.0..-40.0))
            };
            hist.add(&bins, a, b);
        }
        let prior = Prior::from_histogram(&bins, &hist).unwrap();
        let p = prior.probs();
        let w = prior.rebalance_weights(REBALANCE_LAMBDA);
        let e: f64 = p.iter().zip(&w).map(|(&p, &w)| p as f64 * w as f64).sum();
        assert!((e - 1.0).abs() < 1e-5, "Σp·w = {e}");
        // Weights fall as probability rises.
        let mut order: Vec<usize> = (0..bins.len()).collect();
        order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
        for k in order.windows(2) {
            assert!(w[k[0]] >= w[k[1]] - 1e-6);
        }
        let grey = bins.nearest(0.0, 0.0) as usize;
        let blue = bins.nearest(10.0, -60.0) as usize;
        let unseen = bins.nearest(-80.0, 80.0) as usize;
        assert!(w[grey] < 1.0 && w[blue] > 2.0 * w[grey] && w[unseen] > w[blue]);
        // λ = 0.5 caps the weight at 1/(λ/Q) / norm: finite for never-seen colours.
        assert!(w.iter().all(|w| w.is_finite() && *w > 0.0));
        // λ = 1 ignores the prior.
        assert!(prior
            .rebalance_weights(1.0)
            .iter()
            .all(|&w| (w - 1.0).abs() < 1e-5));
    }

    #[test]
    fn annealed_mean_limits() {
        let bins = AbBins::new();
        let q = bins.len();
        let i = bins.nearest(20.0, 30.0) as usize;
        let j = bins.nearest(-40.0, 10.0) as usize;
        let k = bins.nearest(0.0, -50.0) as usize;
        let mut logits = vec![-1e4f32; q];
        logits[i] = 2.0;
        logits[j] = 1.0;
        logits[k] = 0.5;
        // T = 1: the distribution's mean.
        let e = [2.0f32.exp(), 1.0f32.exp(), 0.5f32.exp()];
        let s: f32 = e.iter().sum();
        let want = [
            (e[0] * 20.0 + e[1] * -40.0 + e[2] * 0.0) / s,
            (e[0] * 30.0 + e[1] * 10.0 + e[2] * -50.0) / s,
        ];
        let got = bins.annealed_mean(&logits, 1.0);
        assert!((got[0] - want[0]).abs() < 1e-3 && (got[1] - want[1]).abs() < 1e-3);
        // T → 0: the mode.
        let cold = bins.annealed_mean(&logits, 0.01);
        assert!((cold[0] - 20.0).abs() < 1e-3 && (cold[1] - 30.0).abs() < 1e-3);
        assert_eq!(bins.annealed_mean(&logits, 0.0), [20.0, 30.0]);
        // T = 0.38 lies between, closer to the mode than the mean is.
        let mid = bins.annealed_mean(&logits, ANNEAL_T);
        let dist = |p: [f32; 2]| (p[0] - 20.0).hypot(p[1] - 30.0);
        assert!(dist(mid) < dist(got) && dist(mid) > dist(cold));
        // Uniform logits at T = 1 give the mean of all centres; huge logits stay finite.
        let flat = bins.annealed_mean(&vec![1e30; q], 1.0);
        let ma = bins.centres().iter().map(|c| c[0]).sum::<f32>() / q as f32;
        let mb = bins.centres().iter().map(|c| c[1]).sum::<f32>() / q as f32;
        assert!((flat[0] - ma).abs() < 1e-3 && (flat[1] - mb).abs() < 1e-3);
    }

    #[test]
    fn annealed_mean_planes_match_per_pixel() {
        let bins = AbBins::new();
        let q = bins.len();
        let hw = 5;
        let mut rng = StdRng::seed_from_u64(5);
        let hwc: Vec<f32> = (0..hw * q).map(|_| rng.random_range(-4.0..4.0)).collect();
        for t in [0.0, ANNEAL_T, 1.0] {
            let a = bins.annealed_mean_plane(&hwc, t);
            assert_eq!(a.len(), 2 * hw);
            for p in 0..hw {
                let one = bins.annealed_mean(&hwc[p * q..(p + 1) * q], t);
                for c in 0..2 {
                    assert!((a[2 * p + c] - one[c]).abs() < 1e-4);
                }
            }
        }
    }

    #[test]
    fn encoding_then_decoding_recovers_the_colour() {
        // The soft target itself, decoded at T = 1, lands within a few units of the colour.
        let bins = AbBins::new();
        let q = bins.len();
        for (a, b) in [(12.0, 37.0), (-33.0, 21.0), (5.0, -44.0), (0.0, 0.0)] {
            let mut logits = vec![f32::NEG_INFINITY; q];
            for (i, w) in bins.soft_encode(a, b) {
                logits[i as usize] = w.ln();
            }
            let ab = bins.annealed_mean(&logits, 1.0);
            assert!((ab[0] - a).hypot(ab[1] - b) < 3.0, "({a}, {b}) -> {ab:?}");
        }
    }
}
