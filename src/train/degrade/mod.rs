//! Realistic degradations: a clean RGB crop becomes what a real camera or phone JPEG looks like.
//!
//! Used on the fly by `finetune` for the denoiser (camera noise + JPEG artefacts, same size as the
//! clean crop) and the upscaler (real low-resolution JPEG input, `side / scale`).
//!
//! Images are [`Rgb32FImage`]: interleaved HWC, RGB, `f32` in `[0, 1]`, sRGB-encoded unless a
//! function says "linear". Noise levels (σ) are on the `[0, 255]` scale unless stated otherwise.
//! All randomness comes from the caller's RNG, so a seeded RNG gives identical output.
//!
//! Building blocks (each in its own file with its unit tests):
//! - exact sRGB ↔ linear light, and random camera tone curves ([`ToneCurve`](tone::ToneCurve));
//! - Poisson–Gaussian (shot + read) noise in linear light, `var = a·x + b`
//!   ([`poisson_gaussian`](noise::poisson_gaussian));
//! - a CBDNet-like camera pipeline: inverse tone curve → inverse white balance → Bayer mosaic →
//!   Poisson–Gaussian noise → bilinear demosaic → white balance → in-camera chroma noise reduction →
//!   tone curve ([`camera_noise`]); the noise becomes signal-dependent, spatially correlated and
//!   channel-correlated, while the clean content goes through unchanged;
//! - low-frequency luminance + chroma "blotch" noise ([`blotch_noise`]);
//! - additive white Gaussian noise ([`add_gaussian`]);
//! - JPEG at IJG quality 1–100 with 4:2:0 chroma, single or non-aligned double ([`jpeg`](jpeg::jpeg),
//!   [`double_jpeg`]);
//! - Gaussian blur, isotropic or anisotropic and rotated ([`gaussian_blur`]), and resizing with a
//!   random filter ([`resize`]);
//! - 8-bit quantisation ([`quantize_8bit`]).
//!
//! The mixtures ([`degrade`]) follow CBDNet (camera pipeline), BSRGAN / Real-ESRGAN (blur, resize,
//! noise, JPEG, second-order) and FBCNN (single and shifted double JPEG). Their probabilities are
//! the `P_*` constants below.

mod camera;
mod filters;
mod jpeg;
mod noise;
#[cfg(test)]
mod test_util;
mod tone;

use camera::{camera_noise, CameraParams};
use filters::{gaussian_blur, quantize_8bit, resize, ResizeFilter};
use image::imageops::{self, FilterType};
use image::Rgb32FImage;
use jpeg::{double_jpeg, jpeg};
pub(crate) use jpeg::{jpeg_decode, jpeg_file};
use noise::{add_gaussian, blotch_noise, BlotchParams};
use rand::Rng;

// ---------------------------------------------------------------------------------------------
// Mixture probabilities and ranges.
// ---------------------------------------------------------------------------------------------

/// Denoise: probability of plain additive white Gaussian noise only (kind `"gauss"`), σ uniform
/// in `[0, AWGN_MAX_SIGMA]`, so that `--sigma N` keeps its meaning. (aetool 0.2's first stage
/// used 0.30 and no [`P_DENOISE_COMPRESSED`] draws; a Gaussian-trained net now serves the
/// default's PNGs and camera JPEGs, so the share went to JPEG artefacts.)
pub const P_DENOISE_GAUSS: f64 = 0.15;
/// Denoise: probability of realistic noise (camera pipeline and/or blotches, then maybe JPEG).
pub const P_DENOISE_REAL: f64 = 0.50;
/// Denoise: probability of JPEG artefacts alone on the clean crop (FBCNN's setting: single or
/// shifted double JPEG at a quality uniform in [`DENOISE_JPEG_QUALITY`]; kind `"compressed"` or
/// `"compressed2"`) — web and phone JPEGs of well-lit scenes. The remaining
/// `1 − P_DENOISE_GAUSS − P_DENOISE_REAL − P_DENOISE_COMPRESSED` (0.15) is "clean-ish": JPEG
/// at a high quality (kind `"jpeg"`) or nothing but 8-bit quantisation (kind `"clean"`).
pub const P_DENOISE_COMPRESSED: f64 = 0.20;
/// Realistic denoise draws: probability of camera-pipeline noise alone (kind `"camera…"`).
pub const P_REAL_CAMERA_ONLY: f64 = 0.5;
/// Realistic denoise draws: probability of blotch noise alone (kind `"blotch…"`); the remaining
/// `1 − P_REAL_CAMERA_ONLY − P_REAL_BLOTCH_ONLY` (0.3) gets both (kind `"camera+blotch…"`).
pub const P_REAL_BLOTCH_ONLY: f64 = 0.2;
/// Realistic denoise draws: probability that the noisy image is then saved as JPEG
/// (quality uniform in [`DENOISE_JPEG_QUALITY`]).
pub const P_REAL_JPEG: f64 = 0.75;
/// Probability that a JPEG step compresses twice, the second time on a grid shifted by
/// `(dx, dy)` uniform in `0..8` (FBCNN's non-aligned double JPEG; kind suffix `"+jpeg2"`).
pub const P_DOUBLE_JPEG: f64 = 0.25;
/// Clean-ish denoise draws: probability of a high-quality JPEG ([`CLEAN_JPEG_QUALITY`]) rather
/// than nothing but 8-bit quantisation.
pub const P_CLEAN_JPEG: f64 = 0.5;

/// Coarse-JPEG denoise (the JPEG-artefact model's mixture, `finetune --degradation jpeg`):
/// probability of noise (camera pipeline and/or blotches, drawn as for the realistic draws)
/// under the final JPEG (kind `"noisy+coarse…"`); the rest are JPEG artefacts alone (kind
/// `"coarse…"`). Web, messaging and re-saved phone photos carry both.
pub const P_COARSE_NOISY: f64 = 0.5;
/// Coarse-JPEG denoise: quality range (inclusive) of the final JPEG, single or shifted double:
/// the photos the default sends the JPEG model (tables below quality 70), with a margin.
pub const COARSE_JPEG_QUALITY: (u8, u8) = (10, 75);

/// Maximum σ (0–255) of the plain Gaussian denoise draws (σ is uniform in `[0, 50]`).
pub const AWGN_MAX_SIGMA: f32 = 50.0;
/// Camera noise for denoising: σ (0–255) at mid grey (sRGB 0.5) in the green channel before
/// demosaicing and noise reduction, drawn log-uniformly in this range (median ≈ 6.3).
pub const DENOISE_CAMERA_SIGMA: (f32, f32) = (1.0, 40.0);
/// Blotch noise: overall level (0–255, chroma σ of the low-resolution field), log-uniform.
pub const BLOTCH_SIGMA: (f32, f32) = (1.0, 14.0);
/// JPEG quality range (inclusive, IJG scale) after realistic denoise noise.
pub const DENOISE_JPEG_QUALITY: (u8, u8) = (10, 95);
/// JPEG quality range (inclusive) of the clean-ish denoise draws.
pub const CLEAN_JPEG_QUALITY: (u8, u8) = (60, 95);
/// Quality range (inclusive) of the first compression of a double JPEG (a camera's own JPEG).
pub const FIRST_JPEG_QUALITY: (u8, u8) = (50, 95);

/// Upscale: probability of the classic clean path (antialiased bicubic downscale, 8-bit; kind
/// `"bicubic"`), which keeps the quality on clean input (the `clean` variants serve that best).
/// (aetool 0.2's first upscalers: 0.2.)
pub const P_UP_CLASSIC: f64 = 0.1;
/// Upscale, realistic path: probability of a Gaussian blur of the clean crop before downscaling
/// (σ in [`BLUR_SIGMA`] high-resolution pixels). Blurred draws teach the net to sharpen, which
/// also sharpens JPEG blocks: at 0.5 (aetool 0.2's first upscalers) the ×2 net gained +0.74 dB
/// over bicubic from JPEG q50 input, at 0.25 +0.83 after the same 1,000 more steps (Set14; the
/// noise share made no difference; checkpoints/README.md, tenth session).
pub const P_UP_BLUR: f64 = 0.25;
/// Upscale, realistic path: probability of a second-order degradation: first resize to an
/// intermediate random size with mild noise / JPEG, then to the final size (kind `"real2"`).
pub const P_UP_SECOND_ORDER: f64 = 0.2;
/// Upscale, realistic path: probability of noise at low resolution, half plain Gaussian with σ in
/// [`UP_GAUSS_SIGMA`], half camera-pipeline noise with mid-grey σ in [`UP_CAMERA_SIGMA`].
pub const P_UP_NOISE: f64 = 0.5;
/// Upscale, realistic path: probability of a final JPEG (quality in [`UP_JPEG_QUALITY`]): most
/// photos on disk are JPEGs. (aetool 0.2's first upscalers: 0.75.)
pub const P_UP_JPEG: f64 = 0.85;
/// σ range (0–255, uniform) of Gaussian noise in the upscale profile.
pub const UP_GAUSS_SIGMA: (f32, f32) = (1.0, 15.0);
/// Mid-grey σ range (0–255, log-uniform) of camera noise in the upscale profile.
pub const UP_CAMERA_SIGMA: (f32, f32) = (1.0, 15.0);
/// JPEG quality range (inclusive) of the upscale profile.
pub const UP_JPEG_QUALITY: (u8, u8) = (30, 95);
/// Blur σ range (pixels, per axis, uniform) of the upscale profile.
pub const BLUR_SIGMA: (f32, f32) = (0.2, 1.5);

// ---------------------------------------------------------------------------------------------
// Public API.
// ---------------------------------------------------------------------------------------------

/// What the degraded image is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Denoising / artefact removal: the output has the clean crop's size; the content is never
    /// blurred or resized (the denoiser must not learn to sharpen).
    Denoise,
    /// As `Denoise`, but every output ends in a coarse JPEG ([`COARSE_JPEG_QUALITY`]), half of
    /// them over noise ([`P_COARSE_NOISY`]): the JPEG-artefact model's photos.
    CoarseJpeg,
    /// Super-resolution by `scale`: the output is `(width / scale) × (height / scale)`.
    Upscale { scale: u32 },
}

/// A degraded training input.
#[derive(Clone, Debug)]
pub struct Degraded {
    /// RGB in `[0, 1]`, on the 8-bit grid (`v · 255` is an integer), like a decoded file.
    pub image: Rgb32FImage,
    /// What was done, for the tests of the mixture: `"gauss"`, `"camera"`, `"blotch"`,
    /// `"camera+blotch"` (each optionally with `"+jpeg"` or `"+jpeg2"`), `"compressed"`,
    /// `"compressed2"`, `"jpeg"`, `"clean"`
    /// (denoise); `"coarse"`, `"coarse2"`, `"noisy+coarse"`, `"noisy+coarse2"` (coarse JPEG);
    /// `"bicubic"`, `"real"`, `"real2"` (upscale).
    #[cfg(test)]
    pub kind: &'static str,
}

/// Degrades a clean crop (RGB in `[0, 1]`, sRGB, any size; for `Upscale` the side should be a
/// multiple of `scale`) into a training input, 8-bit quantised like a file on disk.
///
/// `Denoise` and `CoarseJpeg` return the same size; `Upscale { scale }` returns `(w / scale) × (h / scale)`
/// (integer division, at least 1). Deterministic for a given RNG state.
pub fn degrade(clean: &Rgb32FImage, profile: Profile, rng: &mut impl Rng) -> Degraded {
    match profile {
        Profile::Denoise => degrade_denoise(clean, rng),
        Profile::CoarseJpeg => degrade_coarse_jpeg(clean, rng),
        Profile::Upscale { scale } => degrade_upscale(clean, scale.max(1), rng),
    }
}

/// Root-mean-square of `degraded − clean` on the `[0, 255]` scale (an equivalent noise level for
/// a denoiser's σ input). Both images must have the same size (denoise profile).
///
/// # Panics
/// If the sizes differ.
pub fn rms_255(degraded: &Rgb32FImage, clean: &Rgb32FImage) -> f32 {
    assert_eq!(
        degraded.dimensions(),
        clean.dimensions(),
        "rms_255: sizes differ"
    );
    let n = degraded.len().max(1) as f64;
    let ss: f64 = degraded
        .iter()
        .zip(clean.iter())
        .map(|(&d, &c)| {
            let e = (d - c) as f64;
            e * e
        })
        .sum();
    ((ss / n).sqrt() * 255.0) as f32
}

fn degrade_denoise(clean: &Rgb32FImage, rng: &mut impl Rng) -> Degraded {
    let mut img = clean.clone();
    let u: f64 = rng.random();
    if u < P_DENOISE_GAUSS {
        let sigma = rng.random_range(0.0..=AWGN_MAX_SIGMA);
        add_gaussian(&mut img, sigma, rng);
        quantize_8bit(&mut img);
        return Degraded {
            image: img,
            #[cfg(test)]
            kind: "gauss",
        };
    }
    if u < P_DENOISE_GAUSS + P_DENOISE_REAL {
        let (_camera, _blotch) = real_noise(&mut img, rng);
        let (mut img, _jpeg_passes) = if rng.random_bool(P_REAL_JPEG) {
            random_jpeg(img, DENOISE_JPEG_QUALITY, rng)
        } else {
            (img, 0)
        };
        quantize_8bit(&mut img);
        #[cfg(test)]
        let kind = match (_camera, _blotch, _jpeg_passes) {
            (true, false, 0) => "camera",
            (true, false, 1) => "camera+jpeg",
            (true, false, _) => "camera+jpeg2",
            (false, _, 0) => "blotch",
            (false, _, 1) => "blotch+jpeg",
            (false, _, _) => "blotch+jpeg2",
            (true, true, 0) => "camera+blotch",
            (true, true, 1) => "camera+blotch+jpeg",
            (true, true, _) => "camera+blotch+jpeg2",
        };
        return Degraded {
            image: img,
            #[cfg(test)]
            kind,
        };
    }
    if u < P_DENOISE_GAUSS + P_DENOISE_REAL + P_DENOISE_COMPRESSED {
        let (mut img, _passes) = random_jpeg(img, DENOISE_JPEG_QUALITY, rng);
        quantize_8bit(&mut img);
        return Degraded {
            image: img,
            #[cfg(test)]
            kind: if _passes > 1 {
                "compressed2"
            } else {
                "compressed"
            },
        };
    }
    if rng.random_bool(P_CLEAN_JPEG) {
        let q = rng.random_range(CLEAN_JPEG_QUALITY.0..=CLEAN_JPEG_QUALITY.1);
        // Encoding fails only for sides over 65535 px; the crop then stays as it is.
        if let Ok(mut out) = jpeg(&img, q) {
            quantize_8bit(&mut out);
            return Degraded {
                image: out,
                #[cfg(test)]
                kind: "jpeg",
            };
        }
    }
    quantize_8bit(&mut img);
    Degraded {
        image: img,
        #[cfg(test)]
        kind: "clean",
    }
}

/// Camera-pipeline and / or blotch noise, in the shares of the realistic denoise draws
/// ([`P_REAL_CAMERA_ONLY`], [`P_REAL_BLOTCH_ONLY`]); returns which of the two were added.
fn real_noise(img: &mut Rgb32FImage, rng: &mut impl Rng) -> (bool, bool) {
    let v: f64 = rng.random();
    let (camera, blotch) = if v < P_REAL_CAMERA_ONLY {
        (true, false)
    } else if v < P_REAL_CAMERA_ONLY + P_REAL_BLOTCH_ONLY {
        (false, true)
    } else {
        (true, true)
    };
    if camera {
        let p = CameraParams::random(DENOISE_CAMERA_SIGMA, rng);
        camera_noise(img, &p, rng);
    }
    if blotch {
        let p = BlotchParams::random(rng);
        blotch_noise(img, &p, rng);
    }
    (camera, blotch)
}

fn degrade_coarse_jpeg(clean: &Rgb32FImage, rng: &mut impl Rng) -> Degraded {
    let mut img = clean.clone();
    let noisy = rng.random_bool(P_COARSE_NOISY);
    if noisy {
        real_noise(&mut img, rng);
    }
    let (mut img, _passes) = random_jpeg(img, COARSE_JPEG_QUALITY, rng);
    quantize_8bit(&mut img);
    Degraded {
        image: img,
        #[cfg(test)]
        kind: match (noisy, _passes > 1) {
            (false, false) => "coarse",
            (false, true) => "coarse2",
            (true, false) => "noisy+coarse",
            (true, true) => "noisy+coarse2",
        },
    }
}

fn degrade_upscale(clean: &Rgb32FImage, scale: u32, rng: &mut impl Rng) -> Degraded {
    let (w, h) = clean.dimensions();
    let (lw, lh) = ((w / scale).max(1), (h / scale).max(1));
    if rng.random_bool(P_UP_CLASSIC) {
        let mut lr = imageops::resize(clean, lw, lh, FilterType::CatmullRom);
        quantize_8bit(&mut lr);
        return Degraded {
            image: lr,
            #[cfg(test)]
            kind: "bicubic",
        };
    }
    let blurred;
    let mut src = clean;
    if rng.random_bool(P_UP_BLUR) {
        blurred = random_blur(clean, rng);
        src = &blurred;
    }
    let second = rng.random_bool(P_UP_SECOND_ORDER);
    let mut img = if second {
        // First order: shrink to a random intermediate size between the final and the full one.
        let t: f32 = rng.random_range(0.0..0.8);
        let mid = |full: u32, low: u32| {
            ((low as f32 + (full - low) as f32 * t).round() as u32).clamp(low, full)
        };
        let mut m = resize(src, mid(w, lw), mid(h, lh), ResizeFilter::random(rng));
        if rng.random_bool(0.5) {
            let sigma = rng.random_range(1.0..=8.0);
            add_gaussian(&mut m, sigma, rng);
        }
        if rng.random_bool(0.5) {
            m = random_jpeg(m, (60, 95), rng).0;
        }
        resize(&m, lw, lh, ResizeFilter::random(rng))
    } else {
        resize(src, lw, lh, ResizeFilter::random(rng))
    };
    if rng.random_bool(P_UP_NOISE) {
        if rng.random_bool(0.5) {
            let sigma = rng.random_range(UP_GAUSS_SIGMA.0..=UP_GAUSS_SIGMA.1);
            add_gaussian(&mut img, sigma, rng);
        } else {
            let p = CameraParams::random(UP_CAMERA_SIGMA, rng);
            camera_noise(&mut img, &p, rng);
        }
    }
    if rng.random_bool(P_UP_JPEG) {
        img = random_jpeg(img, UP_JPEG_QUALITY, rng).0;
    }
    quantize_8bit(&mut img);
    Degraded {
        image: img,
        #[cfg(test)]
        kind: if second { "real2" } else { "real" },
    }
}

/// Single JPEG (or, with probability [`P_DOUBLE_JPEG`], a double JPEG whose second grid is
/// shifted) at a quality uniform in `range`. Returns the image, the number of compressions
/// applied (0 if encoding failed, which only happens for sides over 65535 px) and the lowest
/// quality used.
fn random_jpeg(img: Rgb32FImage, range: (u8, u8), rng: &mut impl Rng) -> (Rgb32FImage, u8) {
    let q = rng.random_range(range.0..=range.1);
    if rng.random_bool(P_DOUBLE_JPEG) {
        let q1 = rng.random_range(FIRST_JPEG_QUALITY.0..=FIRST_JPEG_QUALITY.1);
        let dx = rng.random_range(0..8);
        let dy = rng.random_range(0..8);
        match double_jpeg(&img, q1, q, dx, dy) {
            Ok(out) => (out, 2),
            Err(_) => (img, 0),
        }
    } else {
        match jpeg(&img, q) {
            Ok(out) => (out, 1),
            Err(_) => (img, 0),
        }
    }
}

fn random_blur(img: &Rgb32FImage, rng: &mut impl Rng) -> Rgb32FImage {
    let sx = rng.random_range(BLUR_SIGMA.0..=BLUR_SIGMA.1);
    let (sy, theta) = if rng.random_bool(0.5) {
        (sx, 0.0)
    } else {
        (
            rng.random_range(BLUR_SIGMA.0..=BLUR_SIGMA.1),
            rng.random_range(0.0..std::f32::consts::PI),
        )
    };
    gaussian_blur(img, sx, sy, theta)
}

/// Log-uniform draw in `[lo, hi]` (`0 < lo ≤ hi`).
fn log_uniform(rng: &mut impl Rng, lo: f32, hi: f32) -> f32 {
    let t: f32 = rng.random();
    (lo.ln() + t * (hi.ln() - lo.ln())).exp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::degrade::test_util::*;

    #[test]
    fn upscale_output_has_side_over_scale() {
        let mut r = rng(7);
        for scale in [2u32, 3, 4] {
            let clean = scene(24 * scale, 16 * scale);
            for _ in 0..30 {
                let d = degrade(&clean, Profile::Upscale { scale }, &mut r);
                assert_eq!(d.image.dimensions(), (24, 16), "{} ×{scale}", d.kind);
                assert!(on_8bit_grid(&d.image), "{}", d.kind);
            }
        }
    }

    #[test]
    fn same_seed_gives_identical_output() {
        let clean = scene(48, 48);
        for profile in [
            Profile::Denoise,
            Profile::CoarseJpeg,
            Profile::Upscale { scale: 2 },
        ] {
            let (mut r1, mut r2) = (rng(8), rng(8));
            for _ in 0..25 {
                let a = degrade(&clean, profile, &mut r1);
                let b = degrade(&clean, profile, &mut r2);
                assert_eq!(a.kind, b.kind);
                assert_eq!(a.image.as_raw(), b.image.as_raw());
            }
        }
        // A different seed gives a different draw.
        let a = degrade(&clean, Profile::Denoise, &mut rng(8));
        let b = degrade(&clean, Profile::Denoise, &mut rng(9));
        assert_ne!(a.image.as_raw(), b.image.as_raw());
    }

    #[test]
    fn outputs_are_in_range_and_on_the_8bit_grid() {
        let clean = scene(40, 40);
        let mut r = rng(10);
        for _ in 0..150 {
            let d = degrade(&clean, Profile::Denoise, &mut r);
            assert_eq!(d.image.dimensions(), (40, 40));
            assert!(on_8bit_grid(&d.image), "{}", d.kind);
        }
        // Extreme inputs: black and white stay valid.
        for v in [0.0, 1.0] {
            for _ in 0..40 {
                let d = degrade(&flat(16, 16, [v; 3]), Profile::Denoise, &mut r);
                assert!(on_8bit_grid(&d.image), "{}", d.kind);
            }
        }
    }

    #[test]
    fn denoise_mixture_matches_documented_proportions() {
        let clean = scene(32, 32);
        let mut r = rng(11);
        let n = 600;
        let (mut gauss, mut real, mut cleanish, mut real_jpeg, mut double) = (0, 0, 0, 0, 0);
        let mut compressed = 0;
        for _ in 0..n {
            let d = degrade(&clean, Profile::Denoise, &mut r);
            match d.kind {
                "gauss" => gauss += 1,
                "compressed" | "compressed2" => compressed += 1,
                "jpeg" | "clean" => cleanish += 1,
                k if k.starts_with("camera") || k.starts_with("blotch") => {
                    real += 1;
                    if k.contains("+jpeg") {
                        real_jpeg += 1;
                    }
                    if k.ends_with("jpeg2") {
                        double += 1;
                    }
                }
                k => panic!("unknown kind {k}"),
            }
        }
        let frac = |k: usize, of: usize| k as f64 / of as f64;
        // ±4 binomial standard deviations.
        let ok =
            |got: f64, p: f64, m: usize| (got - p).abs() < 4.0 * (p * (1.0 - p) / m as f64).sqrt();
        let p_clean = 1.0 - P_DENOISE_GAUSS - P_DENOISE_REAL - P_DENOISE_COMPRESSED;
        assert!(ok(frac(gauss, n), P_DENOISE_GAUSS, n), "gauss {gauss}/{n}");
        assert!(
            ok(frac(compressed, n), P_DENOISE_COMPRESSED, n),
            "compressed {compressed}/{n}"
        );
        assert!(ok(frac(real, n), P_DENOISE_REAL, n), "real {real}/{n}");
        assert!(
            ok(frac(cleanish, n), p_clean, n),
            "clean-ish {cleanish}/{n}"
        );
        assert!(
            ok(frac(real_jpeg, real), P_REAL_JPEG, real),
            "jpeg {real_jpeg}/{real}"
        );
        assert!(
            ok(frac(double, real_jpeg), P_DOUBLE_JPEG, real_jpeg),
            "double {double}/{real_jpeg}"
        );
    }

    #[test]
    fn coarse_jpeg_mixture_always_compresses_half_over_noise() {
        let clean = scene(40, 40);
        let mut r = rng(14);
        let n = 300;
        let (mut noisy, mut double) = (0, 0);
        for _ in 0..n {
            let d = degrade(&clean, Profile::CoarseJpeg, &mut r);
            assert_eq!(d.image.dimensions(), (40, 40));
            assert!(on_8bit_grid(&d.image), "{}", d.kind);
            // Quality 75 at most: never the crop itself.
            assert!(rms_255(&d.image, &clean) > 0.5, "{}", d.kind);
            noisy += usize::from(d.kind.starts_with("noisy+"));
            double += usize::from(d.kind.ends_with('2'));
        }
        let sd = |p: f64| 4.0 * (p * (1.0 - p) / n as f64).sqrt();
        let frac = |k: usize| k as f64 / n as f64;
        assert!(
            (frac(noisy) - P_COARSE_NOISY).abs() < sd(P_COARSE_NOISY),
            "noisy {noisy}/{n}"
        );
        assert!(
            (frac(double) - P_DOUBLE_JPEG).abs() < sd(P_DOUBLE_JPEG),
            "double {double}/{n}"
        );
    }

    #[test]
    fn median_denoise_draw_is_moderate() {
        // Realistic draws must not be overwhelming at the median (equivalent σ ≤ 15 on 0–255).
        let clean = scene(64, 64);
        let mut r = rng(12);
        let mut levels = Vec::new();
        while levels.len() < 101 {
            let d = degrade(&clean, Profile::Denoise, &mut r);
            if d.kind.starts_with("camera") || d.kind.starts_with("blotch") {
                levels.push(rms_255(&d.image, &clean));
            }
        }
        levels.sort_by(f32::total_cmp);
        let median = levels[50];
        assert!(median > 2.0 && median < 15.0, "median rms {median}");
    }

    /// `cargo test --release -- --ignored --nocapture bench` prints ms per crop.
    #[test]
    #[ignore]
    fn bench_ms_per_crop() {
        let clean = scene(64, 64);
        let mut r = rng(13);
        for (name, profile, crop) in [
            ("denoise 64²", Profile::Denoise, scene(64, 64)),
            (
                "upscale ×2 128²→64²",
                Profile::Upscale { scale: 2 },
                scene(128, 128),
            ),
            (
                "upscale ×4 128²→32²",
                Profile::Upscale { scale: 4 },
                scene(128, 128),
            ),
        ] {
            let n = 2000;
            let t = std::time::Instant::now();
            let mut sink = 0.0f32;
            for _ in 0..n {
                sink += degrade(&crop, profile, &mut r).image.as_raw()[0];
            }
            let ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
            println!("{name}: {ms:.3} ms per crop ({sink})");
        }
        let _ = clean;
    }
}
