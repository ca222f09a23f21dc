//! Colour statistics of whole images for the colorizer: the "already in colour?" check, the
//! hue-balanced colour-correctness figure of `aetool eval --task colorize` (issue 11 item 4),
//! and the grey / uniform-sepia baselines it is compared with.
//!
//! Images are interleaved sRGB planes, HW×3 `f32` in `[0, 1]`, row-major (the "already in
//! colour?" check reads a photo a row at a time instead, so that no whole photo is f32); Lab via
//! [`crate::maths::color`] (D65, L in `[0, 100]`).

use crate::maths::color::{lab_to_rgb, rgb_to_lab};

/// CIELAB chroma above which an original pixel counts as coloured in [`hue_correctness`].
pub const COLOURED_CHROMA: f32 = 15.0;
/// Number of equal hue sectors (60° each) [`hue_correctness`] balances over.
pub const HUE_SECTORS: usize = 6;
/// Largest circular hue difference, degrees, of a correct prediction.
pub const HUE_TOLERANCE_DEG: f32 = 30.0;
/// Smallest share of the chroma an original pixel's prediction must keep to count as correct.
pub const MIN_CHROMA_RATIO: f32 = 0.5;
/// A hue sector takes part in the average only if it holds at least this share of all pixels.
pub const MIN_SECTOR_SHARE: f64 = 0.005;
/// The a/b of the uniform-tint baseline [`sepia`] (a warm brown, chroma 12.4, hue 76°).
pub const SEPIA_AB: [f32; 2] = [3.0, 12.0];
/// Width in L of the lightness slices used by [`colour_spread`].
const SPREAD_L_SLICE: f32 = 5.0;

/// Decision threshold on [`colour_spread`] (Lab units) above which a photo counts as already in
/// colour and `colorize` skips it unless `--recolor`. See [`is_already_colour`] for the reasons.
pub const ALREADY_COLOUR_SPREAD: f32 = 2.5;

/// Lab of every pixel of an HW×3 sRGB plane. Panics unless the length is a multiple of 3.
fn lab_pixels(rgb: &[f32]) -> impl Iterator<Item = [f32; 3]> + '_ {
    assert!(
        rgb.len().is_multiple_of(3),
        "rgb plane length {} not HW×3",
        rgb.len()
    );
    rgb.chunks_exact(3).map(|p| rgb_to_lab([p[0], p[1], p[2]]))
}

/// Mean CIELAB chroma √(a² + b²) of an HW×3 sRGB plane in `[0, 1]`; 0 for an empty plane.
/// About 0–1 for a grey photo (noise, JPEG), 5–15 for a toned (sepia, selenium) print, 10–40
/// for ordinary colour photos, so on its own it cannot tell a toned print from a muted colour
/// photo (see [`is_already_colour`]). Kept for the tests that show why.
#[cfg(test)]
pub fn mean_chroma(rgb: &[f32]) -> f32 {
    let (mut sum, mut n) = (0f64, 0usize);
    for lab in lab_pixels(rgb) {
        sum += lab[1].hypot(lab[2]) as f64;
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        (sum / n as f64) as f32
    }
}

/// How much colour varies *independently of lightness*, in Lab units: the RMS distance of each
/// pixel's (a, b) from the mean (a, b) of all pixels of similar lightness (L slices 5 wide),
/// measured on 2×2 block means (see below), of a `width × height` image read a row at a time:
/// `row(y, out)` appends row `y` (`width × 3` sRGB values in `[0, 1]`). The image is read twice
/// (the slice means, then the distances) and never held: two rows at a time. 0 for an empty image.
///
/// A monochrome image, however it was toned (grey, sepia, cyanotype, split-toned with warm
/// highlights and cool shadows), has its colour fixed by its lightness, so this stays at the
/// noise level; a colour photo has pixels of equal lightness in different colours (sky and
/// grass, skin and shirt) and scores far higher. Being an RMS it also notices a small strongly
/// coloured region on a grey scene (5 % of pixels 50 units away from the rest give ≈ 11).
/// Working on aligned 2×2 block means removes the false colour a JPEG's 4:2:0 chroma
/// subsampling puts at the edges of a toned print (it doubled the toned prints' scores).
pub fn colour_spread(
    width: usize,
    height: usize,
    mut row: impl FnMut(usize, &mut Vec<f32>),
) -> f32 {
    let slices = (100.0 / SPREAD_L_SLICE).ceil() as usize;
    let slice = |l: f32| ((l / SPREAD_L_SLICE).max(0.0) as usize).min(slices - 1);
    let mut acc = vec![[0f64; 3]; slices];
    let mut n = 0usize;
    binned_lab(width, height, &mut row, |lab| {
        let s = &mut acc[slice(lab[0])];
        s[0] += lab[1] as f64;
        s[1] += lab[2] as f64;
        s[2] += 1.0;
        n += 1;
    });
    if n == 0 {
        return 0.0;
    }
    let means: Vec<[f64; 2]> = acc
        .iter()
        .map(|s| [s[0] / s[2].max(1.0), s[1] / s[2].max(1.0)])
        .collect();
    let mut ss = 0f64;
    binned_lab(width, height, &mut row, |lab| {
        let m = means[slice(lab[0])];
        let (da, db) = (lab[1] as f64 - m[0], lab[2] as f64 - m[1]);
        ss += da * da + db * db;
    });
    (ss / n as f64).sqrt() as f32
}

/// Hands `each` the Lab of the 2×2 block means (in sRGB) of a `width × height` image read by
/// `row` (as [`colour_spread`] reads it), row of blocks by row of blocks; a last odd row or
/// column is dropped, and an image under 2×2 is used as it is. Averaging aligned 2×2 blocks in
/// sRGB (where YCbCr is linear) undoes exactly the chroma averaging of a JPEG's 4:2:0
/// subsampling, which would otherwise put false colour at every edge of a toned print.
fn binned_lab(
    width: usize,
    height: usize,
    row: &mut impl FnMut(usize, &mut Vec<f32>),
    mut each: impl FnMut([f32; 3]),
) {
    let (mut top, mut bottom) = (Vec::new(), Vec::new());
    if width < 2 || height < 2 {
        for y in 0..height {
            top.clear();
            row(y, &mut top);
            lab_pixels(&top).for_each(&mut each);
        }
        return;
    }
    for by in 0..height / 2 {
        top.clear();
        bottom.clear();
        row(2 * by, &mut top);
        row(2 * by + 1, &mut bottom);
        for bx in 0..width / 2 {
            let mut m = [0f32; 3];
            for (pair, dx) in [(&top, 0), (&top, 1), (&bottom, 0), (&bottom, 1)] {
                let i = (2 * bx + dx) * 3;
                for c in 0..3 {
                    m[c] += pair[i + c] * 0.25;
                }
            }
            each(rgb_to_lab(m));
        }
    }
}

/// Whether `colorize` should leave this photo alone (unless `--recolor`): [`colour_spread`]
/// above [`ALREADY_COLOUR_SPREAD`] = 2.5 Lab units, for a `width × height` image read a row at a
/// time by `row` (as [`colour_spread`] reads it).
///
/// Why not a threshold on [`mean_chroma`], as issue 11 first proposed: a sepia or otherwise
/// toned print, which is exactly what users bring to be colorized, has a mean chroma of 7–24,
/// as high as ordinary colour photos (CBSD68 originals: 3.4–40, median 16). A mean-chroma
/// threshold low enough to catch colour photos (≈ 2) would refuse every toned print; one high
/// enough to let toned prints through would re-colour most colour photos. What separates them
/// is whether colour varies at a given lightness.
///
/// Calibration (scratch tool, the 68 CBSD68 photos and copies of each made grey, uniformly
/// sepia, sepia with chroma 15 or 25 peaking in the mid-tones, split-toned, cyanotype, each
/// with ±1.5/255 noise, 8-bit rounding and 4:2:0 chroma subsampling):
/// grey copies 0.38–0.53; toned copies 0.44–2.04 (95th percentile ≤ 1.7);
/// originals 1.56–27.5, 5th percentile 3.1, median 8.2.
/// 2.5 clears the worst toned copy by 0.45 and lets through 2 of 68 originals — a snake on
/// plain sand and a grey plane in an overcast sky, photos nearly monochrome in fact, where
/// re-colouring costs little. The errors are lopsided on purpose: a toned print wrongly
/// skipped is announced and `--recolor` fixes it, a colour photo wrongly re-coloured silently
/// loses its colours. Hand-tinted prints (colour per region) count as colour.
pub fn is_already_colour(
    width: usize,
    height: usize,
    row: impl FnMut(usize, &mut Vec<f32>),
) -> bool {
    colour_spread(width, height, row) > ALREADY_COLOUR_SPREAD
}

/// Circular difference of two angles in degrees, in `[0, 180]`.
fn hue_difference(h1: f32, h2: f32) -> f32 {
    let d = (h1 - h2).rem_euclid(360.0);
    d.min(360.0 - d)
}

/// Hue angle atan2(b, a) in degrees, `[0, 360)`.
fn hue_deg(a: f32, b: f32) -> f32 {
    let h = b.atan2(a).to_degrees();
    if h < 0.0 {
        h + 360.0
    } else {
        h.min(359.999_97)
    }
}

/// Hue-balanced colour correctness of a colorized image (issue 11 item 4), in `[0, 1]`.
///
/// `original`, `predicted`: HW×3 sRGB planes in `[0, 1]` of the same image. The original's
/// coloured pixels (CIELAB chroma > 15) are split into six 60° hue sectors (hue = atan2(b, a),
/// sector `[60k, 60k + 60)`). In each sector the score is the share of those pixels whose
/// prediction has chroma ≥ half the original's and a hue within 30° of it (circular
/// difference ≤ 30°). The result averages the sectors holding ≥ 0.5 % of *all* pixels, each
/// sector weighing the same whatever its size. `None` when no sector qualifies (a grey or
/// near-grey original: the figure is undefined, leave the image out of the mean).
///
/// The original scores 1, a grey prediction 0, a uniform tint ≈ 1/(sectors present) (it can
/// only be right in the one sector holding its hue, and only for originals up to twice its
/// chroma). Panics if the lengths differ or are not a multiple of 3.
pub fn hue_correctness(original: &[f32], predicted: &[f32]) -> Option<f64> {
    assert_eq!(original.len(), predicted.len(), "image sizes differ");
    let mut present = [0usize; HUE_SECTORS];
    let mut correct = [0usize; HUE_SECTORS];
    let mut n = 0usize;
    for (o, p) in lab_pixels(original).zip(lab_pixels(predicted)) {
        n += 1;
        let co = o[1].hypot(o[2]);
        if co <= COLOURED_CHROMA {
            continue;
        }
        let ho = hue_deg(o[1], o[2]);
        let sector = ((ho / (360.0 / HUE_SECTORS as f32)) as usize).min(HUE_SECTORS - 1);
        present[sector] += 1;
        let cp = p[1].hypot(p[2]);
        if cp >= MIN_CHROMA_RATIO * co
            && hue_difference(ho, hue_deg(p[1], p[2])) <= HUE_TOLERANCE_DEG
        {
            correct[sector] += 1;
        }
    }
    let min_count = MIN_SECTOR_SHARE * n as f64;
    let scores: Vec<f64> = present
        .iter()
        .zip(&correct)
        .filter(|(&p, _)| p > 0 && p as f64 >= min_count)
        .map(|(&p, &c)| c as f64 / p as f64)
        .collect();
    if scores.is_empty() {
        None
    } else {
        Some(scores.iter().sum::<f64>() / scores.len() as f64)
    }
}

/// The image's own lightness with the same (a, b) everywhere, back to sRGB (clamped). HW×3 in,
/// HW×3 out, sRGB in `[0, 1]`.
pub fn with_uniform_ab(rgb: &[f32], ab: [f32; 2]) -> Vec<f32> {
    let mut out = Vec::with_capacity(rgb.len());
    for lab in lab_pixels(rgb) {
        out.extend_from_slice(&lab_to_rgb([lab[0], ab[0], ab[1]]));
    }
    out
}

/// The uniform-tint baseline: the original's L with a = 3, b = 12 ([`SEPIA_AB`]).
pub fn sepia(rgb: &[f32]) -> Vec<f32> {
    with_uniform_ab(rgb, SEPIA_AB)
}

/// The grey copy a colorizer starts from: the original's L with a = b = 0.
pub fn grey_copy(rgb: &[f32]) -> Vec<f32> {
    with_uniform_ab(rgb, [0.0, 0.0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// sRGB of Lab (L, chroma, hue°).
    fn lch(l: f32, c: f32, h: f32) -> [f32; 3] {
        let r = h.to_radians();
        lab_to_rgb([l, c * r.cos(), c * r.sin()])
    }

    /// `n` pixels per listed hue, all at one L and chroma (in gamut for the values used).
    fn hue_patches(hues: &[f32], l: f32, c: f32, n: usize) -> Vec<f32> {
        hues.iter().flat_map(|&h| lch(l, c, h).repeat(n)).collect()
    }

    /// Width of the synthetic photos.
    const W: usize = 64;

    /// A synthetic "photo" W×48: a lightness ramp with texture, coloured as `colour(L, x, y)`.
    fn photo(colour: impl Fn(f32, usize, usize) -> [f32; 2]) -> Vec<f32> {
        let (w, h) = (W, 48);
        let mut rng = StdRng::seed_from_u64(9);
        let mut out = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let l = 15.0 + 70.0 * (x + y) as f32 / (w + h) as f32 + rng.random_range(-5.0..5.0);
                let ab = colour(l, x, y);
                out.extend_from_slice(&lab_to_rgb([l, ab[0], ab[1]]));
            }
        }
        out
    }

    fn add_noise(rgb: &[f32], sigma: f32, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        rgb.iter()
            .map(|&v| (v + rng.random_range(-sigma..sigma)).clamp(0.0, 1.0))
            .collect()
    }

    /// Sepia-like toning whose chroma follows lightness (pale highlights, rich mid-tones).
    fn toned(l: f32) -> [f32; 2] {
        let c = 14.0 * (1.0 - ((l - 50.0) / 50.0).powi(2)).max(0.0);
        let h = 70f32.to_radians();
        [c * h.cos(), c * h.sin()]
    }

    /// Sky-like blue above, foliage green below, a red object: ordinary colour photo.
    fn colourful(_l: f32, x: usize, y: usize) -> [f32; 2] {
        if (20..30).contains(&x) && (20..30).contains(&y) {
            [45.0, 30.0]
        } else if y < 24 {
            [-5.0, -30.0]
        } else {
            [-25.0, 25.0]
        }
    }

    #[test]
    fn hue_correctness_of_original_and_grey() {
        let orig = hue_patches(&[30.0, 90.0, 150.0, 210.0, 270.0, 330.0], 60.0, 25.0, 50);
        assert_eq!(hue_correctness(&orig, &orig), Some(1.0));
        assert_eq!(hue_correctness(&orig, &grey_copy(&orig)), Some(0.0));
        // A grey original has no coloured pixels: undefined.
        let grey = grey_copy(&orig);
        assert_eq!(hue_correctness(&grey, &orig), None);
        assert_eq!(hue_correctness(&[], &[]), None);
    }

    #[test]
    fn hue_correctness_of_uniform_sepia_is_one_over_sectors_present() {
        // Chroma 20 everywhere: the tint (chroma 12.4, hue 76°) keeps ≥ half of it, and is
        // within 30° only of the 90° patch.
        for hues in [
            vec![30.0, 90.0, 150.0, 210.0, 270.0, 330.0],
            vec![90.0, 210.0, 330.0],
            vec![90.0, 150.0],
        ] {
            let orig = hue_patches(&hues, 60.0, 20.0, 40);
            let s = hue_correctness(&orig, &sepia(&orig)).unwrap();
            assert!((s - 1.0 / hues.len() as f64).abs() < 1e-9, "{hues:?}: {s}");
        }
        // Sectors are balanced: a tiny (but ≥ 0.5 %) sector weighs as much as a big one.
        let mut orig = hue_patches(&[90.0], 60.0, 20.0, 10);
        orig.extend(hue_patches(&[210.0], 60.0, 20.0, 990));
        let s = hue_correctness(&orig, &sepia(&orig)).unwrap();
        assert!((s - 0.5).abs() < 1e-9, "{s}");
    }

    #[test]
    fn hue_correctness_tolerances() {
        let hues = [30.0, 90.0, 150.0, 210.0, 270.0, 330.0];
        let orig = hue_patches(&hues, 60.0, 30.0, 20);
        let shifted = |dh: f32, k: f32| hue_patches(&hues.map(|h| h + dh), 60.0, 30.0 * k, 20);
        assert_eq!(hue_correctness(&orig, &shifted(40.0, 1.0)), Some(0.0));
        assert_eq!(hue_correctness(&orig, &shifted(-40.0, 1.0)), Some(0.0));
        assert_eq!(hue_correctness(&orig, &shifted(25.0, 1.0)), Some(1.0));
        assert_eq!(hue_correctness(&orig, &shifted(0.0, 0.52)), Some(1.0));
        assert_eq!(hue_correctness(&orig, &shifted(0.0, 0.45)), Some(0.0));
        // More chroma than the original is fine.
        assert_eq!(hue_correctness(&orig, &shifted(-20.0, 1.4)), Some(1.0));
        // Across the 0°/360° seam: 350° predicted for 15° original is 25° off.
        let o = hue_patches(&[15.0], 60.0, 30.0, 10);
        let p = hue_patches(&[350.0], 60.0, 30.0, 10);
        assert_eq!(hue_correctness(&o, &p), Some(1.0));
    }

    #[test]
    fn hue_correctness_sector_share_cutoff() {
        // 1,000 pixels: 995 grey and 5 (0.5 %) coloured qualifies; 4 (0.4 %) does not.
        let mut img = hue_patches(&[0.0], 60.0, 0.0, 995);
        img.extend(hue_patches(&[200.0], 60.0, 30.0, 5));
        assert_eq!(hue_correctness(&img, &img), Some(1.0));
        let mut img = hue_patches(&[0.0], 60.0, 0.0, 996);
        img.extend(hue_patches(&[200.0], 60.0, 30.0, 4));
        assert_eq!(hue_correctness(&img, &img), None);
        // The hue helpers wrap around 0°/360°.
        assert!((hue_difference(350.0, 10.0) - 20.0).abs() < 1e-4);
        assert!((hue_deg(0.0, -1.0) - 270.0).abs() < 1e-4);
    }

    #[test]
    fn mean_chroma_orders_grey_toned_colourful() {
        let grey = add_noise(&grey_copy(&photo(colourful)), 0.01, 1);
        let toned_img = add_noise(&photo(|l, _, _| toned(l)), 0.01, 2);
        let colour = add_noise(&photo(colourful), 0.01, 3);
        let (g, t, c) = (
            mean_chroma(&grey),
            mean_chroma(&toned_img),
            mean_chroma(&colour),
        );
        println!("mean chroma: grey {g:.2}, toned {t:.2}, colourful {c:.2}");
        assert!(g < 2.0 && g < t && t < c, "{g} {t} {c}");
        assert!((mean_chroma(&sepia(&colour)) - 12.37).abs() < 0.5);
        assert_eq!(mean_chroma(&[]), 0.0);
    }

    /// Row reader (as [`colour_spread`] takes one) over an HW×3 plane `w` pixels wide.
    fn rows_of(rgb: &[f32], w: usize) -> impl FnMut(usize, &mut Vec<f32>) + '_ {
        move |y, out| out.extend_from_slice(&rgb[y * w * 3..(y + 1) * w * 3])
    }

    /// [`colour_spread`] of an HW×3 plane `w` pixels wide.
    fn spread(rgb: &[f32], w: usize) -> f32 {
        colour_spread(w, rgb.len() / 3 / w, rows_of(rgb, w))
    }

    #[test]
    fn colour_spread_skips_colour_photos_but_not_toned_prints() {
        let grey = add_noise(&grey_copy(&photo(colourful)), 0.01, 1);
        let toned_img = add_noise(&photo(|l, _, _| toned(l)), 0.01, 2);
        // Split toning: cool shadows blending into warm highlights — one colour per lightness.
        let split_tone = |l: f32, _, _| {
            let t = ((l - 30.0) / 40.0).clamp(0.0, 1.0);
            [2.0 + 2.0 * t, -10.0 + 24.0 * t]
        };
        let split = add_noise(&photo(split_tone), 0.01, 4);
        let colour = add_noise(&photo(colourful), 0.01, 3);
        // A muted colour photo: low chroma, two hues at every lightness.
        let muted = photo(|_, x, _| if x % 16 < 8 { [-6.0, -6.0] } else { [6.0, 8.0] });
        // A grey scene with one small red object (4 % of pixels).
        let accent = photo(|_, x, y| {
            if x < 12 && y < 10 {
                [55.0, 40.0]
            } else {
                [0.0, 0.0]
            }
        });
        let spreads = [
            ("grey", spread(&grey, W)),
            ("sepia", spread(&sepia(&colour), W)),
            ("toned", spread(&toned_img, W)),
            ("split", spread(&split, W)),
            ("colourful", spread(&colour, W)),
            ("muted", spread(&muted, W)),
            ("accent", spread(&accent, W)),
        ];
        println!("{spreads:?}");
        for (name, s) in &spreads[..4] {
            assert!(*s < ALREADY_COLOUR_SPREAD, "{name}: {s}");
        }
        for (name, s) in &spreads[4..] {
            assert!(*s > ALREADY_COLOUR_SPREAD, "{name}: {s}");
        }
        let already = |rgb: &[f32]| is_already_colour(W, rgb.len() / 3 / W, rows_of(rgb, W));
        assert!(!already(&toned_img) && already(&colour));
        // The toned print's mean chroma is above the muted colour photo's: why the mean fails.
        assert!(mean_chroma(&toned_img) > mean_chroma(&muted));
        assert_eq!(spread(&[], 1), 0.0);
        // Odd sizes and images under 2×2 work too.
        assert!(spread(&colour[..(W - 1) * 3 * 3], W - 1) > 0.0);
        assert!(spread(&colour[..3 * 3], 3) >= 0.0);
    }

    #[test]
    fn baselines_keep_lightness() {
        let colour = photo(colourful);
        for (img, ab) in [(sepia(&colour), SEPIA_AB), (grey_copy(&colour), [0.0, 0.0])] {
            assert_eq!(img.len(), colour.len());
            for (p, q) in img.chunks_exact(3).zip(colour.chunks_exact(3)) {
                let (lp, lq) = (
                    rgb_to_lab([p[0], p[1], p[2]]),
                    rgb_to_lab([q[0], q[1], q[2]]),
                );
                assert!((lp[0] - lq[0]).abs() < 0.05, "{lp:?} vs {lq:?}");
                if lq[0] > 5.0 && lq[0] < 95.0 {
                    assert!((lp[1] - ab[0]).abs() < 0.05 && (lp[2] - ab[1]).abs() < 0.05);
                }
            }
        }
    }
}
