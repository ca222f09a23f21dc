//! Image quality measures, pure functions on interleaved channels-last (HWC) `f32` buffers:
//! PSNR, SSIM (Wang et al. 2004), BT.601 luma extraction, border cropping, and the
//! Hasler & Süsstrunk colourfulness of colorized output.
//!
//! The super-resolution convention (PSNR/SSIM on Y in `[16, 235]`, `scale` pixels cropped from
//! each border, peak 255) is built from [`y_channel`], [`crop_border`], [`psnr`] and [`ssim`].
//! Sums are accumulated in `f64`.

use crate::maths::color::rgb_to_y;

/// Side of the square Gaussian window used by [`ssim`] (σ = 1.5, radius 5): images must be at
/// least this wide and tall.
pub const SSIM_WINDOW: usize = 11;

/// Standard deviation of the [`ssim`] Gaussian window, in pixels.
const SSIM_SIGMA: f64 = 1.5;
/// SSIM stabilising constants: `C1 = (K1·peak)²`, `C2 = (K2·peak)²`.
const SSIM_K1: f64 = 0.01;
const SSIM_K2: f64 = 0.03;

/// Peak signal-to-noise ratio in dB between two buffers of the same length and layout.
///
/// Values may be on any scale (`[0, 1]`, `[0, 255]`, Y in `[16, 235]`, …); `peak` is the
/// maximum possible value on that scale (1.0 or 255.0; 255.0 for Y on `[16, 235]`, as in SR
/// papers). Returns `10·log10(peak² / MSE)`, and `f64::INFINITY` when the inputs are identical.
///
/// Panics if the lengths differ or the buffers are empty.
pub fn psnr(a: &[f32], b: &[f32], peak: f32) -> f64 {
    assert_eq!(a.len(), b.len(), "psnr: buffers differ in length");
    assert!(!a.is_empty(), "psnr: empty buffers");
    let sse: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum();
    if sse == 0.0 {
        return f64::INFINITY;
    }
    let mse = sse / a.len() as f64;
    let peak = peak as f64;
    10.0 * (peak * peak / mse).log10()
}

/// Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004), mean SSIM over the image.
///
/// `a` and `b` are `height × width × channels` interleaved (HWC, row-major), on any scale whose
/// maximum is `peak` (the data range: 1.0 for `[0, 1]`, 255.0 for `[0, 255]` or Y in
/// `[16, 235]`). Local statistics use an 11×11 Gaussian window with σ = 1.5 (normalised to sum
/// 1), population (not sample) covariances, `K1 = 0.01`, `K2 = 0.03`, and only the "valid"
/// window positions (no padding), so the map is `(height − 10) × (width − 10)`. The per-channel
/// means are averaged. This matches the MATLAB reference `ssim_index` and skimage's
/// `structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`.
///
/// Returns a value in `[-1, 1]`, exactly 1 for identical inputs.
///
/// Panics if the buffers do not hold `width·height·channels` values, `channels` is 0, or the
/// image is smaller than [`SSIM_WINDOW`] in either dimension.
pub fn ssim(a: &[f32], b: &[f32], width: usize, height: usize, channels: usize, peak: f32) -> f64 {
    assert!(channels > 0, "ssim: zero channels");
    assert_eq!(a.len(), width * height * channels, "ssim: bad length of a");
    assert_eq!(b.len(), a.len(), "ssim: buffers differ in length");
    assert!(
        width >= SSIM_WINDOW && height >= SSIM_WINDOW,
        "ssim: image {width}x{height} is smaller than the {SSIM_WINDOW}x{SSIM_WINDOW} window"
    );
    let kernel = gaussian_window();
    let peak = peak as f64;
    let c1 = (SSIM_K1 * peak).powi(2);
    let c2 = (SSIM_K2 * peak).powi(2);
    let n = width * height;

    let mut total = 0.0;
    for c in 0..channels {
        let x: Vec<f64> = (0..n).map(|i| a[i * channels + c] as f64).collect();
        let y: Vec<f64> = (0..n).map(|i| b[i * channels + c] as f64).collect();
        let xx: Vec<f64> = x.iter().map(|v| v * v).collect();
        let yy: Vec<f64> = y.iter().map(|v| v * v).collect();
        let xy: Vec<f64> = x.iter().zip(&y).map(|(u, v)| u * v).collect();

        let mu_x = filter_valid(&x, width, height, &kernel);
        let mu_y = filter_valid(&y, width, height, &kernel);
        let e_xx = filter_valid(&xx, width, height, &kernel);
        let e_yy = filter_valid(&yy, width, height, &kernel);
        let e_xy = filter_valid(&xy, width, height, &kernel);

        let mut sum = 0.0;
        for i in 0..mu_x.len() {
            let (ux, uy) = (mu_x[i], mu_y[i]);
            let vx = e_xx[i] - ux * ux;
            let vy = e_yy[i] - uy * uy;
            let vxy = e_xy[i] - ux * uy;
            sum += ((2.0 * ux * uy + c1) * (2.0 * vxy + c2))
                / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
        }
        total += sum / mu_x.len() as f64;
    }
    total / channels as f64
}

/// 1-D Gaussian weights of [`SSIM_WINDOW`] taps, σ = [`SSIM_SIGMA`], summing to 1. The 2-D
/// window is their outer product.
fn gaussian_window() -> [f64; SSIM_WINDOW] {
    let r = (SSIM_WINDOW / 2) as f64;
    let mut k = [0.0; SSIM_WINDOW];
    for (i, w) in k.iter_mut().enumerate() {
        let d = i as f64 - r;
        *w = (-d * d / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
    }
    let s: f64 = k.iter().sum();
    k.iter_mut().for_each(|w| *w /= s);
    k
}

/// Separable "valid" correlation of a `height × width` plane with `kernel` along both axes:
/// output is `(height − k + 1) × (width − k + 1)`, row-major.
fn filter_valid(src: &[f64], width: usize, height: usize, kernel: &[f64]) -> Vec<f64> {
    let k = kernel.len();
    let ow = width + 1 - k;
    let oh = height + 1 - k;
    let mut rows = vec![0.0; ow * height];
    for y in 0..height {
        let line = &src[y * width..(y + 1) * width];
        for x in 0..ow {
            rows[y * ow + x] = kernel.iter().zip(&line[x..x + k]).map(|(w, v)| w * v).sum();
        }
    }
    let mut out = vec![0.0; ow * oh];
    for y in 0..oh {
        for (t, w) in kernel.iter().enumerate() {
            let line = &rows[(y + t) * ow..(y + t + 1) * ow];
            for (o, v) in out[y * ow..(y + 1) * ow].iter_mut().zip(line) {
                *o += w * v;
            }
        }
    }
    out
}

/// BT.601 luma of an interleaved RGB buffer (`[r, g, b, r, g, b, …]`, values in `[0, 1]`), on
/// the `[16, 235]` scale (see [`rgb_to_y`]); one value per pixel. Compare with `peak = 255`.
///
/// Panics if the length is not a multiple of 3.
pub fn y_channel(rgb: &[f32]) -> Vec<f32> {
    assert_eq!(rgb.len() % 3, 0, "y_channel: length is not a multiple of 3");
    rgb.chunks_exact(3)
        .map(|p| rgb_to_y([p[0], p[1], p[2]]))
        .collect()
}

/// Removes `border` pixels from each of the four edges of a `height × width × channels`
/// interleaved (HWC) plane, any scale. Returns the cropped buffer (same layout) with its new
/// width and height; when the border eats the whole image the result is empty with zero
/// dimensions.
///
/// Panics if `plane` does not hold `width·height·channels` values.
pub fn crop_border(
    plane: &[f32],
    width: usize,
    height: usize,
    channels: usize,
    border: usize,
) -> (Vec<f32>, usize, usize) {
    assert_eq!(
        plane.len(),
        width * height * channels,
        "crop_border: bad length"
    );
    let nw = width.saturating_sub(2 * border);
    let nh = height.saturating_sub(2 * border);
    if nw == 0 || nh == 0 {
        return (Vec::new(), 0, 0);
    }
    let mut out = Vec::with_capacity(nw * nh * channels);
    for y in border..border + nh {
        let start = (y * width + border) * channels;
        out.extend_from_slice(&plane[start..start + nw * channels]);
    }
    (out, nw, nh)
}

/// Colourfulness M of Hasler & Süsstrunk (2003) for an interleaved RGB buffer with values in
/// `[0, 1]`, computed on the `[0, 255]` scale: with `rg = R − G` and `yb = (R + G)/2 − B` per
/// pixel, `M = sqrt(σ_rg² + σ_yb²) + 0.3·sqrt(μ_rg² + μ_yb²)` (population standard deviations).
///
/// 0 for any grey image; their scale reads roughly 15 "slightly", 33 "moderately", 45 "averagely",
/// 59 "quite", 82 "highly", 109+ "extremely" colourful. Returns 0 for an empty buffer.
///
/// Panics if the length is not a multiple of 3.
pub fn colourfulness(rgb: &[f32]) -> f64 {
    assert_eq!(
        rgb.len() % 3,
        0,
        "colourfulness: length is not a multiple of 3"
    );
    let n = rgb.len() / 3;
    if n == 0 {
        return 0.0;
    }
    let (mut s_rg, mut s_yb, mut s_rg2, mut s_yb2) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for p in rgb.chunks_exact(3) {
        let (r, g, b) = (
            p[0] as f64 * 255.0,
            p[1] as f64 * 255.0,
            p[2] as f64 * 255.0,
        );
        let rg = r - g;
        let yb = 0.5 * (r + g) - b;
        s_rg += rg;
        s_yb += yb;
        s_rg2 += rg * rg;
        s_yb2 += yb * yb;
    }
    let n = n as f64;
    let (mu_rg, mu_yb) = (s_rg / n, s_yb / n);
    let var_rg = (s_rg2 / n - mu_rg * mu_rg).max(0.0);
    let var_yb = (s_yb2 / n - mu_yb * mu_yb).max(0.0);
    (var_rg + var_yb).sqrt() + 0.3 * (mu_rg * mu_rg + mu_yb * mu_yb).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use rand_distr::Normal;

    /// Deterministic integer-valued test image on `[0, 255]`, HWC.
    fn pattern(width: usize, height: usize, channels: usize, salt: usize) -> Vec<f32> {
        let mut v = Vec::with_capacity(width * height * channels);
        for y in 0..height {
            for x in 0..width {
                for c in 0..channels {
                    v.push(((x * 7 + y * 13 + c * 29 + (x * y + salt) % 23) % 256) as f32);
                }
            }
        }
        v
    }

    #[test]
    fn psnr_known_values() {
        let a: Vec<f32> = (0..300).map(|i| (i % 255) as f32).collect();
        let b: Vec<f32> = a.iter().map(|v| v + 1.0).collect();
        // MSE 1 on [0, 255]: 20·log10(255) = 48.1308 dB.
        assert!((psnr(&a, &b, 255.0) - 48.130_803_608).abs() < 1e-6);
        // The same offset on [0, 1] with peak 1.
        let a1: Vec<f32> = a.iter().map(|v| v / 255.0).collect();
        let b1: Vec<f32> = b.iter().map(|v| v / 255.0).collect();
        assert!((psnr(&a1, &b1, 1.0) - 48.130_803_608).abs() < 1e-4);
        // MSE 100 → 10·log10(255²/100) = 28.1308 dB.
        let c: Vec<f32> = a.iter().map(|v| v - 10.0).collect();
        assert!((psnr(&a, &c, 255.0) - 28.130_803_608).abs() < 1e-6);
        assert_eq!(psnr(&a, &a, 255.0), f64::INFINITY);
    }

    #[test]
    fn ssim_identical_is_one() {
        let a = pattern(24, 17, 3, 0);
        let s = ssim(&a, &a, 24, 17, 3, 255.0);
        assert!((s - 1.0).abs() < 1e-12, "{s}");
        let g: Vec<f32> = a.iter().step_by(3).map(|v| v / 255.0).collect();
        assert!((ssim(&g, &g, 24, 17, 1, 1.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ssim_constant_images_closed_form() {
        // On an 11×11 image the valid map is a single window; for two constant images the
        // variances vanish and SSIM = (2·μa·μb + C1) / (μa² + μb² + C1).
        let (ma, mb) = (100.0f32, 140.0f32);
        let a = vec![ma; 11 * 11];
        let b = vec![mb; 11 * 11];
        let c1 = (0.01f64 * 255.0).powi(2);
        let (ma, mb) = (ma as f64, mb as f64);
        let want = (2.0 * ma * mb + c1) / (ma * ma + mb * mb + c1);
        let got = ssim(&a, &b, 11, 11, 1, 255.0);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn ssim_single_window_hand_computed() {
        // 11×11 image: one window, computed directly from the 2-D Gaussian weights.
        let a = pattern(11, 11, 1, 3);
        let b = pattern(11, 11, 1, 8);
        let k = gaussian_window();
        let (mut ux, mut uy, mut xx, mut yy, mut xy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 0..11 {
            for j in 0..11 {
                let w = k[i] * k[j];
                let (p, q) = (a[i * 11 + j] as f64, b[i * 11 + j] as f64);
                ux += w * p;
                uy += w * q;
                xx += w * p * p;
                yy += w * q * q;
                xy += w * p * q;
            }
        }
        let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
        let (vx, vy, vxy) = (xx - ux * ux, yy - uy * uy, xy - ux * uy);
        let want =
            ((2.0 * ux * uy + c1) * (2.0 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
        let got = ssim(&a, &b, 11, 11, 1, 255.0);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn ssim_matches_skimage_reference() {
        // skimage 0.26 structural_similarity(a, b, channel_axis=2, data_range=255,
        // gaussian_weights=True, sigma=1.5, use_sample_covariance=False) on these arrays
        // (float64) gives the reference values below.
        let (w, h) = (20, 16);
        let a = pattern(w, h, 3, 0);
        let b = pattern(w, h, 3, 5);
        let got = ssim(&a, &b, w, h, 3, 255.0);
        assert!((got - SKIMAGE_RGB).abs() < 1e-9, "{got}");
        let ga: Vec<f32> = a.iter().step_by(3).copied().collect();
        let gb: Vec<f32> = b.iter().step_by(3).copied().collect();
        let got = ssim(&ga, &gb, w, h, 1, 255.0);
        assert!((got - SKIMAGE_GREY).abs() < 1e-9, "{got}");
    }
    const SKIMAGE_RGB: f64 = 0.725_058_952_597_672_4;
    const SKIMAGE_GREY: f64 = 0.817_123_905_878_867_5;

    #[test]
    fn ssim_decreases_with_noise() {
        let (w, h) = (48, 40);
        // Smooth image on [0, 1].
        let clean: Vec<f32> = (0..w * h * 3)
            .map(|i| {
                let (p, c) = (i / 3, i % 3);
                let (x, y) = ((p % w) as f32, (p / w) as f32);
                0.5 + 0.3 * ((x * 0.2 + c as f32).sin() * (y * 0.15).cos())
            })
            .collect();
        let mut rng = StdRng::seed_from_u64(7);
        let unit = Normal::new(0.0f32, 1.0).unwrap();
        let noise: Vec<f32> = (0..clean.len()).map(|_| rng.sample(unit)).collect();
        let mut last = 1.0;
        for sigma in [0.01f32, 0.03, 0.1, 0.3] {
            let noisy: Vec<f32> = clean
                .iter()
                .zip(&noise)
                .map(|(c, n)| c + sigma * n)
                .collect();
            let s = ssim(&clean, &noisy, w, h, 3, 1.0);
            assert!(s < last, "sigma {sigma}: {s} !< {last}");
            last = s;
        }
        assert!(last < 0.5, "{last}");
    }

    #[test]
    fn y_channel_range() {
        let y = y_channel(&[1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(y.len(), 3);
        assert!((y[0] - 235.0).abs() < 1e-3);
        assert!((y[1] - 16.0).abs() < 1e-4);
        assert!((y[2] - (16.0 + 65.481)).abs() < 1e-3);
    }

    #[test]
    fn crop_border_layout() {
        // 5 wide, 4 high, 2 channels; value encodes (y, x, c).
        let plane: Vec<f32> = (0..4)
            .flat_map(|y| {
                (0..5).flat_map(move |x| (0..2).map(move |c| (y * 100 + x * 10 + c) as f32))
            })
            .collect();
        let (out, w, h) = crop_border(&plane, 5, 4, 2, 1);
        assert_eq!((w, h), (3, 2));
        assert_eq!(
            out,
            vec![110., 111., 120., 121., 130., 131., 210., 211., 220., 221., 230., 231.]
        );
        let (same, w, h) = crop_border(&plane, 5, 4, 2, 0);
        assert_eq!((same, w, h), (plane.clone(), 5, 4));
        let (none, w, h) = crop_border(&plane, 5, 4, 2, 2);
        assert!(none.is_empty() && w == 0 && h == 0);
    }

    #[test]
    fn colourfulness_grey_and_checkerboard() {
        let grey: Vec<f32> = (0..64).flat_map(|i| [i as f32 / 63.0; 3]).collect();
        assert!(colourfulness(&grey).abs() < 1e-9);
        // Red/green checkerboard: rg = ±255 (σ 255, μ 0), yb = 127.5 everywhere (σ 0, μ 127.5):
        // M = 255 + 0.3·127.5 = 293.25.
        let board: Vec<f32> = (0..8 * 8)
            .flat_map(|i| {
                if (i % 8 + i / 8) % 2 == 0 {
                    [1.0, 0.0, 0.0]
                } else {
                    [0.0, 1.0, 0.0]
                }
            })
            .collect();
        let m = colourfulness(&board);
        assert!(m > 100.0 && (m - 293.25).abs() < 1e-6, "{m}");
    }
}
