//! Catmull-Rom resizing of interleaved f32 planes one output row at a time, so that a resize can
//! run over bands of a photo with neither the source nor the result held whole.
//!
//! It computes exactly what `image::imageops::resize(.., FilterType::CatmullRom)` computes, bit
//! for bit (tested): the same taps (antialiased when shrinking: the kernel is widened by the
//! ratio), the same f32 arithmetic in the same order — a vertical pass, then a horizontal pass
//! whose results are clamped to `[0, 1]` — and, like it, a plain copy when the size is unchanged.
//! Each output value only reads the source rows of its own output row's vertical taps, which is
//! what lets rows be produced in any band.

use std::collections::VecDeque;
use std::ops::Range;

/// One output coordinate's taps: normalised weights of consecutive source samples from `first`.
struct Taps {
    first: usize,
    weights: Vec<f32>,
}

/// The Catmull-Rom cubic (Mitchell–Netravali B = 0, C = 0.5), written as `image` writes it.
fn catmull_rom(x: f32) -> f32 {
    let (b, c) = (0.0f32, 0.5f32);
    let a = x.abs();
    let k = if a < 1.0 {
        (12.0 - 9.0 * b - 6.0 * c) * a.powi(3)
            + (-18.0 + 12.0 * b + 6.0 * c) * a.powi(2)
            + (6.0 - 2.0 * b)
    } else if a < 2.0 {
        (-b - 6.0 * c) * a.powi(3)
            + (6.0 * b + 30.0 * c) * a.powi(2)
            + (-12.0 * b - 48.0 * c) * a
            + (8.0 * b + 24.0 * c)
    } else {
        0.0
    };
    k / 6.0
}

/// The taps of every output coordinate when `src` samples become `dst` (both ≥ 1).
fn taps(src: usize, dst: usize) -> Vec<Taps> {
    let ratio = src as f32 / dst as f32;
    let sratio = if ratio < 1.0 { 1.0 } else { ratio };
    let support = 2.0 * sratio;
    (0..dst)
        .map(|out| {
            let centre = (out as f32 + 0.5) * ratio;
            let left = ((centre - support).floor() as i64).clamp(0, src as i64 - 1);
            let right = ((centre + support).ceil() as i64).clamp(left + 1, src as i64);
            let centre = centre - 0.5;
            let mut weights: Vec<f32> = (left..right)
                .map(|i| catmull_rom((i as f32 - centre) / sratio))
                .collect();
            let mut sum = 0.0;
            for w in &weights {
                sum += w;
            }
            for w in &mut weights {
                *w /= sum;
            }
            Taps {
                first: left as usize,
                weights,
            }
        })
        .collect()
}

/// A resize of planes of `channels` interleaved values from `w × h` to `nw × nh` (all ≥ 1).
pub struct Resize {
    channels: usize,
    w: usize,
    copy: bool,
    rows: Vec<Taps>,
    cols: Vec<Taps>,
}

impl Resize {
    pub fn new(w: usize, h: usize, nw: usize, nh: usize, channels: usize) -> Resize {
        Resize {
            channels,
            w,
            copy: (w, h) == (nw, nh),
            rows: taps(h, nh),
            cols: taps(w, nw),
        }
    }

    /// The source rows output row `y` is made from.
    pub fn source_rows(&self, y: usize) -> Range<usize> {
        if self.copy {
            return y..y + 1;
        }
        let t = &self.rows[y];
        t.first..t.first + t.weights.len()
    }

    /// Appends output row `y` (`nw × channels` values, in `[0, 1]` unless the size is unchanged)
    /// to `out`; `row(i)` is source row `i` (`w × channels` values) for each `i` in
    /// [`Resize::source_rows`]`(y)`.
    pub fn row<'a>(&self, y: usize, row: impl Fn(usize) -> &'a [f32], out: &mut Vec<f32>) {
        let c = self.channels;
        if self.copy {
            out.extend_from_slice(&row(y)[..self.w * c]);
            return;
        }
        let taps = &self.rows[y];
        let mut column = vec![0f32; self.w * c];
        for (k, &wt) in taps.weights.iter().enumerate() {
            for (t, &v) in column.iter_mut().zip(row(taps.first + k)) {
                *t += v * wt;
            }
        }
        for taps in &self.cols {
            for ch in 0..c {
                let mut t = 0.0;
                for (k, &wt) in taps.weights.iter().enumerate() {
                    t += column[(taps.first + k) * c + ch] * wt;
                }
                out.push(t.clamp(0.0, 1.0));
            }
        }
    }

    /// Output rows `ys`, in order, each handed to `emit(y, values)`; each source row they read
    /// is made once by `make(i, &mut row)` (appending `w × channels` values) and dropped as soon
    /// as no later row of `ys` reads it, so only the rows of one output row's taps are held.
    pub fn rows(
        &self,
        ys: Range<usize>,
        mut make: impl FnMut(usize, &mut Vec<f32>),
        mut emit: impl FnMut(usize, &[f32]),
    ) {
        let mut held: VecDeque<Vec<f32>> = VecDeque::new();
        let mut first = 0;
        let mut out = Vec::new();
        for y in ys {
            let need = self.source_rows(y);
            while first < need.start && !held.is_empty() {
                held.pop_front();
                first += 1;
            }
            if held.is_empty() {
                first = need.start;
            }
            while first + held.len() < need.end {
                let mut row = Vec::with_capacity(self.w * self.channels);
                make(first + held.len(), &mut row);
                held.push_back(row);
            }
            out.clear();
            self.row(y, |i| &held[i - first], &mut out);
            emit(y, &out);
        }
    }
}

/// Resizes a whole `w × h` plane of `channels` interleaved values to `nw × nh`.
pub fn resize(
    plane: &[f32],
    w: usize,
    h: usize,
    channels: usize,
    nw: usize,
    nh: usize,
) -> Vec<f32> {
    let r = Resize::new(w, h, nw, nh, channels);
    let n = w * channels;
    let mut out = Vec::with_capacity(nw * nh * channels);
    for y in 0..nh {
        r.row(y, |i| &plane[i * n..(i + 1) * n], &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::imageops::{self, FilterType};
    use image::{ImageBuffer, Luma, LumaA};

    fn plane(n: usize, seed: f32) -> Vec<f32> {
        (0..n)
            .map(|i| (i as f32 * seed).sin() * 0.7 + 0.5)
            .collect()
    }

    /// `image`'s resize of the same plane (1 or 2 channels).
    fn reference(p: &[f32], w: usize, h: usize, c: usize, nw: usize, nh: usize) -> Vec<f32> {
        let (w, h, nw, nh) = (w as u32, h as u32, nw as u32, nh as u32);
        if c == 1 {
            let img: ImageBuffer<Luma<f32>, _> = ImageBuffer::from_raw(w, h, p.to_vec()).unwrap();
            imageops::resize(&img, nw, nh, FilterType::CatmullRom).into_raw()
        } else {
            let img: ImageBuffer<LumaA<f32>, _> = ImageBuffer::from_raw(w, h, p.to_vec()).unwrap();
            imageops::resize(&img, nw, nh, FilterType::CatmullRom).into_raw()
        }
    }

    #[test]
    fn equals_image_resize_bit_for_bit() {
        // Up, down, mixed, ×2 and ×4, odd ratios, one-pixel sides, unchanged size.
        let sizes = [
            (23, 41, 46, 82),
            (23, 41, 92, 164),
            (97, 61, 24, 16),
            (40, 30, 57, 11),
            (1, 9, 5, 3),
            (13, 1, 2, 7),
            (17, 19, 17, 19),
            (17, 19, 17, 40),
        ];
        for (w, h, nw, nh) in sizes {
            for c in [1, 2] {
                // Values a little outside [0, 1] too: the vertical pass must not clamp.
                let p = plane(w * h * c, 0.377);
                let want = reference(&p, w, h, c, nw, nh);
                let got = resize(&p, w, h, c, nw, nh);
                assert!(got == want, "{w}×{h} → {nw}×{nh}, {c} channels");
            }
        }
    }

    #[test]
    fn rows_in_bands_equal_the_whole_resize() {
        for (w, h, nw, nh) in [(31, 27, 124, 108), (120, 90, 19, 13), (9, 40, 30, 33)] {
            let p = plane(w * h * 2, 0.913);
            let whole = resize(&p, w, h, 2, nw, nh);
            let r = Resize::new(w, h, nw, nh, 2);
            for band in [1, 4, 7, nh] {
                let mut got = vec![f32::NAN; whole.len()];
                let mut made = 0;
                for y0 in (0..nh).step_by(band) {
                    let make = |i: usize, row: &mut Vec<f32>| {
                        made += 1;
                        row.extend_from_slice(&p[i * w * 2..(i + 1) * w * 2]);
                    };
                    r.rows(y0..(y0 + band).min(nh), make, |y, v| {
                        got[y * nw * 2..(y + 1) * nw * 2].copy_from_slice(v)
                    });
                }
                assert!(got == whole, "{w}×{h} → {nw}×{nh} in bands of {band}");
                if band == nh {
                    // In one pass every source row is made exactly once.
                    assert_eq!(made, h);
                }
            }
        }
    }
}
