//! Is a JPEG complete? The decoder fills a truncated scan with flat grey and says nothing, so
//! the file's marker structure is walked first: segments from SOI, entropy-coded data after
//! each SOS (stuffed `FF 00` bytes and restart markers skipped), until the EOI marker. A file
//! that ends before EOI is truncated, whether baseline or progressive (which has many scans).
//! Bytes after EOI (camera trailers, a second MPF image) are not read.

use std::io::{BufReader, ErrorKind, Read};

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;

/// What is wrong with the file, as the end of a decoder message.
#[derive(Debug, PartialEq, Eq)]
pub enum Incomplete {
    /// The data stops before the end-of-image marker.
    EndsEarly,
    /// Not a JPEG marker structure at all.
    BadStructure(&'static str),
}

/// A byte reader that turns end of file into [`Incomplete::EndsEarly`].
struct Bytes<R> {
    inner: BufReader<R>,
}

impl<R: Read> Bytes<R> {
    fn byte(&mut self) -> Result<u8, Incomplete> {
        let mut b = [0u8];
        loop {
            match self.inner.read(&mut b) {
                Ok(0) => return Err(Incomplete::EndsEarly),
                Ok(_) => return Ok(b[0]),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return Err(Incomplete::EndsEarly),
            }
        }
    }

    fn skip(&mut self, n: u64) -> Result<(), Incomplete> {
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())
            .map_err(|_| Incomplete::EndsEarly)?;
        if copied < n {
            return Err(Incomplete::EndsEarly);
        }
        Ok(())
    }

    /// The marker code after an `FF` (fill bytes `FF FF …` skipped).
    fn marker_code(&mut self) -> Result<u8, Incomplete> {
        loop {
            match self.byte()? {
                0xFF => continue,
                code => return Ok(code),
            }
        }
    }
}

/// Checks that `reader` holds a JPEG marker structure that reaches its end-of-image marker.
pub fn check(reader: impl Read) -> Result<(), Incomplete> {
    let mut r = Bytes {
        inner: BufReader::with_capacity(64 * 1024, reader),
    };
    if r.byte()? != 0xFF || r.byte()? != SOI {
        return Err(Incomplete::BadStructure("no start-of-image marker"));
    }
    let mut code = next_marker(&mut r)?;
    loop {
        match code {
            EOI => return Ok(()),
            // Markers without a length: TEM, RST0–7, a stray SOI.
            0x01 | 0xD0..=0xD8 => code = next_marker(&mut r)?,
            _ => {
                let len = u16::from_be_bytes([r.byte()?, r.byte()?]);
                if len < 2 {
                    return Err(Incomplete::BadStructure("bad segment length"));
                }
                r.skip(u64::from(len) - 2)?;
                code = if code == SOS {
                    end_of_scan(&mut r)?
                } else {
                    next_marker(&mut r)?
                };
            }
        }
    }
}

/// The next marker's code. Stray bytes before it are skipped, as libjpeg does (with a warning)
/// and the decoder does: such files display fine.
fn next_marker<R: Read>(r: &mut Bytes<R>) -> Result<u8, Incomplete> {
    while r.byte()? != 0xFF {}
    r.marker_code()
}

/// Skips entropy-coded data; returns the code of the marker that ends it.
fn end_of_scan<R: Read>(r: &mut Bytes<R>) -> Result<u8, Incomplete> {
    loop {
        if r.byte()? != 0xFF {
            continue;
        }
        match r.marker_code()? {
            0x00 | 0xD0..=0xD7 => continue, // stuffed zero, restart marker
            code => return Ok(code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn complete_files_pass_and_every_truncation_is_caught() {
        for name in ["rgb.jpg", "exif_rot6.jpg"] {
            let full = fixture(name);
            assert_eq!(check(&full[..]), Ok(()), "{name}");
            // Trailing data after EOI (camera trailers) is fine.
            let mut trailer = full.clone();
            trailer.extend_from_slice(b"\0\0SAMSUNG TRAILER\xFF\xD8");
            assert_eq!(check(&trailer[..]), Ok(()), "{name} + trailer");
            for cut in 0..full.len() {
                assert!(check(&full[..cut]).is_err(), "{name} cut at {cut}");
            }
        }
    }

    #[test]
    fn non_jpeg_structures_are_refused() {
        assert_eq!(
            check(&b"\x89PNG"[..]),
            Err(Incomplete::BadStructure("no start-of-image marker"))
        );
        assert!(check(&fixture("corrupt.jpg")[..]).is_err());
        assert_eq!(
            check(&b"\xFF\xD8\xFF\xE0\x00\x01"[..]),
            Err(Incomplete::BadStructure("bad segment length"))
        );
    }
}
