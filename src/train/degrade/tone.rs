//! sRGB ↔ linear light and random camera tone curves.

use rand::Rng;

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
    pub(super) fn slope_at(self, y: f32) -> f32 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
