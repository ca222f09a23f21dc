//! The guided filter (He, Sun & Tang 2010): smooths a multi-channel image `p` while letting its
//! edges follow those of a one-channel guide `I`. Each output is `q = mean(a)·I + mean(b)` with
//! `a = cov(I, p) / (var(I) + eps)` and `b = mean(p) − a·mean(I)` over `(2r+1)²` windows: where
//! the guide is flat, `p` is box-averaged; where the guide has an edge, `q` takes it.
//!
//! Colorize uses it on the predicted ab with the lightness as guide, so colour regions end at the
//! photo's edges instead of at the network's coarse grid (blocks of the bottleneck's size).

/// Mean over the `(2r+1)²` window around each pixel of a `w × h` plane, the window clipped at the
/// borders (so the mean is over the pixels inside the image). Two separable passes of running sums.
fn box_mean(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut rows = vec![0f32; w * h];
    for y in 0..h {
        let line = &src[y * w..(y + 1) * w];
        let mut sum: f64 = line[..r.min(w - 1) + 1].iter().map(|&v| v as f64).sum();
        for x in 0..w {
            let (lo, hi) = (x.saturating_sub(r), (x + r).min(w - 1));
            rows[y * w + x] = (sum / (hi - lo + 1) as f64) as f32;
            if x + r + 1 < w {
                sum += line[x + r + 1] as f64;
            }
            if x >= r {
                sum -= line[x - r] as f64;
            }
        }
    }
    let mut out = vec![0f32; w * h];
    for x in 0..w {
        let mut sum: f64 = (0..=r.min(h - 1)).map(|y| rows[y * w + x] as f64).sum();
        for y in 0..h {
            let (lo, hi) = (y.saturating_sub(r), (y + r).min(h - 1));
            out[y * w + x] = (sum / (hi - lo + 1) as f64) as f32;
            if y + r + 1 < h {
                sum += rows[(y + r + 1) * w + x] as f64;
            }
            if y >= r {
                sum -= rows[(y - r) * w + x] as f64;
            }
        }
    }
    out
}

/// Guided filter of `p` (`w × h × c`, interleaved) by the guide `guide` (`w × h`), window radius
/// `r` pixels, regularisation `eps` (in the guide's units squared: edges whose variance is well
/// above `eps` are kept). Returns `w × h × c`, interleaved.
pub fn guided_filter(guide: &[f32], p: &[f32], w: usize, h: usize, r: usize, eps: f32) -> Vec<f32> {
    let n = w * h;
    assert_eq!(guide.len(), n, "guided_filter: guide size");
    assert!(n > 0 && p.len().is_multiple_of(n), "guided_filter: p size");
    let c = p.len() / n;
    let mean_i = box_mean(guide, w, h, r);
    let sq: Vec<f32> = guide.iter().map(|v| v * v).collect();
    let var_i: Vec<f32> = box_mean(&sq, w, h, r)
        .iter()
        .zip(&mean_i)
        .map(|(m2, m)| (m2 - m * m).max(0.0))
        .collect();
    let mut q = vec![0f32; p.len()];
    for ch in 0..c {
        let pc: Vec<f32> = p.iter().skip(ch).step_by(c).copied().collect();
        let ip: Vec<f32> = pc.iter().zip(guide).map(|(a, b)| a * b).collect();
        let mean_p = box_mean(&pc, w, h, r);
        let mean_ip = box_mean(&ip, w, h, r);
        let a: Vec<f32> = (0..n)
            .map(|k| (mean_ip[k] - mean_i[k] * mean_p[k]) / (var_i[k] + eps))
            .collect();
        let b: Vec<f32> = (0..n).map(|k| mean_p[k] - a[k] * mean_i[k]).collect();
        let (mean_a, mean_b) = (box_mean(&a, w, h, r), box_mean(&b, w, h, r));
        for k in 0..n {
            q[k * c + ch] = mean_a[k] * guide[k] + mean_b[k];
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_mean_matches_a_direct_sum_with_clipped_windows() {
        let (w, h, r) = (7, 5, 2);
        let src: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 11) as f32).collect();
        let got = box_mean(&src, w, h, r);
        for y in 0..h {
            for x in 0..w {
                let (mut s, mut n) = (0.0, 0.0);
                for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                    for xx in x.saturating_sub(r)..=(x + r).min(w - 1) {
                        s += src[yy * w + xx];
                        n += 1.0;
                    }
                }
                assert!((got[y * w + x] - s / n).abs() < 1e-5, "({x}, {y})");
            }
        }
    }

    #[test]
    fn flat_guide_averages_and_an_edge_in_the_guide_is_kept() {
        let (w, h) = (32, 8);
        // p: two colour blocks split at x = 12 (not an edge of the guide) and x = 20.
        let p: Vec<f32> = (0..w * h)
            .flat_map(|k| {
                let x = k % w;
                let v = if x < 12 { -0.5 } else { 0.5 };
                [v, -v]
            })
            .collect();
        // Flat guide: the block edge at 12 is smoothed into a ramp.
        let flat = vec![0.5; w * h];
        let q = guided_filter(&flat, &p, w, h, 4, 1e-3);
        let at = |q: &[f32], x: usize| q[(4 * w + x) * 2];
        assert!(at(&q, 11) > -0.4 && at(&q, 12) < 0.4, "smoothed across");
        assert!((at(&q, 0) + 0.5).abs() < 1e-4 && (at(&q, 31) - 0.5).abs() < 1e-4);
        // A guide with its edge where p's is: the colour edge stays sharp.
        let edge: Vec<f32> = (0..w * h)
            .map(|k| if k % w < 12 { 0.2 } else { 0.8 })
            .collect();
        let q = guided_filter(&edge, &p, w, h, 4, 1e-3);
        assert!(at(&q, 11) < -0.45 && at(&q, 12) > 0.45, "edge kept");
    }
}
