//! How much more than its blind estimate a JPEG needs, from the quality its file's tables say
//! (`photo::jpeg_quality`). The learned estimator reads block artefacts too low — the
//! coarser the quantisation, the more so — while the denoiser removes them best at a higher
//! level; the file itself says how coarse it was. The factor only raises the level (1 from
//! quality [`FULL_ABOVE`] up, and for files that are not JPEG), so a camera JPEG, whose
//! noise the estimator reads as it is, is treated as before.
//!
//! Calibrated for the bundled denoiser on training photos, never on evaluation sets (other
//! weights get the same factors):
//! `scripts/calibrate-jpeg-boost.sh` runs `aetool eval --task denoise --jpeg … --strength F`
//! on a sample of `../shared/data/train` and prints, per quality, the strength that gains most.

use crate::maths::piecewise::piecewise_linear;

/// The factor at each calibrated quality (IJG scale), in increasing quality; linear between them,
/// the first one's below, the last one's (1) above. Measured for `est-long`, the 1-block model (30 training photos; mean gain
/// over the JPEG at the strengths ×1 / 1.25 / 1.5 / 1.75 / 2 / 2.5 / 3): q10 +0.57 / +0.75 / +0.89
/// / +1.01 / +1.09 / +1.17 / +1.16 dB (peak near 2.7); q20 +0.78 / +0.90 / +1.00 / +1.05 / +1.05 /
/// +0.91 dB; q30 +0.82 / +0.89 / +0.93 / +0.90 / +0.81 dB; q40 +0.79 / +0.81 / +0.78 dB; q50 +0.77
/// / +0.77 / +0.70 dB, so 1 from there up. Re-measured for the first 2-block denoiser and its
/// estimator (`denoise-b2-est`, the bundled one's base; same photos, on top of this table,
/// strengths ×0.8 / 1 / 1.25 / 1.5): q10 +1.26 / +1.24 / +1.05 / +0.73 dB; q20 +1.09 / +1.11 /
/// +0.99 / +0.74; q30 +0.98 / +1.06 / +0.94 / +0.72; q40 +0.86 / +0.96 / +0.88 / +0.68; q50 +0.72 /
/// +0.87 / +0.93 / +0.83 — the table is within 0.02 dB of the best factor from q10 to q40, so it
/// stays. For the bundled `denoise-b2c-est`, same photos and method: q10–q40 as before (best ×0.8 /
/// 1 / 1 / 1–1.25, each within 0.013 dB of ×1); q50 ×1 / 1.15 / 1.25 +0.87 / +0.94 / +0.97 dB, q60
/// +0.91 / +0.96 / +0.97, q70 +0.72 / +0.70 / +0.66, q80 +0.52 / +0.43 / +0.34 — hence ×1.25 up to
/// q60, 1 from q70 (camera JPEGs, 75–98, keep the bare estimate). After that model's coarse-JPEG
/// stage (`denoise-jpeg2`, its estimator kept), ×0.8 / 1 / 1.25 of this table: q10 +1.303 / +1.315
/// / +1.124 dB, q20 +1.182 / +1.248 / +1.125, q30 +1.073 / +1.153 / +1.111, q40 +0.980 / +1.061 /
/// +1.055, q50 +0.989 / +1.042 / +0.990, q60 +1.027 / +1.039 / +0.924: ×1 best everywhere.
/// With the level read from a photo's flattest crops (`NoiseEstimator::measure`, twenty-sixth
/// session), ×0.8 / 1 / 1.25: q10 +1.281 / +1.361 / +1.269, q20 +1.185 / +1.240 / +1.161, q30
/// +1.093 / +1.142 / +1.069, q40 +1.003 / +1.052 / +0.999, q50 +0.994 / +1.002 / +0.892, q60
/// +1.020 / +0.982 / +0.809: ×1 best to q50, q60 0.04 dB short of ×0.8 — the table stays.
const BOOST: [(f32, f32); 6] = [
    (10.0, 2.7),
    (20.0, 1.85),
    (30.0, 1.5),
    (40.0, 1.25),
    (60.0, 1.25),
    (FULL_ABOVE as f32, 1.0),
];

/// From this quality up the estimate is used as it is.
const FULL_ABOVE: u8 = 70;

/// Whether a photo whose JPEG tables match `quality` (`None`: not a JPEG) goes to the
/// JPEG-artefact net where the bundled default pairs one with its camera-noise net: JPEGs below
/// [`JPEG_NET_BELOW`] (web, messaging and re-saved photos). Camera JPEGs (75–98), PNG and TIFF
/// stay with the camera-noise net, which serves real sensor noise and clean photos better and
/// JPEG artefacts worse (checkpoints/README.md, sixteenth and seventeenth sessions).
pub fn wants_jpeg_net(quality: Option<u8>) -> bool {
    quality.is_some_and(|q| q < JPEG_NET_BELOW)
}

/// JPEGs below this quality go to the JPEG-artefact net ([`wants_jpeg_net`]): where the boost
/// table stops, the camera JPEGs begin.
pub const JPEG_NET_BELOW: u8 = FULL_ABOVE;

/// The factor on the blind level for a photo whose JPEG tables match `quality` (`None`: not a
/// JPEG, 1).
pub fn factor(quality: Option<u8>) -> f32 {
    quality.map_or(1.0, |q| piecewise_linear(&BOOST, f32::from(q)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_factor_falls_from_low_quality_to_one() {
        assert_eq!(factor(None), 1.0);
        assert_eq!(factor(Some(1)), BOOST[0].1);
        assert_eq!(factor(Some(BOOST[0].0 as u8)), BOOST[0].1);
        for &(q, f) in &BOOST {
            assert_eq!(factor(Some(q as u8)), f, "q{q}");
        }
        for q in FULL_ABOVE..=100 {
            assert_eq!(factor(Some(q)), 1.0, "q{q}");
        }
        // Between two calibrated qualities: between their factors, never rising with quality.
        let all: Vec<f32> = (1..=100).map(|q| factor(Some(q))).collect();
        assert!(all.windows(2).all(|w| w[1] <= w[0]), "{all:?}");
        assert!(all.iter().all(|&f| f >= 1.0));
        let (a, b) = (BOOST[1], BOOST[2]);
        let mid = factor(Some(((a.0 + b.0) / 2.0) as u8));
        assert!((mid - (a.1 + b.1) / 2.0).abs() < 1e-6, "{mid}");
    }

    #[test]
    fn only_jpegs_below_camera_quality_go_to_the_jpeg_net() {
        assert!(!wants_jpeg_net(None));
        assert!(wants_jpeg_net(Some(10)) && wants_jpeg_net(Some(JPEG_NET_BELOW - 1)));
        assert!(!wants_jpeg_net(Some(JPEG_NET_BELOW)) && !wants_jpeg_net(Some(95)));
    }
}
