//! Realistic degradations: a clean RGB crop becomes what a real camera or phone JPEG looks like.
//!
//! Used on the fly by `finetune` for the denoiser (camera noise + JPEG artefacts, same size as the
//! clean crop) and the upscaler (real low-resolution JPEG input, `side / scale`).
//!
//! Images are [`Rgb32FImage`]: interleaved HWC, RGB, `f32` in `[0, 1]`, sRGB-encoded unless a
//! function says "linear". Noise levels (σ) are on the `[0, 255]` scale unless stated otherwise.
//! All randomness comes from the caller's RNG, so a seeded RNG gives identical output.
//!
//! Building blocks (each unit-tested below):
//! - exact sRGB ↔ linear light, and random camera tone curves ([`ToneCurve`]);
//! - Poisson–Gaussian (shot + read) noise in linear light, `var = a·x + b` ([`poisson_gaussian`]);
//! - a CBDNet-like camera pipeline: inverse tone curve → inverse white balance → Bayer mosaic →
//!   Poisson–Gaussian noise → bilinear demosaic → white balance → in-camera chroma noise reduction →
//!   tone curve ([`camera_noise`]); the noise becomes signal-dependent, spatially correlated and
//!   channel-correlated, while the clean content goes through unchanged;
//! - low-frequency luminance + chroma "blotch" noise ([`blotch_noise`]);
//! - additive white Gaussian noise ([`add_gaussian`]);
//! - JPEG at IJG quality 1–100 with 4:2:0 chroma, single or non-aligned double ([`jpeg`],
//!   [`double_jpeg`]);
//! - Gaussian blur, isotropic or anisotropic and rotated ([`gaussian_blur`]), and resizing with a
//!   random filter ([`resize`]);
//! - 8-bit quantisation ([`quantize_8bit`]).
//!
//! The mixtures ([`degrade`]) follow CBDNet (camera pipeline), BSRGAN / Real-ESRGAN (blur, resize,
//! noise, JPEG, second-order) and FBCNN (single and shifted double JPEG). Their probabilities are
//! the `P_*` constants below.

use image::error::{EncodingError as ImageEncodingError, ImageFormatHint};
use image::imageops::{self, FilterType};
use image::{ImageError, ImageFormat, ImageResult, Rgb32FImage};
use jpeg_encoder::{ChromaSubsamplingMethod, ColorType, Encoder, SamplingFactor};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

// ---------------------------------------------------------------------------------------------
// Mixture probabilities and ranges.
// ---------------------------------------------------------------------------------------------

/// Denoise: probability of plain additive white Gaussian noise only (kind `"gauss"`), σ uniform
/// in `[0, AWGN_MAX_SIGMA]`, so that `--sigma N` keeps its meaning. (aetool 0.2's first stage
/// used 0.30 and no [`P_DENOISE_COMPRESSED`] draws; the Gaussian specialist now ships as
/// `--variant gaussian`, so the share went to JPEG artefacts.)
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
    /// (denoise); `"bicubic"`, `"real"`, `"real2"` (upscale).
    #[cfg(test)]
    pub kind: &'static str,
}

/// Degrades a clean crop (RGB in `[0, 1]`, sRGB, any size; for `Upscale` the side should be a
/// multiple of `scale`) into a training input, 8-bit quantised like a file on disk.
///
/// `Denoise` returns the same size; `Upscale { scale }` returns `(w / scale) × (h / scale)`
/// (integer division, at least 1). Deterministic for a given RNG state.
pub fn degrade(clean: &Rgb32FImage, profile: Profile, rng: &mut impl Rng) -> Degraded {
    match profile {
        Profile::Denoise => degrade_denoise(clean, rng),
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
            camera_noise(&mut img, &p, rng);
        }
        if blotch {
            let p = BlotchParams::random(rng);
            blotch_noise(&mut img, &p, rng);
        }
        let (mut img, _jpeg_passes) = if rng.random_bool(P_REAL_JPEG) {
            random_jpeg(img, DENOISE_JPEG_QUALITY, rng)
        } else {
            (img, 0)
        };
        quantize_8bit(&mut img);
        #[cfg(test)]
        let kind = match (camera, blotch, _jpeg_passes) {
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

// ---------------------------------------------------------------------------------------------
// Colour: sRGB and camera tone curves.
// ---------------------------------------------------------------------------------------------

/// Exact sRGB decoding (IEC 61966-2-1): encoded `[0, 1]` → linear light `[0, 1]`.
pub(crate) fn srgb_to_linear(v: f32) -> f32 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// Exact sRGB encoding: linear light `[0, 1]` → encoded `[0, 1]` (negative input maps linearly).
pub(crate) fn linear_to_srgb(x: f32) -> f32 {
    if x <= 0.003_130_8 {
        x * 12.92
    } else {
        1.055 * x.powf(1.0 / 2.4) - 0.055
    }
}

/// Offset of the [`ToneCurve::Gamma`] curves: `((x + c)^(1/γ) − c^(1/γ)) / norm`, which keeps the
/// slope at black finite (≈ 6 for γ 2.2), like the sRGB linear toe.
const GAMMA_TOE: f32 = 0.01;

/// A camera's tone curve (linear light ↔ encoded, both `[0, 1]`, monotonic, 0 ↦ 0 and 1 ↦ 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ToneCurve {
    /// The exact sRGB curve.
    Srgb,
    /// A power law with exponent `gamma` (2.0–2.6 in practice) and a small toe offset.
    Gamma {
        gamma: f32,
        inv_gamma: f32,
        c_pow: f32,
        norm: f32,
    },
}

impl ToneCurve {
    /// The power-law curve with exponent `gamma` (> 0).
    pub(crate) fn gamma(gamma: f32) -> Self {
        let inv_gamma = 1.0 / gamma;
        let c_pow = GAMMA_TOE.powf(inv_gamma);
        let norm = (1.0 + GAMMA_TOE).powf(inv_gamma) - c_pow;
        ToneCurve::Gamma {
            gamma,
            inv_gamma,
            c_pow,
            norm,
        }
    }

    /// sRGB (probability 0.5) or a power law with γ uniform in `[2.0, 2.6]`.
    pub(crate) fn random(rng: &mut impl Rng) -> Self {
        if rng.random_bool(0.5) {
            ToneCurve::Srgb
        } else {
            ToneCurve::gamma(rng.random_range(2.0..=2.6))
        }
    }

    /// Linear light → encoded value. Input below 0 is treated as 0.
    pub(crate) fn encode(self, x: f32) -> f32 {
        match self {
            ToneCurve::Srgb => linear_to_srgb(x.max(0.0)),
            ToneCurve::Gamma {
                inv_gamma,
                c_pow,
                norm,
                ..
            } => ((x.max(0.0) + GAMMA_TOE).powf(inv_gamma) - c_pow) / norm,
        }
    }

    /// Encoded value → linear light (inverse of [`ToneCurve::encode`]).
    pub(crate) fn decode(self, y: f32) -> f32 {
        match self {
            ToneCurve::Srgb => srgb_to_linear(y),
            ToneCurve::Gamma {
                gamma, c_pow, norm, ..
            } => ((y * norm + c_pow).max(0.0).powf(gamma) - GAMMA_TOE).max(0.0),
        }
    }

    /// Slope d(encoded)/d(linear) at encoded value `y` (numerical).
    fn slope_at(self, y: f32) -> f32 {
        let x = self.decode(y);
        let e = 1e-3 * x.max(1e-3);
        (self.encode(x + e) - self.encode((x - e).max(0.0))) / (x + e - (x - e).max(0.0))
    }
}

/// Number of intervals of the [`CurveLut`] tables.
const LUT_SIZE: usize = 1024;

/// Tabulated [`ToneCurve`] (linear interpolation, 2·1025 `powf` to build instead of several per
/// pixel). `decode` is tabulated on the encoded value, `encode` on `sqrt(linear)` so that the
/// steep part near black stays accurate (error below 1e-4, i.e. 0.03 on the 0–255 scale).
pub(crate) struct CurveLut {
    dec: Vec<f32>,
    enc: Vec<f32>,
}

impl CurveLut {
    pub(crate) fn new(curve: ToneCurve) -> Self {
        let n = LUT_SIZE as f32;
        CurveLut {
            dec: (0..=LUT_SIZE).map(|i| curve.decode(i as f32 / n)).collect(),
            enc: (0..=LUT_SIZE)
                .map(|i| {
                    let t = i as f32 / n;
                    curve.encode(t * t)
                })
                .collect(),
        }
    }

    fn interp(table: &[f32], t: f32) -> f32 {
        let f = t.clamp(0.0, 1.0) * LUT_SIZE as f32;
        let i = (f as usize).min(LUT_SIZE - 1);
        let u = f - i as f32;
        table[i] + u * (table[i + 1] - table[i])
    }

    /// Encoded `[0, 1]` → linear (input clamped to `[0, 1]`).
    pub(crate) fn decode(&self, y: f32) -> f32 {
        Self::interp(&self.dec, y)
    }

    /// Linear → encoded (input clamped to `[0, 1]`).
    pub(crate) fn encode(&self, x: f32) -> f32 {
        Self::interp(&self.enc, x.max(0.0).sqrt())
    }
}

// ---------------------------------------------------------------------------------------------
// Noise.
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// JPEG.
// ---------------------------------------------------------------------------------------------

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// JPEG round trip at `quality` (IJG scale 1–100, Annex K tables scaled like libjpeg / Pillow),
/// 4:2:0 chroma subsampling (box-averaged like libjpeg), baseline, decoded by `image`.
/// Output: same size, values on the 8-bit grid. Fails only for sides over 65535 px (or an empty
/// image).
pub(crate) fn jpeg(img: &Rgb32FImage, quality: u8) -> ImageResult<Rgb32FImage> {
    jpeg_decode(&jpeg_file(img, quality)?)
}

/// The pixels of a JPEG file made by [`jpeg_file`], as [`jpeg`] returns them.
pub(crate) fn jpeg_decode(file: &[u8]) -> ImageResult<Rgb32FImage> {
    Ok(image::load_from_memory_with_format(file, ImageFormat::Jpeg)?.into_rgb32f())
}

/// The JPEG file [`jpeg`] decodes.
pub(crate) fn jpeg_file(img: &Rgb32FImage, quality: u8) -> ImageResult<Vec<u8>> {
    let (w, h) = img.dimensions();
    let too_big = || {
        ImageError::Parameter(image::error::ParameterError::from_kind(
            image::error::ParameterErrorKind::DimensionMismatch,
        ))
    };
    let w16 = u16::try_from(w).map_err(|_| too_big())?;
    let h16 = u16::try_from(h).map_err(|_| too_big())?;
    if w16 == 0 || h16 == 0 {
        return Err(too_big());
    }
    let bytes: Vec<u8> = img.iter().map(|&v| to_u8(v)).collect();
    let mut buf: Vec<u8> = Vec::with_capacity(bytes.len() / 4 + 1024);
    let mut enc = Encoder::new(&mut buf, quality.clamp(1, 100));
    enc.set_sampling_factor(SamplingFactor::R_4_2_0);
    enc.set_chroma_subsampling_method(ChromaSubsamplingMethod::Average);
    enc.encode(&bytes, w16, h16, ColorType::Rgb).map_err(|e| {
        ImageError::Encoding(ImageEncodingError::new(
            ImageFormatHint::Exact(ImageFormat::Jpeg),
            e,
        ))
    })?;
    Ok(buf)
}

/// JPEG round trip on an 8×8 grid shifted by `(dx, dy)` (0–7) relative to the image: the image
/// is padded by `dx` columns on the left and `dy` rows on top (edge replication), compressed, and
/// cropped back, so the output keeps the input's size and alignment.
pub(crate) fn jpeg_shifted(
    img: &Rgb32FImage,
    quality: u8,
    dx: u32,
    dy: u32,
) -> ImageResult<Rgb32FImage> {
    if dx == 0 && dy == 0 {
        return jpeg(img, quality);
    }
    let (w, h) = img.dimensions();
    let padded = Rgb32FImage::from_fn(w + dx, h + dy, |x, y| {
        *img.get_pixel(x.saturating_sub(dx), y.saturating_sub(dy))
    });
    let out = jpeg(&padded, quality)?;
    Ok(imageops::crop_imm(&out, dx, dy, w, h).to_image())
}

/// FBCNN-style double JPEG: aligned compression at `q1`, then a second one at `q2` on a grid
/// shifted by `(dx, dy)` (0–7). Same size and alignment as the input.
pub(crate) fn double_jpeg(
    img: &Rgb32FImage,
    q1: u8,
    q2: u8,
    dx: u32,
    dy: u32,
) -> ImageResult<Rgb32FImage> {
    jpeg_shifted(&jpeg(img, q1)?, q2, dx, dy)
}

// ---------------------------------------------------------------------------------------------
// Blur, resize, quantisation.
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn rng(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    fn flat(w: u32, h: u32, rgb: [f32; 3]) -> Rgb32FImage {
        Rgb32FImage::from_pixel(w, h, Rgb(rgb))
    }

    /// A smooth, textured test image on the 8-bit grid.
    fn scene(w: u32, h: u32) -> Rgb32FImage {
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

    fn corr(a: &[f32], b: &[f32]) -> f32 {
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

    fn on_8bit_grid(img: &Rgb32FImage) -> bool {
        img.iter()
            .all(|&v| (0.0..=1.0).contains(&v) && ((v * 255.0) - (v * 255.0).round()).abs() < 1e-3)
    }

    #[test]
    fn srgb_linear_round_trip_and_known_values() {
        for i in 0..=1000 {
            let v = i as f32 / 1000.0;
            assert!((linear_to_srgb(srgb_to_linear(v)) - v).abs() < 1e-5, "{v}");
            assert!((srgb_to_linear(linear_to_srgb(v)) - v).abs() < 1e-5, "{v}");
        }
        assert!((srgb_to_linear(0.5) - 0.214_041).abs() < 1e-5);
        assert!((linear_to_srgb(0.18) - 0.461_356).abs() < 1e-5);
        assert_eq!(srgb_to_linear(0.0), 0.0);
        assert!((srgb_to_linear(1.0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn tone_curves_round_trip_and_are_monotonic() {
        for curve in [
            ToneCurve::Srgb,
            ToneCurve::gamma(2.0),
            ToneCurve::gamma(2.6),
        ] {
            assert!(curve.encode(0.0).abs() < 1e-6);
            assert!((curve.encode(1.0) - 1.0).abs() < 1e-5);
            let mut prev = -1.0;
            for i in 0..=500 {
                let y = i as f32 / 500.0;
                let x = curve.decode(y);
                assert!((curve.encode(x) - y).abs() < 2e-5, "{curve:?} {y}");
                assert!(x > prev || y == 0.0, "{curve:?} not monotonic at {y}");
                prev = x;
            }
            assert!(curve.slope_at(0.5) > 0.5 && curve.slope_at(0.5) < 2.0);
            let lut = CurveLut::new(curve);
            for i in 0..=3000 {
                let v = i as f32 / 3000.0;
                assert!(
                    (lut.decode(v) - curve.decode(v)).abs() < 1e-4,
                    "{curve:?} dec {v}"
                );
                assert!(
                    (lut.encode(v) - curve.encode(v)).abs() < 1e-4,
                    "{curve:?} enc {v}"
                );
            }
        }
    }

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

    /// Noise planes (value − 0.5, per channel) of a degraded flat grey image.
    fn noise_stats(img: &Rgb32FImage) -> (f32, f32, f32) {
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

    fn blockiness(img: &Rgb32FImage) -> f32 {
        // Mean |horizontal step| across 8-pixel block boundaries minus inside blocks.
        let (w, h) = (img.width() as usize, img.height() as usize);
        let g: Vec<f32> = img.chunks_exact(3).map(|p| p[1] * 255.0).collect();
        let (mut edge, mut ne, mut inner, mut ni) = (0.0, 0, 0.0, 0);
        for y in 0..h {
            for x in 0..w - 1 {
                let d = (g[y * w + x + 1] - g[y * w + x]).abs();
                if x % 8 == 7 {
                    edge += d;
                    ne += 1;
                } else {
                    inner += d;
                    ni += 1;
                }
            }
        }
        edge / ne as f32 - inner / ni as f32
    }

    #[test]
    fn jpeg_q10_blocks_more_than_q95_and_keeps_size() {
        let img = Rgb32FImage::from_fn(64, 64, |x, y| {
            let t = (x + y) as f32 / 126.0;
            Rgb([0.1 + 0.8 * t, 0.2 + 0.5 * t, 0.9 - 0.7 * t])
        });
        let lo = jpeg(&img, 10).expect("encode q10");
        let hi = jpeg(&img, 95).expect("encode q95");
        assert_eq!(lo.dimensions(), (64, 64));
        let (b_lo, b_hi) = (blockiness(&lo), blockiness(&hi));
        let (e_lo, e_hi) = (rms_255(&lo, &img), rms_255(&hi, &img));
        assert!(b_lo > b_hi + 0.3, "blockiness q10 {b_lo}, q95 {b_hi}");
        assert!(e_lo > 2.0 * e_hi, "error q10 {e_lo}, q95 {e_hi}");
        assert!(e_hi < 1.5, "q95 error {e_hi}");
        assert!(on_8bit_grid(&lo));
        for (w, h) in [(61, 53), (1, 1), (17, 8)] {
            let out = jpeg(&scene(w, h), 50).expect("encode");
            assert_eq!(out.dimensions(), (w, h));
        }
    }

    #[test]
    fn double_jpeg_keeps_size_and_alignment() {
        let img = scene(61, 45);
        for (dx, dy) in [(0, 0), (3, 5), (7, 1)] {
            let out = double_jpeg(&img, 90, 90, dx, dy).expect("encode");
            assert_eq!(out.dimensions(), img.dimensions());
            let aligned = rms_255(&out, &img);
            // The same comparison one pixel off is much worse: content was not shifted.
            let shifted = Rgb32FImage::from_fn(61, 45, |x, y| *out.get_pixel((x + 1).min(60), y));
            let off = rms_255(&shifted, &img);
            assert!(aligned < 2.5, "({dx},{dy}) rms {aligned}");
            assert!(
                off > aligned * 1.5,
                "({dx},{dy}) aligned {aligned} vs off {off}"
            );
        }
        // The shifted grid puts block edges elsewhere: a flat-ish crop's error pattern differs.
        let a = jpeg_shifted(&img, 20, 0, 0).expect("encode");
        let b = jpeg_shifted(&img, 20, 4, 4).expect("encode");
        assert!(rms_255(&a, &b) > 0.5);
    }

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
        for profile in [Profile::Denoise, Profile::Upscale { scale: 2 }] {
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
