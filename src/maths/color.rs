//! Colour maths on f32 pixels, pure functions: sRGB ↔ CIE Lab (D65), BT.601 luma, the cubic
//! resampling kernel.

use palette::{FromColor, Lab, Srgb};

/// Scale of the a/b planes fed to and predicted by the colorize model: `ab_model = ab / AB_SCALE`.
pub const AB_SCALE: f32 = 110.0;

/// sRGB in `[0, 1]` → Lab with L in `[0, 100]`, a/b roughly `[-110, 110]`.
pub fn rgb_to_lab(rgb: [f32; 3]) -> [f32; 3] {
    let lab: Lab = Lab::from_color(Srgb::new(rgb[0], rgb[1], rgb[2]).into_linear::<f32>());
    [lab.l, lab.a, lab.b]
}

/// Lab → sRGB, clamped to `[0, 1]` (out-of-gamut colours are clipped per channel).
pub fn lab_to_rgb(lab: [f32; 3]) -> [f32; 3] {
    let lin: palette::LinSrgb = palette::LinSrgb::from_color(Lab::new(lab[0], lab[1], lab[2]));
    let s: Srgb = Srgb::from_linear(lin);
    [
        s.red.clamp(0.0, 1.0),
        s.green.clamp(0.0, 1.0),
        s.blue.clamp(0.0, 1.0),
    ]
}

/// BT.601 luma of sRGB in `[0, 1]`, on the `[16, 235]` scale used by super-resolution papers.
pub fn rgb_to_y(rgb: [f32; 3]) -> f32 {
    16.0 + 65.481 * rgb[0] + 128.553 * rgb[1] + 24.966 * rgb[2]
}

/// Keys' cubic convolution kernel with a = -0.5 (MATLAB `imresize` "bicubic").
pub fn cubic_weight(x: f64) -> f64 {
    let a = -0.5;
    let x = x.abs();
    if x <= 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_roundtrip_and_known_values() {
        for rgb in [
            [0.0, 0.0, 0.0],
            [1.0, 1.0, 1.0],
            [0.2, 0.5, 0.9],
            [1.0, 0.0, 0.0],
            [0.3, 0.3, 0.3],
        ] {
            let back = lab_to_rgb(rgb_to_lab(rgb));
            for c in 0..3 {
                assert!((back[c] - rgb[c]).abs() < 1e-4, "{rgb:?} -> {back:?}");
            }
        }
        let white = rgb_to_lab([1.0, 1.0, 1.0]);
        assert!((white[0] - 100.0).abs() < 0.01 && white[1].abs() < 0.01 && white[2].abs() < 0.01);
        // Pure sRGB red is L 53.24, a 80.09, b 67.20 (CIE D65).
        let red = rgb_to_lab([1.0, 0.0, 0.0]);
        assert!(
            (red[0] - 53.24).abs() < 0.05
                && (red[1] - 80.09).abs() < 0.1
                && (red[2] - 67.20).abs() < 0.1,
            "{red:?}"
        );
        // Grey has no chroma.
        let grey = rgb_to_lab([0.4, 0.4, 0.4]);
        assert!(grey[1].abs() < 1e-3 && grey[2].abs() < 1e-3);
    }

    #[test]
    fn luma_range_and_cubic_partition_of_unity() {
        assert!((rgb_to_y([0.0; 3]) - 16.0).abs() < 1e-4);
        assert!((rgb_to_y([1.0; 3]) - 235.0).abs() < 1e-3);
        assert_eq!(cubic_weight(0.0), 1.0);
        assert_eq!(cubic_weight(1.0), 0.0);
        for d in [0.0, 0.25, 0.5, 0.75] {
            let sum: f64 = (-3..=3).map(|t| cubic_weight(t as f64 - d)).sum();
            assert!((sum - 1.0).abs() < 1e-12, "offset {d}: {sum}");
        }
    }
}
