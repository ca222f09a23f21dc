//! Writing in bands: every format writes the same bytes however the rows are banded, JPEG the
//! same bytes as `image`'s encoder given the whole image, and an output whose bands stop short
//! or do not fit is not written.

use super::*;
use crate::photo::metadata::tests::camera_exif;
use crate::photo::{load, Band, Limits, Samples};
use std::collections::VecDeque;

/// Bands handed over from a list.
struct List {
    left: VecDeque<Band>,
    current: Option<Band>,
}

impl List {
    /// `photo` cut into bands of `rows` rows.
    fn new(photo: &Photo, rows: usize) -> List {
        let whole = Band {
            y0: 0,
            rows: photo.clone(),
        };
        List {
            left: whole.split(rows).unwrap().into(),
            current: None,
        }
    }
}

impl Bands for List {
    fn advance(&mut self) -> Result<bool> {
        self.current = self.left.pop_front();
        Ok(self.current.is_some())
    }

    fn current(&self) -> (usize, &Photo) {
        let band = self.current.as_ref().unwrap();
        (band.y0, &band.rows)
    }
}

fn fixture(name: &str) -> Photo {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    load(&path, &Limits::default()).unwrap()
}

/// Writes `photo` (held as `format` wants) from bands of `rows` rows; returns the file's bytes.
fn write_banded(dir: &Path, photo: &Photo, format: OutputFormat, rows: usize) -> Result<Vec<u8>> {
    let dest = dir.join(format!("{rows}.{}", format.extension()));
    let mut bands = List::new(photo, rows);
    save_bands(
        &dest,
        &Header::of(photo),
        format,
        &EncodeSettings::default(),
        &mut bands,
    )?;
    Ok(std::fs::read(dest)?)
}

#[test]
fn bands_of_any_height_write_the_same_bytes_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let xmp = b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>".to_vec();
    for name in [
        "rgb8.png",
        "rgb16.png",
        "gray8.png",
        "gray16.png",
        "rgba8.png",
        "icc.png",
    ] {
        let mut photo = fixture(name);
        photo.meta.metadata = Metadata::new(Some(camera_exif(false, 37, 29)), Some(xmp.clone()));
        for format in OutputFormat::ALL {
            let storage = output_storage(&photo.meta, photo.has_alpha(), format);
            let p = photo.converted(storage).unwrap();
            let whole = std::fs::read({
                let dest = dir.path().join(format!("whole.{}", format.extension()));
                save(&dest, &photo, format, &EncodeSettings::default()).unwrap();
                dest
            })
            .unwrap();
            for rows in [1, 3, 8, 13, p.height] {
                let banded = write_banded(dir.path(), &p, format, rows).unwrap();
                assert!(banded == whole, "{name} as {format}, bands of {rows} rows");
            }
        }
    }
}

/// `p`'s samples (8-bit) as `image`'s encoder of `format` writes them from the whole buffer.
fn image_crates_bytes(p: &Photo, format: OutputFormat) -> Vec<u8> {
    use image::codecs::{bmp::BmpEncoder, jpeg::JpegEncoder};
    use image::ImageEncoder;
    let Samples::U8(bytes) = &p.raster.samples else {
        panic!("8-bit")
    };
    let (w, h, color) = (p.width as u32, p.height as u32, color_type(p.storage()));
    let mut out = Vec::new();
    match format {
        OutputFormat::Jpeg => JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
            .write_image(bytes, w, h, color)
            .unwrap(),
        OutputFormat::Bmp => BmpEncoder::new(&mut out)
            .write_image(bytes, w, h, color)
            .unwrap(),
        other => panic!("{other} is not compared with image's encoder"),
    }
    out
}

#[test]
fn jpeg_and_bmp_bytes_are_image_crates_from_the_whole_image() {
    let dir = tempfile::tempdir().unwrap();
    let gray_alpha = {
        let p = fixture("gray8.png");
        let mut p = p
            .converted(Storage {
                layout: Layout {
                    gray: true,
                    alpha: true,
                },
                depth: Depth::U8,
            })
            .unwrap();
        let alpha: Vec<f32> = (0..p.pixels()).map(|i| (i % 7) as f32 / 6.0).collect();
        p.write_alpha(0, &alpha);
        p
    };
    // Every layout aetool writes to BMP (gray, gray + alpha, RGB, RGBA) and to JPEG.
    let photos = [
        ("rgb8.png", fixture("rgb8.png")),
        ("gray8.png", fixture("gray8.png")),
        ("rgba8.png", fixture("rgba8.png")),
        ("gray8.png + alpha", gray_alpha),
    ];
    for (name, p) in &photos {
        for format in [OutputFormat::Jpeg, OutputFormat::Bmp] {
            let storage = output_storage(&p.meta, p.has_alpha(), format);
            let p = p.converted(storage).unwrap();
            let want = image_crates_bytes(&p, format);
            for rows in [1, 5, p.height] {
                let got = write_banded(dir.path(), &p, format, rows).unwrap();
                assert!(got == want, "{name} as {format}, bands of {rows} rows");
            }
        }
    }
}

#[test]
fn bands_that_stop_short_or_do_not_fit_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = fixture("rgb8.png");
    let header = Header::of(&p);
    for format in OutputFormat::ALL {
        let dest = dir.path().join(format!("out.{}", format.extension()));
        // The error of writing `p` in bands of 5 rows, one band dropped by `drop_band`.
        let error = |drop_band: fn(&mut List)| {
            let mut bands = List::new(&p, 5);
            drop_band(&mut bands);
            let e = save_bands(
                &dest,
                &header,
                format,
                &EncodeSettings::default(),
                &mut bands,
            );
            format!("{:#}", e.unwrap_err())
        };
        // The last band never comes.
        let e = error(|b| {
            b.left.pop_back();
        });
        assert!(e.contains("ended after 25 of its 29 rows"), "{format}: {e}");
        // A band out of place.
        let e = error(|b| {
            b.left.remove(1);
        });
        assert!(e.contains("rows 10..15 came where row 5"), "{format}: {e}");
        assert!(!dest.exists(), "{format}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
    // Samples in another storage than the header's.
    let mut bands = List::new(
        &p.converted(Storage {
            depth: Depth::U16,
            ..p.storage()
        })
        .unwrap(),
        8,
    );
    let dest = dir.path().join("out.png");
    let e = save_bands(
        &dest,
        &header,
        OutputFormat::Png,
        &EncodeSettings::default(),
        &mut bands,
    );
    assert!(format!("{:#}", e.unwrap_err()).contains("held as"));
    // A header that is not the format's storage.
    let gray = Header {
        storage: Storage {
            layout: Layout {
                gray: true,
                alpha: false,
            },
            ..header.storage
        },
        ..header.clone()
    };
    let e = save_bands(
        &dest,
        &gray,
        OutputFormat::Png,
        &EncodeSettings::default(),
        &mut List::new(&p, 8),
    );
    assert!(format!("{:#}", e.unwrap_err()).contains("PNG is written from"));
}
