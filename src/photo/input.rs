//! A photo to restore, read a window of rows at a time: either decoded whole (a [`Photo`]), or
//! streamed — decoded on demand into a sliding window of rows (`stream_in.rs`), so that a large
//! PNG or TIFF is never held whole. The restore step asks for the rows it needs next
//! ([`Input::window`]: a row of tiles with its context, a band of colorize's rows) and reads
//! them through a [`Window`]; passes that read the photo row by row from the top (the noise
//! estimate, colorize's checks and working copy) use [`Input::with_rows`].

use super::stream_in::Streamed;
use super::{Band, Photo, PhotoMeta};
use anyhow::Result;
use std::borrow::Cow;
use std::ops::Range;

/// A photo to restore. See the module docs.
pub enum Input<'a> {
    /// Decoded whole (or made in memory: `eval`, tests).
    Whole(Cow<'a, Photo>),
    /// Decoded a window of rows at a time.
    Streamed(Box<Streamed>),
}

impl From<Photo> for Input<'static> {
    fn from(photo: Photo) -> Self {
        Input::Whole(Cow::Owned(photo))
    }
}

impl<'a> From<&'a Photo> for Input<'a> {
    fn from(photo: &'a Photo) -> Self {
        Input::Whole(Cow::Borrowed(photo))
    }
}

/// Rows `y0..y0 + rows.height` of a photo `height` rows tall, read in the photo's coordinates
/// (a row outside the window panics).
pub struct Window<'a> {
    pub y0: usize,
    pub rows: &'a Photo,
    pub height: usize,
}

impl Window<'_> {
    /// The photo's width.
    pub fn width(&self) -> usize {
        self.rows.width
    }

    /// Appends the pixels at columns `xs` of the photo's row `y` to `out` as f32 RGB.
    pub fn read_rgb(&self, y: usize, xs: &[usize], out: &mut Vec<f32>) {
        self.rows.read_rgb(y - self.y0, xs, out);
    }

    /// Appends the photo's row `y` to `out` as f32 RGB (`width × 3` values).
    pub fn rgb_row(&self, y: usize, out: &mut Vec<f32>) {
        self.rows.rgb_row(y - self.y0, out);
    }

    /// The alpha of the photo's `rows` as an f32 plane, if it has alpha.
    pub fn alpha_rows(&self, rows: Range<usize>) -> Option<Vec<f32>> {
        self.rows
            .alpha_rows(rows.start - self.y0..rows.end - self.y0)
    }

    /// Copies the alpha of the photo's rows under `band` into it (opaque where the photo has
    /// none; see [`Photo::copy_alpha`]).
    pub fn copy_alpha_to(&self, band: &mut Band) {
        band.rows.copy_alpha(self.rows, band.y0 - self.y0);
    }
}

impl Input<'_> {
    pub fn width(&self) -> usize {
        match self {
            Input::Whole(p) => p.width,
            Input::Streamed(s) => s.header().width,
        }
    }

    pub fn height(&self) -> usize {
        match self {
            Input::Whole(p) => p.height,
            Input::Streamed(s) => s.header().height,
        }
    }

    /// Number of pixels.
    pub fn pixels(&self) -> usize {
        self.width() * self.height()
    }

    pub fn meta(&self) -> &PhotoMeta {
        match self {
            Input::Whole(p) => &p.meta,
            Input::Streamed(s) => &s.header().meta,
        }
    }

    pub fn has_alpha(&self) -> bool {
        match self {
            Input::Whole(p) => p.has_alpha(),
            Input::Streamed(s) => s.header().storage.layout.alpha,
        }
    }

    /// Whether the photo is decoded a window at a time.
    pub fn is_streamed(&self) -> bool {
        matches!(self, Input::Streamed(_))
    }

    /// A window holding at least `rows` (clamped to the photo): a whole photo is one window; a
    /// streamed one drops the rows before `rows.start` and decodes up to `rows.end`, from the
    /// top again if `rows.start` is before the rows it holds. Fails if the file cannot be read
    /// (the message names the cause, not the file).
    pub fn window(&mut self, rows: Range<usize>) -> Result<Window<'_>> {
        match self {
            Input::Whole(p) => Ok(Window {
                y0: 0,
                rows: p,
                height: p.height,
            }),
            Input::Streamed(s) => s.window(rows),
        }
    }

    /// Runs `f` with a row reader, `read(y, out)` appending row `y` as f32 RGB, for passes
    /// that read rows in order from the top (the reader itself cannot fail): a row that cannot
    /// be decoded reads as black and the first such error is returned once `f` is done.
    pub fn with_rows<T>(
        &mut self,
        f: impl FnOnce(&mut dyn FnMut(usize, &mut Vec<f32>)) -> T,
    ) -> Result<T> {
        let width = self.width();
        let mut error = None;
        let value = f(&mut |y, out| {
            if error.is_none() {
                match self.window(y..y + 1) {
                    Ok(w) => return w.rgb_row(y, out),
                    Err(e) => error = Some(e),
                }
            }
            out.resize(out.len() + width * 3, 0.0);
        });
        match error {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }
}
