//! Noise-level estimation for `--sigma auto`, pure functions: Donoho's robust median estimator
//! on the finest diagonal Haar wavelet sub-band.

/// Donoho & Johnstone's MAD-to-σ factor: `median(|N(0, σ²)|) = 0.6745·σ`.
const MAD_TO_SIGMA: f64 = 0.6745;

/// Fewest HH coefficients per channel for which an estimate is attempted.
const MIN_COEFFS: usize = 4;

/// Estimates the standard deviation of additive white Gaussian noise in an image.
///
/// The image is `width × height` RGB, read a row at a time: `read_row(y, out)` appends row `y`
/// to `out` as `width × 3` interleaved values, nominally in `[0, 1]` (noisy values outside it
/// are fine), so the image need not be held as f32. The result is σ on the `[0, 255]` scale,
/// the unit of `--sigma`.
///
/// For each channel the finest diagonal (HH) Haar sub-band is taken over non-overlapping 2×2
/// blocks `[[a, b], [c, d]]` as `(a − b − c + d) / 2` — orthonormal, so i.i.d. noise of σ keeps
/// σ there while smooth content (any `f(x) + g(y)`, in particular linear ramps and
/// axis-aligned edges) cancels — and `σ_c = median(|HH|) / 0.6745`. The mean of the three
/// channel estimates is returned. An odd last row or column is dropped. Returns 0 when a
/// channel has fewer than 4 coefficients (images under 4×2 / 2×4 blocks).
///
/// Texture raises the estimate; on smooth photos it is within a few percent of the truth.
pub fn estimate_sigma(
    width: usize,
    height: usize,
    mut read_row: impl FnMut(usize, &mut Vec<f32>),
) -> f32 {
    let (bw, bh) = (width / 2, height / 2);
    if bw * bh < MIN_COEFFS {
        return 0.0;
    }
    // One channel at a time: a quarter of a plane of coefficients, the rows read again.
    let mut hh = Vec::with_capacity(bw * bh);
    let (mut top, mut bottom) = (Vec::with_capacity(width * 3), Vec::with_capacity(width * 3));
    let mut total = 0.0;
    for c in 0..3 {
        hh.clear();
        for by in 0..bh {
            top.clear();
            bottom.clear();
            read_row(2 * by, &mut top);
            read_row(2 * by + 1, &mut bottom);
            for bx in 0..bw {
                let px = |row: &[f32], x: usize| row[x * 3 + c] as f64;
                let (a, b) = (px(&top, 2 * bx), px(&top, 2 * bx + 1));
                let (cc, d) = (px(&bottom, 2 * bx), px(&bottom, 2 * bx + 1));
                hh.push(((a - b - cc + d) * 0.5).abs());
            }
        }
        total += median(&mut hh) / MAD_TO_SIGMA;
    }
    (total / 3.0 * 255.0) as f32
}

/// Median of a non-empty slice (mean of the two middle values for even lengths); reorders it.
fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    let mid = n / 2;
    let (lower, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if n % 2 == 1 {
        m
    } else {
        let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (below + m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use rand_distr::Normal;

    /// Smooth synthetic photo-like image on `[0, 1]`, HWC RGB: gradients, a low-frequency
    /// wave, a soft-edged disc and a soft diagonal edge.
    fn smooth_image(width: usize, height: usize) -> Vec<f32> {
        let mut v = Vec::with_capacity(width * height * 3);
        let (cx, cy, r) = (width as f32 * 0.6, height as f32 * 0.4, width as f32 * 0.2);
        for y in 0..height {
            for x in 0..width {
                let (xf, yf) = (x as f32, y as f32);
                let (u, t) = (xf / width as f32, yf / height as f32);
                let dist = ((xf - cx).powi(2) + (yf - cy).powi(2)).sqrt();
                let disc = 0.5 * (1.0 - ((dist - r) / 2.0).tanh());
                let diag = 0.5 * (1.0 + ((xf + yf - 0.9 * width as f32) / 3.0).tanh());
                let wave = 0.05 * (6.0 * u).sin() * (4.0 * t).cos();
                v.push(0.2 + 0.4 * u + 0.1 * t + 0.25 * disc + wave);
                v.push(0.3 + 0.3 * t - 0.15 * disc + 0.2 * diag);
                v.push(0.6 - 0.3 * u * t + 0.1 * diag + wave);
            }
        }
        v
    }

    /// [`estimate_sigma`] of an interleaved RGB buffer.
    fn sigma_of(rgb: &[f32], w: usize, h: usize) -> f32 {
        estimate_sigma(w, h, |y, out| {
            out.extend_from_slice(&rgb[y * w * 3..][..w * 3])
        })
    }

    fn add_noise(img: &[f32], sigma255: f32, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = Normal::new(0.0f32, sigma255 / 255.0).unwrap();
        img.iter().map(|v| v + rng.sample(normal)).collect()
    }

    #[test]
    fn recovers_gaussian_noise_level() {
        let (w, h) = (256, 256);
        let clean = smooth_image(w, h);
        let base = sigma_of(&clean, w, h);
        assert!(base < 2.0, "clean image estimate {base}");
        for (i, sigma) in [5.0f32, 15.0, 25.0, 50.0].into_iter().enumerate() {
            let noisy = add_noise(&clean, sigma, 42 + i as u64);
            let est = sigma_of(&noisy, w, h);
            assert!(
                (est - sigma).abs() <= 0.1 * sigma + 1.0,
                "sigma {sigma}: estimated {est}"
            );
        }
    }

    #[test]
    fn odd_sizes_drop_last_row_and_column() {
        let (w, h) = (257, 131);
        let clean = smooth_image(w, h);
        assert!(sigma_of(&clean, w, h) < 2.0);
        let noisy = add_noise(&clean, 20.0, 9);
        let est = sigma_of(&noisy, w, h);
        assert!((est - 20.0).abs() <= 3.0, "{est}");
        // The dropped row and column do not matter: garbage there changes nothing.
        let mut spoiled = noisy.clone();
        for y in 0..h {
            for c in 0..3 {
                spoiled[((y * w) + w - 1) * 3 + c] = 1e6;
            }
        }
        for x in 0..w {
            for c in 0..3 {
                spoiled[(((h - 1) * w) + x) * 3 + c] = -1e6;
            }
        }
        assert_eq!(sigma_of(&spoiled, w, h), est);
    }

    #[test]
    fn tiny_and_flat_images() {
        assert_eq!(sigma_of(&[], 0, 0), 0.0);
        assert_eq!(sigma_of(&[0.5; 3], 1, 1), 0.0);
        // Whole 2×2 blocks only: 5×5 gives 2×2 = 4 coefficients, the minimum; 5×3 gives
        // 2×1 = 2, too few.
        let noisy = add_noise(&[0.5; 5 * 3 * 3], 30.0, 1);
        assert_eq!(sigma_of(&noisy, 5, 3), 0.0);
        let noisy = add_noise(&[0.5; 5 * 5 * 3], 30.0, 1);
        assert!(sigma_of(&noisy, 5, 5) > 0.0);
        assert_eq!(sigma_of(&vec![0.3; 64 * 48 * 3], 64, 48), 0.0);
    }

    #[test]
    fn haar_hh_known_block_and_median() {
        // One channel carries a checkerboard ±δ: |HH| = 2δ everywhere → σ = 2δ/0.6745;
        // the other two are flat, so the mean over channels is a third of that.
        let (w, h) = (8, 8);
        let delta = 0.01f32;
        let mut img = vec![0.5f32; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                img[(y * w + x) * 3] += if (x + y) % 2 == 0 { delta } else { -delta };
            }
        }
        let want = 2.0 * delta as f64 / 0.6745 / 3.0 * 255.0;
        let got = sigma_of(&img, w, h) as f64;
        assert!((got - want).abs() < 1e-3, "{got} vs {want}");

        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
