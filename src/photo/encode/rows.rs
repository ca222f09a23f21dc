//! The encoders' view of a photo arriving in bands ([`Bands`]): its rows, top to bottom, in the
//! chunks each encoder wants (what a band holds, a TIFF strip, a JPEG block row, everything),
//! checked against the [`Header`] as they come.

use crate::photo::{Bands, Header, Samples, Storage};
use anyhow::{bail, Result};
use std::borrow::Cow;

/// A sample type an encoder reads: 8 or 16 bits.
pub(super) trait Typed: Copy {
    /// The samples if they are of this type.
    fn of(samples: &Samples) -> Option<&[Self]>;
}

impl Typed for u8 {
    fn of(samples: &Samples) -> Option<&[u8]> {
        match samples {
            Samples::U8(s) => Some(s),
            _ => None,
        }
    }
}

impl Typed for u16 {
    fn of(samples: &Samples) -> Option<&[u16]> {
        match samples {
            Samples::U16(s) => Some(s),
            _ => None,
        }
    }
}

/// Reads the rows of a photo described by a [`Header`] from its [`Bands`].
pub(super) struct Rows<'a> {
    bands: &'a mut dyn Bands,
    header: &'a Header,
    /// The next row of the photo to hand out.
    next: usize,
    /// Rows of the current band handed out, and its height (0 before the first band).
    in_band: usize,
    band_rows: usize,
}

impl<'a> Rows<'a> {
    pub(super) fn new(header: &'a Header, bands: &'a mut dyn Bands) -> Self {
        Rows {
            bands,
            header,
            next: 0,
            in_band: 0,
            band_rows: 0,
        }
    }

    /// How the samples are held.
    pub(super) fn storage(&self) -> Storage {
        self.header.storage
    }

    /// Samples in one row.
    pub(super) fn row_len(&self) -> usize {
        self.header.width * self.header.storage.layout.channels()
    }

    /// Rows not handed out yet.
    pub(super) fn left(&self) -> usize {
        self.header.height - self.next
    }

    /// Moves to the next band if the current one is used up, checking that it continues the
    /// photo in its storage.
    fn fill(&mut self) -> Result<()> {
        if self.in_band < self.band_rows {
            return Ok(());
        }
        if !self.bands.advance()? {
            bail!(
                "the photo ended after {} of its {} rows",
                self.next,
                self.header.height
            );
        }
        let (y0, band) = self.bands.current();
        let h = self.header;
        if y0 != self.next || band.height == 0 || band.height > self.left() {
            bail!(
                "rows {y0}..{} came where row {} of {} was due",
                y0 + band.height,
                self.next,
                h.height
            );
        }
        if band.width != h.width || band.storage() != h.storage {
            bail!(
                "rows {}×{} held as {:?} in a {}×{} photo held as {:?}",
                band.width,
                band.height,
                band.storage(),
                h.width,
                h.height,
                h.storage
            );
        }
        (self.in_band, self.band_rows) = (0, band.height);
        Ok(())
    }

    /// The next rows, at least one and at most `max_rows` (and never from two bands), as samples
    /// of type `T` (`rows × row_len` of them). Call only while [`Rows::left`] is not 0.
    pub(super) fn next<T: Typed>(&mut self, max_rows: usize) -> Result<&[T]> {
        self.fill()?;
        let n = max_rows.max(1).min(self.band_rows - self.in_band);
        let (row, start) = (self.row_len(), self.in_band);
        (self.in_band, self.next) = (self.in_band + n, self.next + n);
        let samples = &self.bands.current().1.raster.samples;
        match T::of(samples) {
            Some(s) => Ok(&s[start * row..(start + n) * row]),
            None => bail!("the encoder cannot take {:?} samples", self.header.storage),
        }
    }

    /// Copies the next `n` rows into `out` (emptied first), across bands.
    pub(super) fn read<T: Typed>(&mut self, n: usize, out: &mut Vec<T>) -> Result<()> {
        out.clear();
        let row = self.row_len();
        while out.len() < n * row {
            let rows = n - out.len() / row;
            out.extend_from_slice(self.next(rows)?);
        }
        Ok(())
    }

    /// All the rows left: borrowed when one band holds them all (a whole photo being saved),
    /// gathered otherwise (formats whose encoders take a whole image: WebP and BMP).
    pub(super) fn rest<T: Typed>(&mut self) -> Result<Cow<'_, [T]>> {
        let left = self.left();
        self.fill()?;
        if self.band_rows - self.in_band == left {
            return Ok(Cow::Borrowed(self.next(left)?));
        }
        let mut all = Vec::with_capacity(left * self.row_len());
        self.read(left, &mut all)?;
        Ok(Cow::Owned(all))
    }
}
