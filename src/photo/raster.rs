//! Pixels in their storage type: interleaved 8- or 16-bit samples (f32 for float TIFFs and for
//! `eval`'s unquantised images) in the file's channel layout (gray or RGB, with or without
//! alpha). [`Photo`] converts them to and from f32 RGB in `[0, 1]` a row at a time, so a whole
//! photo is never held as f32: the restore step reads tile windows and writes tile cores
//! through [`Photo::read_rgb`] and [`Photo::write_rgb`].
//!
//! Conversions: a sample `k` of an n-bit type reads as `k / (2ⁿ − 1)` (division, so that
//! writing it back gives `k` again); a value `v` is written as `round(clamp(v, 0, 1) · (2ⁿ − 1))`
//! (NaN → 0). f32 samples are read and written unchanged. Gray reads as three equal channels;
//! RGB written to a gray layout is the mean of the three channels.

use super::{clamp01, Photo, PhotoMeta};
use anyhow::{anyhow, bail, Result};
use std::ops::Range;

/// Channel layout: 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) samples a pixel, alpha last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub gray: bool,
    pub alpha: bool,
}

impl Layout {
    /// RGB without alpha.
    pub const RGB: Layout = Layout {
        gray: false,
        alpha: false,
    };

    /// Samples per pixel.
    pub fn channels(self) -> usize {
        if self.gray {
            1 + usize::from(self.alpha)
        } else {
            3 + usize::from(self.alpha)
        }
    }
}

/// Sample type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    U8,
    U16,
    F32,
}

/// Layout and sample type of a raster: what a photo is held as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Storage {
    pub layout: Layout,
    pub depth: Depth,
}

impl Storage {
    /// Bytes a pixel takes.
    pub fn bytes_per_pixel(self) -> usize {
        let sample = match self.depth {
            Depth::U8 => 1,
            Depth::U16 => 2,
            Depth::F32 => 4,
        };
        self.layout.channels() * sample
    }
}

/// Interleaved samples, rows top to bottom, `width × height × layout.channels()` of them.
#[derive(Clone, PartialEq)]
pub enum Samples {
    U8(Vec<u8>),
    U16(Vec<u16>),
    F32(Vec<f32>),
}

impl Samples {
    fn len(&self) -> usize {
        match self {
            Samples::U8(s) => s.len(),
            Samples::U16(s) => s.len(),
            Samples::F32(s) => s.len(),
        }
    }

    fn depth(&self) -> Depth {
        match self {
            Samples::U8(_) => Depth::U8,
            Samples::U16(_) => Depth::U16,
            Samples::F32(_) => Depth::F32,
        }
    }
}

/// A photo's pixels: samples and their layout.
#[derive(Clone, PartialEq)]
pub struct Raster {
    pub layout: Layout,
    pub samples: Samples,
}

/// One sample type and its mapping to `[0, 1]` (see the module docs).
trait Sample: Copy + Default {
    fn to_f32(self) -> f32;
    fn from_f32(v: f32) -> Self;
}

impl Sample for u8 {
    fn to_f32(self) -> f32 {
        f32::from(self) / 255.0
    }
    fn from_f32(v: f32) -> Self {
        (clamp01(v) * 255.0).round() as u8
    }
}

impl Sample for u16 {
    fn to_f32(self) -> f32 {
        f32::from(self) / 65535.0
    }
    fn from_f32(v: f32) -> Self {
        (clamp01(v) * 65535.0).round() as u16
    }
}

impl Sample for f32 {
    fn to_f32(self) -> f32 {
        self
    }
    fn from_f32(v: f32) -> Self {
        v
    }
}

/// Runs `$body` with `$s` bound to the typed sample slice of `$samples` (an expression of type
/// `&Samples` or `&mut Samples`).
macro_rules! with_samples {
    ($samples:expr, $s:ident => $body:expr) => {
        match $samples {
            Samples::U8($s) => $body,
            Samples::U16($s) => $body,
            Samples::F32($s) => $body,
        }
    };
}

impl Photo {
    /// A black photo of `width × height` held as `storage` (alpha 0), to be written into.
    pub fn new(width: usize, height: usize, storage: Storage, meta: PhotoMeta) -> Result<Photo> {
        let n = width
            .checked_mul(height)
            .and_then(|p| p.checked_mul(storage.layout.channels()))
            .ok_or_else(|| anyhow!("{width}×{height} is too large to hold"))?;
        let samples = match storage.depth {
            Depth::U8 => Samples::U8(vec![0; n]),
            Depth::U16 => Samples::U16(vec![0; n]),
            Depth::F32 => Samples::F32(vec![0.0; n]),
        };
        Ok(Photo {
            width,
            height,
            raster: Raster {
                layout: storage.layout,
                samples,
            },
            meta,
        })
    }

    /// A photo held as f32 RGB: `rgb` is interleaved HWC, `width × height × 3` values (not
    /// clamped or quantised: `eval` feeds noisy values to the model as they are).
    pub fn from_rgb_f32(width: usize, height: usize, rgb: Vec<f32>, meta: PhotoMeta) -> Photo {
        Photo {
            width,
            height,
            raster: Raster {
                layout: Layout::RGB,
                samples: Samples::F32(rgb),
            },
            meta,
        }
    }

    /// How the pixels are held.
    pub fn storage(&self) -> Storage {
        Storage {
            layout: self.raster.layout,
            depth: self.raster.samples.depth(),
        }
    }

    /// Whether the photo has an alpha channel.
    pub fn has_alpha(&self) -> bool {
        self.raster.layout.alpha
    }

    /// Number of samples the dimensions call for.
    pub(super) fn expected_samples(&self) -> Option<usize> {
        self.width
            .checked_mul(self.height)?
            .checked_mul(self.raster.layout.channels())
    }

    /// Number of samples held.
    pub(super) fn sample_count(&self) -> usize {
        self.raster.samples.len()
    }

    /// Appends the pixels at columns `xs` of row `y` to `out` as f32 RGB (3 values a pixel).
    pub fn read_rgb(&self, y: usize, xs: &[usize], out: &mut Vec<f32>) {
        let layout = self.raster.layout;
        let row = y * self.width * layout.channels();
        with_samples!(&self.raster.samples, s => {
            read_rgb(&s[row..], layout, xs.iter().copied(), out)
        });
    }

    /// Appends row `y` to `out` as f32 RGB (`width × 3` values).
    pub fn rgb_row(&self, y: usize, out: &mut Vec<f32>) {
        let layout = self.raster.layout;
        let row = y * self.width * layout.channels();
        with_samples!(&self.raster.samples, s => read_rgb(&s[row..], layout, 0..self.width, out));
    }

    /// The whole photo as interleaved f32 RGB (`width × height × 3` values in `[0, 1]`): for
    /// `eval` and training (restoring reads rows).
    pub fn rgb_f32(&self) -> Vec<f32> {
        let mut rgb = Vec::with_capacity(self.width * self.height * 3);
        for y in 0..self.height {
            self.rgb_row(y, &mut rgb);
        }
        rgb
    }

    /// The alpha channel of `rows` as an f32 plane (`width × rows.len()` values in `[0, 1]`),
    /// if the photo has alpha.
    pub fn alpha_rows(&self, rows: Range<usize>) -> Option<Vec<f32>> {
        let c = self.raster.layout.channels();
        let span = rows.start * self.width * c..rows.end * self.width * c;
        self.has_alpha().then(|| {
            with_samples!(&self.raster.samples, s => {
                s[span].chunks_exact(c).map(|px| px[c - 1].to_f32()).collect()
            })
        })
    }

    /// Writes `rgb` (f32 RGB, 3 values a pixel) to row `y` from column `x0` on, converted to
    /// the photo's storage; alpha is left as it is.
    pub fn write_rgb(&mut self, y: usize, x0: usize, rgb: &[f32]) {
        let layout = self.raster.layout;
        let start = (y * self.width + x0) * layout.channels();
        with_samples!(&mut self.raster.samples, s => write_rgb(&mut s[start..], layout, rgb));
    }

    /// Sets the alpha of rows `y0…` from an f32 plane (whole rows, `width` values each);
    /// no-op without alpha.
    pub fn write_alpha(&mut self, y0: usize, plane: &[f32]) {
        let c = self.raster.layout.channels();
        let start = y0 * self.width * c;
        if self.has_alpha() {
            with_samples!(&mut self.raster.samples, s => {
                for (px, &a) in s[start..].chunks_exact_mut(c).zip(plane) {
                    px[c - 1] = Sample::from_f32(a);
                }
            });
        }
    }

    /// Copies the alpha channel of `from`'s rows `y0..y0 + self.height` (`from` has this
    /// photo's width: this photo is the whole of it or a band of its rows), converted to this
    /// photo's depth; opaque where `from` has none; no-op when this photo has no alpha.
    pub fn copy_alpha(&mut self, from: &Photo, y0: usize) {
        if !self.has_alpha() {
            return;
        }
        let (dc, from_layout) = (self.raster.layout.channels(), from.raster.layout);
        let start = y0 * from.width * from_layout.channels();
        with_samples!(&mut self.raster.samples, d => {
            with_samples!(&from.raster.samples, s => copy_alpha(d, dc, &s[start..], from_layout))
        });
    }

    /// Copies `n` rows of `from` (same width and storage), from its row `from_y0` on, into this
    /// photo's rows from `y0` on: how bands of rows are put together or cut up.
    pub fn copy_rows(&mut self, y0: usize, from: &Photo, from_y0: usize, n: usize) -> Result<()> {
        if from.width != self.width || from.storage() != self.storage() {
            bail!(
                "rows {}×… held as {:?} cannot go into a {}×{} photo held as {:?}",
                from.width,
                from.storage(),
                self.width,
                self.height,
                self.storage()
            );
        }
        if y0 + n > self.height || from_y0 + n > from.height {
            bail!(
                "rows {from_y0}..{} of {} do not fit rows {y0}..{} of {}",
                from_y0 + n,
                from.height,
                y0 + n,
                self.height
            );
        }
        let row = self.width * self.raster.layout.channels();
        let (dst, src) = (y0 * row..(y0 + n) * row, from_y0 * row..(from_y0 + n) * row);
        match (&mut self.raster.samples, &from.raster.samples) {
            (Samples::U8(d), Samples::U8(s)) => d[dst].copy_from_slice(&s[src]),
            (Samples::U16(d), Samples::U16(s)) => d[dst].copy_from_slice(&s[src]),
            (Samples::F32(d), Samples::F32(s)) => d[dst].copy_from_slice(&s[src]),
            _ => unreachable!("storages checked equal"),
        }
        Ok(())
    }

    /// The same pixels held as `storage` (converted as the module docs say).
    pub fn converted(&self, storage: Storage) -> Result<Photo> {
        let mut out = Photo::new(self.width, self.height, storage, self.meta.clone())?;
        let mut row = Vec::with_capacity(self.width * 3);
        for y in 0..self.height {
            row.clear();
            self.rgb_row(y, &mut row);
            out.write_rgb(y, 0, &row);
        }
        out.copy_alpha(self, 0);
        Ok(out)
    }
}

fn read_rgb<T: Sample>(
    row: &[T],
    layout: Layout,
    xs: impl Iterator<Item = usize>,
    out: &mut Vec<f32>,
) {
    let c = layout.channels();
    for x in xs {
        let px = &row[x * c..];
        if layout.gray {
            let v = px[0].to_f32();
            out.extend([v, v, v]);
        } else {
            out.extend([px[0].to_f32(), px[1].to_f32(), px[2].to_f32()]);
        }
    }
}

fn write_rgb<T: Sample>(row: &mut [T], layout: Layout, rgb: &[f32]) {
    let c = layout.channels();
    for (px, v) in row.chunks_exact_mut(c).zip(rgb.chunks_exact(3)) {
        if layout.gray {
            px[0] = T::from_f32((v[0] + v[1] + v[2]) / 3.0);
        } else {
            for (p, &v) in px.iter_mut().zip(v) {
                *p = T::from_f32(v);
            }
        }
    }
}

fn copy_alpha<D: Sample, S: Sample>(dst: &mut [D], dc: usize, src: &[S], from: Layout) {
    let sc = from.channels();
    for (i, px) in dst.chunks_exact_mut(dc).enumerate() {
        let a = if from.alpha {
            src[i * sc + sc - 1].to_f32()
        } else {
            1.0
        };
        px[dc - 1] = D::from_f32(a);
    }
}
