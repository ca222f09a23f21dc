//! A photo made and written in bands of rows, so that the whole output never has to be held:
//! the restore step hands finished rows on as [`Band`]s, top to bottom, and the encoder writes
//! them as they come ([`Bands`], [`super::save_bands`]). The [`Header`] is what the encoder
//! needs before the first row.

use super::{Metadata, Photo, PhotoMeta, Storage};
use anyhow::Result;

/// A photo before its pixels: size, how its samples are held, and what is written with them.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub width: usize,
    pub height: usize,
    pub storage: Storage,
    pub meta: PhotoMeta,
}

impl Header {
    /// The header of an existing photo.
    pub fn of(photo: &Photo) -> Header {
        Header {
            width: photo.width,
            height: photo.height,
            storage: photo.storage(),
            meta: photo.meta.clone(),
        }
    }

    /// The whole photo, black (alpha 0), to be written into.
    pub fn blank(&self) -> Result<Photo> {
        Photo::new(self.width, self.height, self.storage, self.meta.clone())
    }

    /// Rows `y0..y0 + rows` of the photo, black (alpha 0), to be written into. The band's own
    /// metadata carries no ICC profile, EXIF or XMP: those go with the header.
    pub fn band(&self, y0: usize, rows: usize) -> Result<Band> {
        let meta = PhotoMeta {
            icc: None,
            metadata: Metadata::default(),
            ..PhotoMeta::clone(&self.meta)
        };
        Ok(Band {
            y0,
            rows: Photo::new(self.width, rows, self.storage, meta)?,
        })
    }
}

/// Rows `y0..y0 + rows.height` of a photo: `rows` has the photo's width and storage.
#[derive(Debug)]
pub struct Band {
    pub y0: usize,
    pub rows: Photo,
}

impl Band {
    /// This band cut into bands of at most `max_rows` rows (itself when it is no taller).
    pub fn split(self, max_rows: usize) -> Result<Vec<Band>> {
        let max_rows = max_rows.max(1);
        if self.rows.height <= max_rows {
            return Ok(vec![self]);
        }
        let header = Header::of(&self.rows);
        (0..self.rows.height)
            .step_by(max_rows)
            .map(|y| {
                let n = max_rows.min(self.rows.height - y);
                let mut part = header.band(self.y0 + y, n)?;
                part.rows.copy_rows(0, &self.rows, y, n)?;
                Ok(part)
            })
            .collect()
    }
}

/// A photo's rows, handed to an encoder band by band, top to bottom.
pub trait Bands {
    /// Moves to the next band; `false` when there is none (if rows are still missing, the photo
    /// was not finished and the encoder fails).
    fn advance(&mut self) -> Result<bool>;

    /// The band moved to by the last [`Bands::advance`] that returned `true`: its first row in
    /// the photo and its rows.
    fn current(&self) -> (usize, &Photo);
}

/// A whole photo as a single band.
pub(super) struct Whole<'a> {
    photo: &'a Photo,
    given: bool,
}

impl<'a> Whole<'a> {
    pub(super) fn new(photo: &'a Photo) -> Self {
        Whole {
            photo,
            given: false,
        }
    }
}

impl Bands for Whole<'_> {
    fn advance(&mut self) -> Result<bool> {
        let first = !self.given;
        self.given = true;
        Ok(first)
    }

    fn current(&self) -> (usize, &Photo) {
        (0, self.photo)
    }
}
