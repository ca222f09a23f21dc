//! Additive noise: white Gaussian, Poisson–Gaussian (shot + read) in linear light, and smooth
//! luminance + chroma "blotch" noise.

use super::log_uniform;
use super::BLOTCH_SIGMA;
use image::Rgb32FImage;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Adds white Gaussian noise of standard deviation `sigma` (0–255 scale) to every value, clipping
/// to `[0, 1]`.
pub(crate) fn add_gaussian(img: &mut Rgb32FImage, sigma: f32, rng: &mut impl Rng) {
    let s = sigma / 255.0;
    for v in img.iter_mut() {
        let n: f32 = StandardNormal.sample(rng);
        *v = (*v + s * n).clamp(0.0, 1.0);
    }
}

/// Poisson–Gaussian (shot + read) noise in linear light, Gaussian approximation: each value `x`
/// becomes `x + sqrt(a·x + b)·N(0, 1)`, clipped to `[0, 1]` (black level and sensor
/// saturation). `a` (shot) and `b` (read, a variance) are in linear units (`[0, 1]` scale).
pub(crate) fn poisson_gaussian(values: &mut [f32], a: f32, b: f32, rng: &mut impl Rng) {
    for v in values.iter_mut() {
        let var = (a * v.max(0.0) + b).max(0.0);
        let n: f32 = StandardNormal.sample(rng);
        *v = (*v + var.sqrt() * n).clamp(0.0, 1.0);
    }
}

/// Parameters of [`blotch_noise`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BlotchParams {
    /// Downscale factor of the noise field (2–4): blotch size in pixels.
    pub factor: usize,
    /// σ (0–255) of the luminance field.
    pub sigma_luma: f32,
    /// σ (0–255) of each chroma field (Cb, Cr).
    pub sigma_chroma: f32,
}

impl BlotchParams {
    /// Factor uniform in 2..=4; chroma σ log-uniform in [`BLOTCH_SIGMA`]; luma σ 0.2–0.7 of it.
    pub(crate) fn random(rng: &mut impl Rng) -> Self {
        let sigma_chroma = log_uniform(rng, BLOTCH_SIGMA.0, BLOTCH_SIGMA.1);
        BlotchParams {
            factor: rng.random_range(2..=4),
            sigma_luma: sigma_chroma * rng.random_range(0.2..=0.7),
            sigma_chroma,
        }
    }
}

/// Adds smooth luminance + chroma noise, in place: Gaussian Y/Cb/Cr fields at `1 / factor`
/// resolution (random phase), bilinearly upsampled and added in sRGB, clipped to `[0, 1]`.
/// Mimics what in-camera noise reduction leaves behind. Per-pixel σ is ~0.5–0.7 × the field σ.
pub(crate) fn blotch_noise(img: &mut Rgb32FImage, p: &BlotchParams, rng: &mut impl Rng) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let f = p.factor.max(1);
    let (lw, lh) = (w.div_ceil(f) + 2, h.div_ceil(f) + 2);
    let scales = [
        p.sigma_luma / 255.0,
        p.sigma_chroma / 255.0,
        p.sigma_chroma / 255.0,
    ];
    let mut field = vec![0.0f32; lw * lh * 3];
    for px in field.chunks_exact_mut(3) {
        for (v, s) in px.iter_mut().zip(scales) {
            let n: f32 = StandardNormal.sample(rng);
            *v = n * s;
        }
    }
    let (ox, oy): (f32, f32) = (rng.random(), rng.random());
    let inv = 1.0 / f as f32;
    let px: &mut [f32] = img;
    for y in 0..h {
        let fy = ((y as f32 + 0.5) * inv + oy).max(0.0);
        let y0 = (fy as usize).min(lh - 2);
        let ty = fy - y0 as f32;
        let row = &mut px[y * w * 3..(y + 1) * w * 3];
        for (x, o) in row.chunks_exact_mut(3).enumerate() {
            let fx = ((x as f32 + 0.5) * inv + ox).max(0.0);
            let x0 = (fx as usize).min(lw - 2);
            let tx = fx - x0 as f32;
            let at = |xx: usize, yy: usize, c: usize| field[(yy * lw + xx) * 3 + c];
            let mut d = [0.0f32; 3];
            for (c, dc) in d.iter_mut().enumerate() {
                let top = at(x0, y0, c) * (1.0 - tx) + at(x0 + 1, y0, c) * tx;
                let bot = at(x0, y0 + 1, c) * (1.0 - tx) + at(x0 + 1, y0 + 1, c) * tx;
                *dc = top * (1.0 - ty) + bot * ty;
            }
            let (yl, cb, cr) = (d[0], d[1], d[2]);
            o[0] = (o[0] + yl + 1.402 * cr).clamp(0.0, 1.0);
            o[1] = (o[1] + yl - 0.344_136 * cb - 0.714_136 * cr).clamp(0.0, 1.0);
            o[2] = (o[2] + yl + 1.772 * cb).clamp(0.0, 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::degrade::test_util::*;

    #[test]
    fn poisson_gaussian_variance_is_signal_dependent() {
        // Levels ≥ 4.5σ from the clipping bounds, so clipping does not bias the variance.
        let (a, b) = (0.01f32, 0.0002f32);
        let mut r = rng(1);
        for x in [0.25f32, 0.6] {
            let mut v = vec![x; 200_000];
            poisson_gaussian(&mut v, a, b, &mut r);
            let n = v.len() as f64;
            let mean = v.iter().map(|&t| t as f64).sum::<f64>() / n;
            let var = v.iter().map(|&t| (t as f64 - mean).powi(2)).sum::<f64>() / n;
            let want = (a * x + b) as f64;
            assert!((mean - x as f64).abs() < 1e-3, "mean {mean} at {x}");
            assert!(
                (var / want - 1.0).abs() < 0.03,
                "var {var} vs {want} at {x}"
            );
        }
    }

    #[test]
    fn blotch_noise_is_smooth_and_coloured() {
        let clean = flat(96, 96, [0.5; 3]);
        let mut img = clean.clone();
        let p = BlotchParams {
            factor: 4,
            sigma_luma: 3.0,
            sigma_chroma: 10.0,
        };
        blotch_noise(&mut img, &p, &mut rng(5));
        let (c_rg, c_nb, rms) = noise_stats(&img);
        assert!(c_nb > 0.7, "blotch neighbour correlation {c_nb}");
        assert!(rms > 2.0, "blotch rms {rms}");
        // Chroma-dominated: R and G move largely independently or opposite.
        assert!(c_rg < 0.5, "blotch R/G correlation {c_rg}");
    }
}
