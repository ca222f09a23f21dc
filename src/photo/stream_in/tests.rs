//! Streamed inputs hold the samples `image` decodes, in any order of windows, and refuse
//! damaged files when opened; the layouts that cannot stream are decoded whole.

use crate::photo::{
    load, open, save, Depth, EncodeSettings, Input, Layout, Limits, OutputFormat, Photo, Storage,
};
use std::path::{Path, PathBuf};

/// Streams everything.
const STREAM_ALL: Limits = Limits {
    max_pixels: 150_000_000,
    stream_above: 0,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// `rows` of `input`'s photo, copied out of the window that holds them.
fn rows_of(input: &mut Input, rows: std::ops::Range<usize>) -> Photo {
    let win = input.window(rows.clone()).unwrap();
    let mut out = Photo::new(
        win.width(),
        rows.len(),
        win.rows.storage(),
        win.rows.meta.clone(),
    )
    .unwrap();
    out.copy_rows(0, win.rows, rows.start - win.y0, rows.len())
        .unwrap();
    out
}

/// The fixture `name` held as `storage`, written as `format` into `dir`.
fn written(dir: &Path, name: &str, storage: Storage, format: OutputFormat) -> PathBuf {
    let photo = load(&fixture(name), &Limits::default()).unwrap();
    let mut photo = photo.converted(storage).unwrap();
    if storage.layout.alpha {
        let alpha: Vec<f32> = (0..photo.pixels())
            .map(|i| (i % 11) as f32 / 10.0)
            .collect();
        photo.write_alpha(0, &alpha);
    }
    photo.meta.gray = storage.layout.gray;
    photo.meta.sixteen_bit = storage.depth == Depth::U16;
    let path = dir.join(format!(
        "{name}-{}{}{}.{}",
        if storage.layout.gray { "gray" } else { "rgb" },
        if storage.layout.alpha { "a" } else { "" },
        if storage.depth == Depth::U16 {
            "16"
        } else {
            "8"
        },
        format.extension()
    ));
    save(&path, &photo, format, &EncodeSettings::default()).unwrap();
    path
}

#[test]
fn streamed_rows_are_image_crates_in_any_order_of_windows() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = ["rgb8.png", "rgb16.png", "gray8.png", "gray16.png"]
        .iter()
        .chain(&["rgba8.png", "palette_trns.png", "icc.png", "rgb16.tif"])
        .map(|n| fixture(n))
        .collect();
    // Every 8- and 16-bit layout in TIFF (strips, as aetool writes them) and PNG.
    for gray in [false, true] {
        for alpha in [false, true] {
            for depth in [Depth::U8, Depth::U16] {
                let storage = Storage {
                    layout: Layout { gray, alpha },
                    depth,
                };
                for format in [OutputFormat::Png, OutputFormat::Tiff] {
                    if !(gray && alpha && format == OutputFormat::Tiff) {
                        files.push(written(dir.path(), "rgb8.png", storage, format));
                    }
                }
            }
        }
    }
    for path in files {
        let whole = load(&path, &Limits::default()).unwrap();
        let mut input = open(&path, &STREAM_ALL).unwrap();
        let name = path.display();
        assert!(input.is_streamed(), "{name}");
        assert_eq!((input.width(), input.height()), (whole.width, whole.height));
        assert!(*input.meta() == whole.meta, "{name}");
        let h = whole.height;
        // Forward, overlapping, backwards (from the top again), one row, to the end.
        for rows in [0..5, 3..9, 9..h, 1..4, 0..h, 7..8, h - 1..h] {
            let got = rows_of(&mut input, rows.clone());
            let mut want = got.clone();
            want.copy_rows(0, &whole, rows.start, rows.len()).unwrap();
            assert!(got == want, "{name} rows {rows:?}");
        }
        let mut by_rows = Vec::new();
        input
            .with_rows(|read| (0..h).for_each(|y| read(y, &mut by_rows)))
            .unwrap();
        assert!(by_rows == whole.rgb_f32(), "{name} row by row");
    }
}

#[test]
fn small_rotated_and_interlaced_inputs_are_decoded_whole() {
    let dir = tempfile::tempdir().unwrap();
    // Under the threshold.
    assert!(!open(&fixture("rgb16.png"), &Limits::default())
        .unwrap()
        .is_streamed());
    // Formats whose decoders take a whole image, and a photo the EXIF rotates.
    for name in ["rgb.jpg", "rgb.webp", "rgb.bmp", "exif_rot6.jpg"] {
        let input = open(&fixture(name), &STREAM_ALL).unwrap();
        assert!(!input.is_streamed(), "{name}");
    }
    // An interlaced PNG: 1×1, whose one pass is stored as a plain image would be.
    let path = dir.path().join("interlaced.png");
    let mut info = png::Info::with_size(1, 1);
    info.interlaced = true;
    let mut encoder = png::Encoder::with_info(std::fs::File::create(&path).unwrap(), info).unwrap();
    encoder.set_color(png::ColorType::Rgb);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&[10, 20, 30]).unwrap();
    writer.finish().unwrap();
    let input = open(&path, &STREAM_ALL).unwrap();
    assert!(!input.is_streamed());
    let Input::Whole(p) = input else {
        unreachable!()
    };
    assert!(p.raster.samples == crate::photo::Samples::U8(vec![10, 20, 30]));
}

#[test]
fn damaged_files_are_refused_when_opened_with_the_whole_decode_message() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["rgb16.png", "rgb16.tif"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let cut = dir.path().join(name);
        std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4]).unwrap();
        let streamed = format!("{:#}", open(&cut, &STREAM_ALL).err().unwrap());
        let whole = format!("{:#}", load(&cut, &Limits::default()).unwrap_err());
        assert!(streamed.contains("file ends early"), "{name}: {streamed}");
        assert_eq!(streamed, whole, "{name}");
    }
    // The PNG fixture cut in half stops in its header chunks or data.
    let e = format!(
        "{:#}",
        open(&fixture("truncated.png"), &STREAM_ALL).err().unwrap()
    );
    assert!(e.starts_with("truncated or corrupt PNG"), "{e}");
}
