//! Test images and statistics shared by the degradation tests.

use super::quantize_8bit;
use image::{Rgb, Rgb32FImage};
use rand::rngs::StdRng;
use rand::SeedableRng;

pub(super) fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub(super) fn flat(w: u32, h: u32, rgb: [f32; 3]) -> Rgb32FImage {
    Rgb32FImage::from_pixel(w, h, Rgb(rgb))
}

/// A smooth, textured test image on the 8-bit grid.
pub(super) fn scene(w: u32, h: u32) -> Rgb32FImage {
    let mut img = Rgb32FImage::from_fn(w, h, |x, y| {
        let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
        Rgb([
            0.2 + 0.6 * u,
            0.5 + 0.3 * (6.0 * u + 4.0 * v).sin(),
            0.3 + 0.4 * v * v,
        ])
    });
    quantize_8bit(&mut img);
    img
}

pub(super) fn corr(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f64;
    let ma = a.iter().map(|&v| v as f64).sum::<f64>() / n;
    let mb = b.iter().map(|&v| v as f64).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64 - ma, y as f64 - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    (sab / (saa * sbb).sqrt()) as f32
}

pub(super) fn on_8bit_grid(img: &Rgb32FImage) -> bool {
    img.iter()
        .all(|&v| (0.0..=1.0).contains(&v) && ((v * 255.0) - (v * 255.0).round()).abs() < 1e-3)
}

/// Noise planes (value − 0.5, per channel) of a degraded flat grey image.
pub(super) fn noise_stats(img: &Rgb32FImage) -> (f32, f32, f32) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let r: Vec<f32> = img.chunks_exact(3).map(|p| p[0] - 0.5).collect();
    let g: Vec<f32> = img.chunks_exact(3).map(|p| p[1] - 0.5).collect();
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for y in 0..h {
        for x in 0..w - 1 {
            left.push(g[y * w + x]);
            right.push(g[y * w + x + 1]);
        }
    }
    let rms = (g.iter().map(|v| v * v).sum::<f32>() / g.len() as f32).sqrt() * 255.0;
    (corr(&r, &g), corr(&left, &right), rms)
}
