//! A CBDNet-like camera pipeline: Bayer mosaic, Poisson–Gaussian noise in linear light, bilinear
//! demosaic and in-camera chroma noise reduction.

use super::log_uniform;
use super::noise::poisson_gaussian;
use super::tone::{CurveLut, ToneCurve};
use image::Rgb32FImage;
use rand::Rng;

/// A Bayer colour filter array; the name lists the 2×2 tile row by row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bayer {
    Rggb,
    Bggr,
    Grbg,
    Gbrg,
}

impl Bayer {
    pub(crate) const ALL: [Bayer; 4] = [Bayer::Rggb, Bayer::Bggr, Bayer::Grbg, Bayer::Gbrg];

    /// Channel index (0 R, 1 G, 2 B) of the tile, row-major.
    fn tile(self) -> [usize; 4] {
        match self {
            Bayer::Rggb => [0, 1, 1, 2],
            Bayer::Bggr => [2, 1, 1, 0],
            Bayer::Grbg => [1, 0, 2, 1],
            Bayer::Gbrg => [1, 2, 0, 1],
        }
    }

    /// Channel sampled at pixel `(x, y)`.
    pub(crate) fn channel(self, x: usize, y: usize) -> usize {
        self.tile()[(y & 1) * 2 + (x & 1)]
    }
}

/// Samples one channel per pixel through the colour filter array: returns a `w × h` row-major
/// plane whose value at `(x, y)` is `map(c, img[x, y][c])` with `c = pattern.channel(x, y)`.
pub(crate) fn mosaic(
    img: &Rgb32FImage,
    pattern: Bayer,
    map: impl Fn(usize, f32) -> f32,
) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let px: &[f32] = img;
    let mut raw = Vec::with_capacity(w * h);
    for y in 0..h {
        let row = &px[y * w * 3..(y + 1) * w * 3];
        for (x, p) in row.chunks_exact(3).enumerate() {
            let c = pattern.channel(x, y);
            raw.push(map(c, p[c]));
        }
    }
    raw
}

/// Mirror index (reflect-101: -1 → 1, n → n − 2), which keeps the Bayer parity at the borders.
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    if n == 1 {
        return 0;
    }
    let j = if i < 0 {
        -i
    } else if i >= n {
        2 * n - 2 - i
    } else {
        i
    };
    j.clamp(0, n - 1) as usize
}

/// Bilinear demosaicing of a `w × h` Bayer plane into interleaved RGB (`w·h·3`): a pixel keeps
/// its own sample; a missing channel is the 3×3 `[1 2 1; 2 4 2; 1 2 1]`-weighted mean of the
/// neighbours carrying that channel (mirrored borders). Exact on flat images.
pub(crate) fn demosaic_bilinear(raw: &[f32], w: usize, h: usize, pattern: Bayer) -> Vec<f32> {
    const K: [[f32; 3]; 3] = [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]];
    let tile = pattern.tile();
    let mut out = vec![0.0f32; w * h * 3];
    for y in 0..h {
        let ys = [reflect(y as isize - 1, h), y, reflect(y as isize + 1, h)];
        for x in 0..w {
            let xs = [reflect(x as isize - 1, w), x, reflect(x as isize + 1, w)];
            let own = tile[(y & 1) * 2 + (x & 1)];
            let mut acc = [0.0f32; 3];
            let mut wsum = [0.0f32; 3];
            for (krow, &yy) in K.iter().zip(ys.iter()) {
                let prow = &raw[yy * w..(yy + 1) * w];
                for (&kw, &xx) in krow.iter().zip(xs.iter()) {
                    let c = tile[(yy & 1) * 2 + (xx & 1)];
                    acc[c] += kw * prow[xx];
                    wsum[c] += kw;
                }
            }
            let centre = raw[y * w + x];
            let o = &mut out[(y * w + x) * 3..(y * w + x) * 3 + 3];
            for c in 0..3 {
                o[c] = if c == own || wsum[c] == 0.0 {
                    centre
                } else {
                    acc[c] / wsum[c]
                };
            }
        }
    }
    out
}

/// Parameters of [`camera_noise`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct CameraParams {
    /// Shot-noise gain: variance `a·x` in linear raw units.
    pub a: f32,
    /// Read-noise variance in linear raw units.
    pub b: f32,
    pub curve: ToneCurve,
    pub pattern: Bayer,
    /// White-balance gains (R, G, B); raw = linear / gain, so R and B noise is amplified.
    pub wb: [f32; 3],
    /// In-camera chroma noise reduction: box radius (0 = none) applied to the chroma of the noise.
    pub chroma_radius: usize,
    /// Remaining chroma noise amplitude after noise reduction (0–1, 1 = untouched).
    pub chroma_gain: f32,
}

impl CameraParams {
    /// Parameters whose green-channel noise at mid grey (sRGB 0.5), before demosaicing, has a σ
    /// (0–255) drawn log-uniformly in `sigma_mid`; the read-noise share of that variance is
    /// uniform in `[0.05, 0.5]`. Tone curve, Bayer pattern, white balance (R 1.4–2.4,
    /// B 1.3–2.2) and chroma noise reduction (none 20 %, 3×3 40 %, 5×5 40 %) are random.
    pub(crate) fn random(sigma_mid: (f32, f32), rng: &mut impl Rng) -> Self {
        let curve = ToneCurve::random(rng);
        let pattern = Bayer::ALL[rng.random_range(0..4)];
        let wb = [
            rng.random_range(1.4..=2.4),
            1.0,
            rng.random_range(1.3..=2.2),
        ];
        let s = log_uniform(rng, sigma_mid.0, sigma_mid.1);
        let read_share = rng.random_range(0.05..=0.5);
        let (a, b) = Self::shot_read_for(curve, s, read_share);
        let r: f32 = rng.random();
        let chroma_radius = if r < 0.2 {
            0
        } else if r < 0.6 {
            1
        } else {
            2
        };
        let chroma_gain = if chroma_radius == 0 {
            1.0
        } else {
            rng.random_range(0.3..=1.0)
        };
        CameraParams {
            a,
            b,
            curve,
            pattern,
            wb,
            chroma_radius,
            chroma_gain,
        }
    }

    /// `(a, b)` giving σ `sigma_mid` (0–255) at encoded mid grey through `curve`, with
    /// `read_share` of the variance from read noise.
    pub(crate) fn shot_read_for(curve: ToneCurve, sigma_mid: f32, read_share: f32) -> (f32, f32) {
        let x_mid = curve.decode(0.5);
        let sigma_lin = sigma_mid / 255.0 / curve.slope_at(0.5);
        let var = sigma_lin * sigma_lin;
        let b = read_share * var;
        let a = (1.0 - read_share) * var / x_mid;
        (a, b)
    }
}

/// CBDNet-like camera noise, in place on an sRGB image (`[0, 1]`): inverse tone curve and white
/// balance, Bayer mosaic, Poisson–Gaussian noise (`p.a`, `p.b`, clipped at black and saturation),
/// bilinear demosaic of the raw noise, white balance, tone curve, then chroma noise reduction of
/// the noise (not of the content). The content itself is not demosaiced: without noise
/// (`a = b = 0`) the image comes back unchanged up to float rounding.
pub(crate) fn camera_noise(img: &mut Rgb32FImage, p: &CameraParams, rng: &mut impl Rng) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return;
    }
    let curve = CurveLut::new(p.curve);
    let wb = p.wb;
    let clean_raw = mosaic(img, p.pattern, |c, v| curve.decode(v) / wb[c]);
    let mut noise_raw = clean_raw.clone();
    poisson_gaussian(&mut noise_raw, p.a, p.b, rng);
    for (n, c) in noise_raw.iter_mut().zip(&clean_raw) {
        *n -= c;
    }
    // Only the noise goes through the demosaicing: the content keeps its own (true) colours,
    // so the denoiser is not taught to undo demosaicing artefacts of the clean target.
    let lin_noise = demosaic_bilinear(&noise_raw, w, h, p.pattern);
    // Noise in the encoded domain, as luma + chroma planes (BT.601), so that the chroma can be
    // reduced.
    let mut luma = vec![0.0f32; w * h];
    let mut cb = vec![0.0f32; w * h];
    let mut cr = vec![0.0f32; w * h];
    for (i, (n, c)) in lin_noise
        .chunks_exact(3)
        .zip(img.chunks_exact(3))
        .enumerate()
    {
        let mut e = [0.0f32; 3];
        for (((e, &c), &n), &g) in e.iter_mut().zip(c).zip(n).zip(&wb) {
            *e = curve.encode(curve.decode(c) + n * g) - c;
        }
        let y = 0.299 * e[0] + 0.587 * e[1] + 0.114 * e[2];
        luma[i] = y;
        cb[i] = (e[2] - y) * (1.0 / 1.772);
        cr[i] = (e[0] - y) * (1.0 / 1.402);
    }
    if p.chroma_radius > 0 {
        let mut tmp = vec![0.0f32; w * h];
        box_blur_plane(&mut cb, &mut tmp, w, h, p.chroma_radius);
        box_blur_plane(&mut cr, &mut tmp, w, h, p.chroma_radius);
    }
    let g = p.chroma_gain;
    for (i, o) in img.chunks_exact_mut(3).enumerate() {
        let (y, cb, cr) = (luma[i], cb[i] * g, cr[i] * g);
        o[0] = (o[0] + y + 1.402 * cr).clamp(0.0, 1.0);
        o[1] = (o[1] + y - 0.344_136 * cb - 0.714_136 * cr).clamp(0.0, 1.0);
        o[2] = (o[2] + y + 1.772 * cb).clamp(0.0, 1.0);
    }
}

/// Separable box blur of radius `r` (clamped borders) of a `w × h` plane, in place; `tmp` is
/// scratch space of the same length.
fn box_blur_plane(plane: &mut [f32], tmp: &mut [f32], w: usize, h: usize, r: usize) {
    let norm = 1.0 / (2 * r + 1) as f32;
    // Horizontal pass into tmp.
    for (src, dst) in plane.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        for (x, d) in dst.iter_mut().enumerate() {
            let mut s = 0.0;
            for k in 0..=2 * r {
                s += src[(x + k).saturating_sub(r).min(w - 1)];
            }
            *d = s * norm;
        }
    }
    // Vertical pass back into the plane, row by row.
    for (y, dst) in plane.chunks_exact_mut(w).enumerate() {
        dst.fill(0.0);
        for k in 0..=2 * r {
            let yy = (y + k).saturating_sub(r).min(h - 1);
            for (d, &v) in dst.iter_mut().zip(&tmp[yy * w..(yy + 1) * w]) {
                *d += v;
            }
        }
        dst.iter_mut().for_each(|d| *d *= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::degrade::noise::add_gaussian;
    use crate::train::degrade::test_util::*;
    use crate::train::degrade::{rms_255, DENOISE_CAMERA_SIGMA};
    use image::Rgb;

    #[test]
    fn mosaic_demosaic_of_flat_image_is_identity() {
        let c = [0.2f32, 0.5, 0.8];
        let img = flat(13, 9, c);
        for pattern in Bayer::ALL {
            let raw = mosaic(&img, pattern, |_, v| v);
            let rgb = demosaic_bilinear(&raw, 13, 9, pattern);
            for p in rgb.chunks_exact(3) {
                for k in 0..3 {
                    assert!((p[k] - c[k]).abs() < 1e-6, "{pattern:?}: {p:?}");
                }
            }
        }
    }

    #[test]
    fn demosaic_is_exact_on_ramps_inside() {
        // Bilinear interpolation reproduces a linear ramp away from the borders.
        let img = Rgb32FImage::from_fn(16, 12, |x, y| {
            Rgb([0.01 * x as f32, 0.02 * y as f32, 0.01 * (x + y) as f32])
        });
        let raw = mosaic(&img, Bayer::Grbg, |_, v| v);
        let rgb = demosaic_bilinear(&raw, 16, 12, Bayer::Grbg);
        for y in 1..11 {
            for x in 1..15 {
                let p = img.get_pixel(x, y).0;
                for (c, &want) in p.iter().enumerate() {
                    let got = rgb[(y as usize * 16 + x as usize) * 3 + c];
                    assert!((got - want).abs() < 1e-5, "({x},{y},{c}) {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn camera_pipeline_without_noise_keeps_the_content() {
        let clean = scene(40, 30);
        let mut r = rng(2);
        for _ in 0..8 {
            let mut p = CameraParams::random(DENOISE_CAMERA_SIGMA, &mut r);
            p.a = 0.0;
            p.b = 0.0;
            let mut img = clean.clone();
            camera_noise(&mut img, &p, &mut r);
            let err = rms_255(&img, &clean);
            assert!(err < 0.01, "{p:?}: rms {err}");
        }
    }

    #[test]
    fn camera_noise_is_correlated_where_gaussian_is_not() {
        let clean = flat(128, 128, [0.5; 3]);
        let (a, b) = CameraParams::shot_read_for(ToneCurve::Srgb, 20.0, 0.2);
        let p = CameraParams {
            a,
            b,
            curve: ToneCurve::Srgb,
            pattern: Bayer::Rggb,
            wb: [2.0, 1.0, 1.6],
            chroma_radius: 1,
            chroma_gain: 0.6,
        };
        let mut img = clean.clone();
        camera_noise(&mut img, &p, &mut rng(3));
        let (c_rg, c_nb, rms) = noise_stats(&img);
        assert!(c_rg > 0.2, "camera R/G correlation {c_rg}");
        assert!(c_nb > 0.1, "camera neighbour correlation {c_nb}");
        assert!(
            rms > 5.0 && rms < 20.0,
            "camera green rms {rms} for σ_mid 20"
        );

        let mut img = clean.clone();
        add_gaussian(&mut img, 20.0, &mut rng(3));
        let (c_rg, c_nb, rms) = noise_stats(&img);
        assert!(c_rg.abs() < 0.05, "AWGN R/G correlation {c_rg}");
        assert!(c_nb.abs() < 0.05, "AWGN neighbour correlation {c_nb}");
        assert!((rms - 20.0).abs() < 1.0, "AWGN rms {rms}");
    }

    #[test]
    fn camera_noise_is_signal_dependent_in_linear_light() {
        // Pure shot noise: brighter linear signal has more noise in linear light.
        let p = CameraParams {
            a: 0.01,
            b: 0.0,
            curve: ToneCurve::gamma(2.2),
            pattern: Bayer::Bggr,
            wb: [1.0; 3],
            chroma_radius: 0,
            chroma_gain: 1.0,
        };
        let lin_rms = |level: f32| {
            let clean = flat(64, 64, [level; 3]);
            let mut img = clean.clone();
            camera_noise(&mut img, &p, &mut rng(4));
            let x0 = p.curve.decode(level);
            let ss: f32 = img
                .iter()
                .map(|&v| (p.curve.decode(v) - x0).powi(2))
                .sum::<f32>();
            (ss / img.len() as f32).sqrt()
        };
        let (dark, bright) = (lin_rms(0.3), lin_rms(0.8));
        assert!(
            bright > 1.5 * dark,
            "linear rms dark {dark}, bright {bright}"
        );
    }
}
