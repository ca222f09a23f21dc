//! Gaussian blur, resizing with a random filter and 8-bit quantisation.

use image::imageops::{self, FilterType};
use image::Rgb32FImage;
use rand::Rng;

/// Gaussian blur with standard deviations `sigma_x`, `sigma_y` (pixels) along axes rotated by
/// `theta` (radians); kernel radius `ceil(2·max σ)` clamped to 1–3 (at most 7×7, normalised),
/// replicated borders. Returns a new image of the same size.
pub(crate) fn gaussian_blur(
    img: &Rgb32FImage,
    sigma_x: f32,
    sigma_y: f32,
    theta: f32,
) -> Rgb32FImage {
    let (sx, sy) = (sigma_x.max(0.05), sigma_y.max(0.05));
    let r = ((2.0 * sx.max(sy)).ceil() as i32).clamp(1, 3);
    let (c, s) = (theta.cos(), theta.sin());
    // Inverse covariance of the rotated Gaussian.
    let (ix, iy) = (1.0 / (sx * sx), 1.0 / (sy * sy));
    let (q11, q22, q12) = (
        c * c * ix + s * s * iy,
        s * s * ix + c * c * iy,
        c * s * (ix - iy),
    );
    let side = (2 * r + 1) as usize;
    let mut kernel = vec![0.0f32; side * side];
    for (j, v) in (-r..=r).enumerate() {
        for (i, u) in (-r..=r).enumerate() {
            let (u, v) = (u as f32, v as f32);
            kernel[j * side + i] = (-0.5 * (q11 * u * u + 2.0 * q12 * u * v + q22 * v * v)).exp();
        }
    }
    let total: f32 = kernel.iter().sum();
    kernel.iter_mut().for_each(|k| *k /= total);

    // Pad by replication, then accumulate each tap over whole rows (vectorises well).
    let (w, h, r) = (img.width() as usize, img.height() as usize, r as usize);
    let pw = w + 2 * r;
    let src: &[f32] = img;
    let mut padded = vec![0.0f32; pw * (h + 2 * r) * 3];
    for (py, prow) in padded.chunks_exact_mut(pw * 3).enumerate() {
        let y = py.saturating_sub(r).min(h.saturating_sub(1));
        let row = &src[y * w * 3..(y + 1) * w * 3];
        for (px, p) in prow.chunks_exact_mut(3).enumerate() {
            let x = px.saturating_sub(r).min(w.saturating_sub(1)) * 3;
            p.copy_from_slice(&row[x..x + 3]);
        }
    }
    let mut out = Rgb32FImage::new(img.width(), img.height());
    let dst: &mut [f32] = &mut out;
    for (y, orow) in dst.chunks_exact_mut(w * 3).enumerate() {
        for (j, krow) in kernel.chunks_exact(side).enumerate() {
            let prow = &padded[(y + j) * pw * 3..(y + j + 1) * pw * 3];
            for (i, &k) in krow.iter().enumerate() {
                for (o, &v) in orow.iter_mut().zip(&prow[i * 3..i * 3 + w * 3]) {
                    *o += k * v;
                }
            }
        }
    }
    out
}

/// Resampling filter for [`resize`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResizeFilter {
    /// Box average (exact area for integer factors, otherwise `image`'s antialiased tent).
    Area,
    /// Point-sampled bilinear without antialiasing (like OpenCV `INTER_LINEAR`): aliases when
    /// shrinking, as cheap camera scalers do.
    Bilinear,
    /// Antialiased Catmull–Rom bicubic (`image`'s `CatmullRom`).
    Bicubic,
}

impl ResizeFilter {
    /// Area 35 %, bilinear 25 %, bicubic 40 %.
    pub(crate) fn random(rng: &mut impl Rng) -> Self {
        let u: f32 = rng.random();
        if u < 0.35 {
            ResizeFilter::Area
        } else if u < 0.6 {
            ResizeFilter::Bilinear
        } else {
            ResizeFilter::Bicubic
        }
    }
}

/// Resizes to `nw × nh` (both ≥ 1) with `filter`; output clipped to `[0, 1]`.
pub(crate) fn resize(img: &Rgb32FImage, nw: u32, nh: u32, filter: ResizeFilter) -> Rgb32FImage {
    let (w, h) = img.dimensions();
    let (nw, nh) = (nw.max(1), nh.max(1));
    if (w, h) == (nw, nh) {
        return img.clone();
    }
    let mut out = match filter {
        ResizeFilter::Area if w % nw == 0 && h % nh == 0 => box_downscale(img, w / nw, h / nh),
        ResizeFilter::Area => imageops::resize(img, nw, nh, FilterType::Triangle),
        ResizeFilter::Bicubic => imageops::resize(img, nw, nh, FilterType::CatmullRom),
        ResizeFilter::Bilinear => bilinear_point(img, nw, nh),
    };
    out.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    out
}

/// Mean of each `fx × fy` block.
fn box_downscale(img: &Rgb32FImage, fx: u32, fy: u32) -> Rgb32FImage {
    let (nw, nh) = (img.width() / fx, img.height() / fy);
    let w = img.width() as usize;
    let src: &[f32] = img;
    let norm = 1.0 / (fx * fy) as f32;
    let mut out = Rgb32FImage::new(nw, nh);
    for (i, o) in out.chunks_exact_mut(3).enumerate() {
        let (ox, oy) = (
            (i % nw as usize) * fx as usize,
            (i / nw as usize) * fy as usize,
        );
        let mut acc = [0.0f32; 3];
        for y in oy..oy + fy as usize {
            for x in ox..ox + fx as usize {
                let p = (y * w + x) * 3;
                acc[0] += src[p];
                acc[1] += src[p + 1];
                acc[2] += src[p + 2];
            }
        }
        for (oc, a) in o.iter_mut().zip(acc) {
            *oc = a * norm;
        }
    }
    out
}

/// Bilinear interpolation at pixel centres (`src = (dst + 0.5)·ratio − 0.5`), no prefilter.
fn bilinear_point(img: &Rgb32FImage, nw: u32, nh: u32) -> Rgb32FImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (rx, ry) = (w as f32 / nw as f32, h as f32 / nh as f32);
    let src: &[f32] = img;
    let mut out = Rgb32FImage::new(nw, nh);
    let nw = nw as usize;
    for (i, o) in out.chunks_exact_mut(3).enumerate() {
        let (x, y) = (i % nw, i / nw);
        let fx = ((x as f32 + 0.5) * rx - 0.5).clamp(0.0, (w - 1) as f32);
        let fy = ((y as f32 + 0.5) * ry - 0.5).clamp(0.0, (h - 1) as f32);
        let (x0, y0) = (fx as usize, fy as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
        for (c, oc) in o.iter_mut().enumerate() {
            let p = |xx: usize, yy: usize| src[(yy * w + xx) * 3 + c];
            let top = p(x0, y0) * (1.0 - tx) + p(x1, y0) * tx;
            let bot = p(x0, y1) * (1.0 - tx) + p(x1, y1) * tx;
            *oc = top * (1.0 - ty) + bot * ty;
        }
    }
    out
}

/// Clips to `[0, 1]` and rounds to the 8-bit grid (`round(v·255) / 255`), in place.
pub(crate) fn quantize_8bit(img: &mut Rgb32FImage) {
    for v in img.iter_mut() {
        *v = (v.clamp(0.0, 1.0) * 255.0).round() / 255.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::degrade::noise::add_gaussian;
    use crate::train::degrade::rms_255;
    use crate::train::degrade::test_util::*;

    #[test]
    fn blur_keeps_flat_images_and_smooths_noise() {
        let img = flat(20, 16, [0.3, 0.6, 0.9]);
        let out = gaussian_blur(&img, 1.2, 0.4, 0.7);
        assert!(out
            .iter()
            .zip(img.iter())
            .all(|(a, b)| (a - b).abs() < 1e-5));
        let mut noisy = flat(32, 32, [0.5; 3]);
        add_gaussian(&mut noisy, 20.0, &mut rng(6));
        let before = rms_255(&noisy, &flat(32, 32, [0.5; 3]));
        let after = rms_255(
            &gaussian_blur(&noisy, 1.0, 1.0, 0.0),
            &flat(32, 32, [0.5; 3]),
        );
        assert!(after < 0.5 * before, "{before} -> {after}");
    }

    #[test]
    fn resize_filters_give_the_size_and_keep_flat_colour() {
        let img = flat(48, 40, [0.25, 0.5, 0.75]);
        for f in [
            ResizeFilter::Area,
            ResizeFilter::Bilinear,
            ResizeFilter::Bicubic,
        ] {
            for (nw, nh) in [(24, 20), (12, 10), (31, 27)] {
                let out = resize(&img, nw, nh, f);
                assert_eq!(out.dimensions(), (nw, nh));
                for p in out.pixels() {
                    assert!((p.0[0] - 0.25).abs() < 1e-4 && (p.0[2] - 0.75).abs() < 1e-4);
                }
            }
        }
    }
}
