//! Decode / encode round trips on the fixtures: every format, bit depth, gray, alpha, EXIF,
//! ICC, and the one-line errors for broken files.

use super::encode::icc_colour_space;
use super::*;
use crate::testing::max_diff;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader};
use std::path::Path;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn load_fixture(name: &str) -> Photo {
    load(&fixture(name), &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

fn load_err(path: &Path, limits: &Limits) -> String {
    let e = load(path, limits).expect_err("load should fail");
    let msg = format!("{e:#}");
    assert!(!msg.contains('\n'), "multi-line message: {msg:?}");
    assert!(
        !msg.contains(&*path.to_string_lossy()),
        "message repeats the path: {msg:?}"
    );
    msg
}

/// Raw decode with the `image` crate, to inspect what `save` wrote.
fn raw(path: &Path) -> DynamicImage {
    ImageReader::open(path)
        .unwrap()
        .with_guessed_format()
        .unwrap()
        .decode()
        .unwrap()
}

fn mean_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

fn roundtrip(photo: &Photo, format: OutputFormat) -> (tempfile::TempDir, PathBuf, Photo) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("out.{}", format.extension()));
    save(&path, photo, format, &EncodeSettings::default()).unwrap();
    let back = load(&path, &Limits::default()).unwrap();
    (dir, path, back)
}

#[test]
fn output_format_names() {
    for f in OutputFormat::ALL {
        assert_eq!(OutputFormat::from_extension(f.extension()), Some(f));
        assert_eq!(OutputFormat::for_input(f.image_format()), f);
    }
    assert_eq!(
        OutputFormat::from_extension("JPEG"),
        Some(OutputFormat::Jpeg)
    );
    assert_eq!(
        OutputFormat::from_extension("tiff"),
        Some(OutputFormat::Tiff)
    );
    assert_eq!(OutputFormat::from_extension("gif"), None);
    assert_eq!(OutputFormat::for_input(ImageFormat::Gif), OutputFormat::Png);
    assert_eq!(OutputFormat::Webp.to_string(), "WebP");
}

#[test]
fn limits_cap_decoder_allocation() {
    let l = Limits::default();
    assert_eq!(l.max_pixels, 150_000_000);
    let il = l.image_limits();
    assert_eq!(il.max_alloc, Some(l.max_alloc()));
    assert!(l.max_alloc() >= 150_000_000 * 8 && l.max_alloc() < 150_000_000 * 9);
}

#[test]
fn reads_every_format() {
    let reference = load_fixture("rgb8.png");
    assert_eq!((reference.width, reference.height), (37, 29));
    assert!(!reference.meta.gray && !reference.meta.sixteen_bit);
    assert!(reference.alpha_rows(0..reference.height).is_none() && reference.meta.icc.is_none());
    assert!(reference.rgb_f32().iter().all(|v| (0.0..=1.0).contains(v)));
    for (name, format, sixteen, tolerance) in [
        ("rgb.webp", ImageFormat::WebP, false, 0.0),
        ("rgb.bmp", ImageFormat::Bmp, false, 0.0),
        ("rgb16.png", ImageFormat::Png, true, 0.5 / 255.0 + 1e-6),
        ("rgb16.tif", ImageFormat::Tiff, true, 0.5 / 255.0 + 1e-6),
        ("rgb.jpg", ImageFormat::Jpeg, false, 0.25),
    ] {
        let p = load_fixture(name);
        assert_eq!((p.width, p.height), (37, 29), "{name}");
        assert_eq!(p.meta.format, format, "{name}");
        assert_eq!(p.meta.sixteen_bit, sixteen, "{name}");
        assert!(
            !p.meta.gray && p.alpha_rows(0..p.height).is_none(),
            "{name}"
        );
        assert!(
            max_diff(&p.rgb_f32(), &reference.rgb_f32()) <= tolerance,
            "{name}"
        );
    }
    let jpg = load_fixture("rgb.jpg");
    assert!(mean_diff(&jpg.rgb_f32(), &reference.rgb_f32()) < 0.03);
}

#[test]
fn format_comes_from_content_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let fake_png = dir.path().join("photo.png");
    std::fs::copy(fixture("rgb.jpg"), &fake_png).unwrap();
    assert_eq!(
        load(&fake_png, &Limits::default()).unwrap().meta.format,
        ImageFormat::Jpeg
    );
    let no_ext = dir.path().join("photo");
    std::fs::copy(fixture("rgb.webp"), &no_ext).unwrap();
    assert_eq!(
        load(&no_ext, &Limits::default()).unwrap().meta.format,
        ImageFormat::WebP
    );
}

#[test]
fn gray_is_replicated_and_written_back_as_gray() {
    for (name, sixteen) in [("gray8.png", false), ("gray16.png", true)] {
        let p = load_fixture(name);
        assert_eq!((p.width, p.height), (45, 31));
        assert!(p.meta.gray && p.alpha_rows(0..p.height).is_none());
        assert_eq!(p.meta.sixteen_bit, sixteen);
        for px in p.rgb_f32().chunks_exact(3) {
            assert!(px[0] == px[1] && px[1] == px[2]);
        }
        let (_dir, path, back) = roundtrip(&p, OutputFormat::Png);
        assert!(back == p, "{name}");
        let original = raw(&fixture(name));
        let written = raw(&path);
        assert_eq!(written.color(), original.color(), "{name}");
        assert!(written.as_bytes() == original.as_bytes(), "{name}");
    }
    // 16-bit gray → 8-bit gray JPEG.
    let p = load_fixture("gray16.png");
    let (_dir, path, back) = roundtrip(&p, OutputFormat::Jpeg);
    assert_eq!(raw(&path).color(), image::ColorType::L8);
    assert!(back.meta.gray && !back.meta.sixteen_bit);
    assert!(max_diff(&back.rgb_f32(), &p.rgb_f32()) < 0.05);
}

#[test]
fn gray_output_is_the_mean_of_the_channels() {
    let gray = load_fixture("gray8.png");
    let rgb = [0.2, 0.4, 0.6].repeat(gray.pixels());
    let p = Photo::from_rgb_f32(gray.width, gray.height, rgb, gray.meta);
    let (_dir, path, back) = roundtrip(&p, OutputFormat::Png);
    assert_eq!(raw(&path).color(), image::ColorType::L8);
    assert!(back.rgb_f32().iter().all(|&v| v == 102.0 / 255.0));
}

#[test]
fn sixteen_bit_survives_png_and_tiff() {
    for (name, format) in [
        ("rgb16.png", OutputFormat::Png),
        ("rgb16.tif", OutputFormat::Tiff),
        ("rgb16.png", OutputFormat::Tiff),
    ] {
        let p = load_fixture(name);
        let (_dir, path, back) = roundtrip(&p, format);
        assert!(back.rgb_f32() == p.rgb_f32(), "{name} → {format}");
        assert!(back.meta.sixteen_bit);
        let written = raw(&path);
        assert_eq!(written.color(), image::ColorType::Rgb16);
        assert!(written.as_bytes() == raw(&fixture(name)).as_bytes());
    }
    // The low byte matters: an 8-bit round trip would not be exact.
    let p = load_fixture("rgb16.png");
    assert!(p.rgb_f32().iter().any(|&v| {
        let s = v * 65535.0;
        !(s.round() as u32).is_multiple_of(257)
    }));
}

#[test]
fn sixteen_bit_is_written_as_8_bit_where_it_must() {
    let p = load_fixture("rgb16.png");
    for format in [OutputFormat::Jpeg, OutputFormat::Webp, OutputFormat::Bmp] {
        let (_dir, path, back) = roundtrip(&p, format);
        assert_eq!(raw(&path).color(), image::ColorType::Rgb8, "{format}");
        assert!(!back.meta.sixteen_bit);
        let tolerance = if format == OutputFormat::Jpeg {
            0.2
        } else {
            0.5 / 255.0 + 1e-6
        };
        assert!(
            max_diff(&back.rgb_f32(), &p.rgb_f32()) <= tolerance,
            "{format}"
        );
    }
}

#[test]
fn in_memory_photo_rounds_to_nearest() {
    let (w, h) = (5, 3);
    let mut rgb: Vec<f32> = (0..w * h * 3)
        .map(|i| (i as f32 * 0.0137).fract())
        .collect();
    rgb[0] = -0.5; // clamped
    rgb[1] = 1.7;
    rgb[2] = f32::NAN;
    let mut p = Photo::from_rgb_f32(w, h, rgb.clone(), crate::testing::photo_meta());
    let expect =
        |q: f32| -> Vec<f32> { rgb.iter().map(|&v| (clamp01(v) * q).round() / q).collect() };
    let (e8, e16) = (expect(255.0), expect(65535.0));
    let (_d, _p, back) = roundtrip(&p, OutputFormat::Png);
    assert!(max_diff(&back.rgb_f32(), &e8) < 1e-6);
    assert_eq!(&back.rgb_f32()[..3], &[0.0, 1.0, 0.0]);
    p.meta.sixteen_bit = true;
    let (_d, _p, back) = roundtrip(&p, OutputFormat::Png);
    assert!(max_diff(&back.rgb_f32(), &e16) < 1e-6);
}

#[test]
fn alpha_is_carried_through() {
    let p = load_fixture("rgba8.png");
    let alpha = p.alpha_rows(0..p.height).expect("rgba8.png has alpha");
    assert_eq!(alpha.len(), 37 * 29);
    assert_eq!(alpha[0], 0.0);
    assert_eq!(alpha[36], 1.0);
    for format in [
        OutputFormat::Png,
        OutputFormat::Webp,
        OutputFormat::Tiff,
        OutputFormat::Bmp,
    ] {
        let (_dir, path, back) = roundtrip(&p, format);
        assert_eq!(raw(&path).color(), image::ColorType::Rgba8, "{format}");
        assert!(
            back.alpha_rows(0..back.height).as_ref() == Some(&alpha),
            "{format}"
        );
        // Colour under fully transparent pixels may be dropped by lossless encoders (WebP).
        for (i, (a, b)) in back
            .rgb_f32()
            .chunks(3)
            .zip(p.rgb_f32().chunks(3))
            .enumerate()
        {
            if alpha[i] > 0.0 {
                assert_eq!(a, b, "{format} pixel {i}");
            }
        }
    }
    // JPEG drops alpha.
    let (_dir, path, back) = roundtrip(&p, OutputFormat::Jpeg);
    assert_eq!(raw(&path).color(), image::ColorType::Rgb8);
    assert!(back.alpha_rows(0..back.height).is_none());
}

#[test]
fn gray_alpha_goes_to_tiff_as_rgba() {
    let gray = load_fixture("gray8.png");
    let gray_alpha = Storage {
        layout: Layout {
            gray: true,
            alpha: true,
        },
        depth: Depth::U8,
    };
    let mut p = gray.converted(gray_alpha).unwrap();
    p.write_alpha(
        0,
        &(0..p.pixels())
            .map(|i| (i % 256) as f32 / 255.0)
            .collect::<Vec<_>>(),
    );
    let (_dir, path, back) = roundtrip(&p, OutputFormat::Tiff);
    assert_eq!(raw(&path).color(), image::ColorType::Rgba8);
    assert!(
        back.rgb_f32() == gray.rgb_f32()
            && back.alpha_rows(0..back.height) == p.alpha_rows(0..p.height)
    );
    let (_dir, path, back) = roundtrip(&p, OutputFormat::Png);
    assert_eq!(raw(&path).color(), image::ColorType::La8);
    assert!(back == p);
}

#[test]
fn palette_with_trns_expands_to_rgba() {
    let p = load_fixture("palette_trns.png");
    assert_eq!((p.width, p.height), (37, 29));
    assert!(!p.meta.gray && !p.meta.sixteen_bit);
    let alpha = p.alpha_rows(0..p.height).expect("tRNS gives alpha");
    let palette = [[200, 30, 40], [20, 180, 60], [10, 20, 230], [250, 250, 250]];
    let alphas = [255, 128, 0, 255];
    for y in 0..p.height {
        for x in 0..p.width {
            let i = y * p.width + x;
            let k = (x / 5 + y / 5) % 4;
            let want: Vec<f32> = palette[k].iter().map(|&c| c as f32 / 255.0).collect();
            assert_eq!(&p.rgb_f32()[3 * i..3 * i + 3], &want[..], "({x}, {y})");
            assert_eq!(alpha[i], alphas[k] as f32 / 255.0, "({x}, {y})");
        }
    }
}

#[test]
fn exif_orientation_is_applied_once() {
    let p = load_fixture("exif_rot6.jpg");
    // Stored 45×31 with the red block top-left; orientation 6 displays it 31×45, red top-right.
    assert_eq!((p.width, p.height), (31, 45));
    let px = |p: &Photo, x: usize, y: usize| {
        let (i, rgb) = (3 * (y * p.width + x), p.rgb_f32());
        [rgb[i], rgb[i + 1], rgb[i + 2]]
    };
    let is_red = |c: [f32; 3]| c[0] > 0.7 && c[2] < 0.3;
    assert!(is_red(px(&p, 26, 5)), "{:?}", px(&p, 26, 5));
    assert!(!is_red(px(&p, 4, 5)));
    assert!(!is_red(px(&p, 26, 40)));
    for format in [OutputFormat::Jpeg, OutputFormat::Png] {
        let (_dir, path, back) = roundtrip(&p, format);
        assert_eq!((back.width, back.height), (31, 45), "{format}");
        assert!(is_red(px(&back, 26, 5)), "{format}");
        let mut dec = ImageReader::open(&path)
            .unwrap()
            .with_guessed_format()
            .unwrap()
            .into_decoder()
            .unwrap();
        // The EXIF block is kept, its orientation reset to 1.
        let exif = dec.exif_metadata().unwrap().expect("EXIF kept");
        let orientation = exif::Reader::new()
            .read_raw(exif)
            .unwrap()
            .get_field(exif::Tag::Orientation, exif::In::PRIMARY)
            .and_then(|f| f.value.get_uint(0));
        assert_eq!(orientation, Some(1), "{format}");
        assert_eq!(dec.orientation().unwrap(), Orientation::NoTransforms);
    }
}

#[test]
fn icc_profile_round_trips() {
    let p = load_fixture("icc.png");
    let icc = p.meta.icc.clone().expect("icc.png carries a profile");
    assert_eq!(&icc[36..40], b"acsp");
    assert_eq!(
        u32::from_be_bytes(icc[..4].try_into().unwrap()) as usize,
        icc.len()
    );
    assert_eq!(icc_colour_space(&icc), Some(*b"RGB "));
    for format in [
        OutputFormat::Png,
        OutputFormat::Jpeg,
        OutputFormat::Tiff,
        OutputFormat::Webp,
    ] {
        let (_dir, _path, back) = roundtrip(&p, format);
        assert!(back.meta.icc.as_ref() == Some(&icc), "{format}");
    }
    let (_dir, _path, back) = roundtrip(&p, OutputFormat::Bmp);
    assert_eq!(back.meta.icc, None);
    // An RGB profile must not be attached to gray output.
    let mut gray = p.clone();
    gray.meta.gray = true;
    let (_dir, path, back) = roundtrip(&gray, OutputFormat::Png);
    assert_eq!(raw(&path).color(), image::ColorType::L8);
    assert_eq!(back.meta.icc, None);
}

#[test]
fn jpeg_output_is_high_quality() {
    let p = load_fixture("rgb8.png");
    let (_dir, _path, back) = roundtrip(&p, OutputFormat::Jpeg);
    let q95 = mean_diff(&back.rgb_f32(), &p.rgb_f32());
    let q90 = mean_diff(&load_fixture("rgb.jpg").rgb_f32(), &p.rgb_f32());
    assert!(q95 < 0.02 && q95 < q90, "q95 {q95}, q90 {q90}");
}

#[test]
fn png_compression_settings_change_size_not_pixels() {
    for name in ["rgb8.png", "rgb16.png", "gray8.png", "rgba8.png"] {
        let p = load_fixture(name);
        let dir = tempfile::tempdir().unwrap();
        let written: Vec<(PngCompression, u64, DynamicImage)> = [
            PngCompression::Fast,
            PngCompression::Default,
            PngCompression::Best,
        ]
        .into_iter()
        .map(|png_compression| {
            let path = dir.path().join(format!("{png_compression:?}.png"));
            save(
                &path,
                &p,
                OutputFormat::Png,
                &EncodeSettings { png_compression },
            )
            .unwrap();
            (png_compression, path.metadata().unwrap().len(), raw(&path))
        })
        .collect();
        let (_, fast_size, fast) = &written[0];
        for (setting, size, img) in &written {
            assert_eq!(img, fast, "{name}: {setting:?} decodes to other pixels");
            println!("{name}: {setting:?} {size} bytes");
        }
        let (_, best_size, _) = &written[2];
        assert!(
            best_size <= fast_size,
            "{name}: best {best_size} > fast {fast_size}"
        );
    }
}

#[test]
fn webp_output_is_lossless() {
    let p = load_fixture("rgb8.png");
    let (_dir, _path, back) = roundtrip(&p, OutputFormat::Webp);
    assert!(back.rgb_f32() == p.rgb_f32());
}

#[test]
fn bad_files_get_short_clear_errors() {
    let l = Limits::default();
    assert_eq!(load_err(&fixture("empty.png"), &l), "empty file");
    assert_eq!(
        load_err(&fixture("notes.txt"), &l),
        "not an image aetool reads (unrecognised content; PNG, JPEG, WebP, TIFF and BMP are read)"
    );
    let m = load_err(&fixture("truncated.png"), &l);
    assert_eq!(m, "truncated or corrupt PNG: file ends early");
    let m = load_err(&fixture("corrupt.jpg"), &l);
    assert_eq!(m, "truncated or corrupt JPEG: file ends early");
    let m = load_err(&fixture("no-such-file.png"), &l);
    assert!(m.starts_with("cannot open: "), "{m}");
    let m = load_err(&fixture(""), &l);
    assert_eq!(m, "is a folder, not an image");
}

#[test]
fn damaged_and_foreign_files_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let l = Limits::default();
    // Scramble the middle of the pixel data of a valid PNG.
    let mut png = std::fs::read(fixture("rgb8.png")).unwrap();
    let mid = png.len() / 2;
    png[mid - 40..mid + 40].iter_mut().for_each(|b| *b ^= 0x5A);
    let bad = dir.path().join("scrambled.png");
    std::fs::write(&bad, &png).unwrap();
    let m = load_err(&bad, &l);
    assert!(m.starts_with("truncated or corrupt PNG: "), "{m}");
    let gif = dir.path().join("anim.png");
    std::fs::write(&gif, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
    assert_eq!(
        load_err(&gif, &l),
        "GIF images are not supported (only PNG, JPEG, WebP, TIFF and BMP)"
    );
}

#[test]
fn bombs_are_refused_from_the_header() {
    let m = load_err(&fixture("bomb.png"), &Limits::default());
    assert_eq!(
        m,
        "image is 100000×100000 (10000 MP), over the 150 MP limit (a decompression bomb?)"
    );
    let small = Limits {
        max_pixels: 1000,
        ..Limits::default()
    };
    let m = load_err(&fixture("rgb8.png"), &small);
    assert_eq!(
        m,
        "image is 37×29 (0.001 MP), over the 0.001 MP limit (a decompression bomb?)"
    );
    assert!(load(
        &fixture("rgb8.png"),
        &Limits {
            max_pixels: 37 * 29,
            ..Limits::default()
        }
    )
    .is_ok());
}

#[test]
fn save_checks_buffers_and_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("sub/out.png");
    let mut p = load_fixture("rgb8.png");
    save(&dest, &p, OutputFormat::Png, &EncodeSettings::default()).unwrap();
    // Overwrite in place; no temp files left behind.
    save(&dest, &p, OutputFormat::Png, &EncodeSettings::default()).unwrap();
    let names: Vec<_> = std::fs::read_dir(dest.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out.png")]);
    fn samples(p: &mut Photo) -> &mut Vec<u8> {
        match &mut p.raster.samples {
            Samples::U8(s) => s,
            _ => panic!("rgb8.png is 8-bit"),
        }
    }
    samples(&mut p).pop();
    let e = save(&dest, &p, OutputFormat::Png, &EncodeSettings::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("samples instead of"), "{e}");
    samples(&mut p).push(0);
    p.raster.layout.alpha = true;
    assert!(save(&dest, &p, OutputFormat::Png, &EncodeSettings::default()).is_err());
    // The earlier good output is untouched.
    assert!(!load(&dest, &Limits::default()).unwrap().has_alpha());
}

/// An XMP packet as a camera or a photo manager writes it (rotation and size as stored).
const CAMERA_XMP: &str = concat!(
    "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n",
    r#"<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
    xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"
    tiff:Orientation="6" exif:PixelXDimension="45" exif:PixelYDimension="31">
   <dc:creator><rdf:Seq><rdf:li>Ada Example</rdf:li></rdf:Seq></dc:creator>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"#
);

/// EXIF and XMP are written in every format but BMP, adjusted to the pixels written, and read
/// back by `load` (TIFF's EXIF from the file's own tags).
#[test]
fn metadata_round_trips_in_every_format_but_bmp() {
    use super::metadata::tests::{camera_exif, MAKER_NOTE_BYTES};
    use exif::{In, Tag};
    let mut p = load_fixture("rgb8.png");
    assert!(p.meta.metadata.is_empty());
    p.meta.metadata = Metadata::new(
        Some(camera_exif(false, 45, 31)),
        Some(CAMERA_XMP.as_bytes().to_vec()),
    );
    for format in OutputFormat::ALL {
        let (_d, _path, back) = roundtrip(&p, format);
        assert_eq!(
            (back.width, back.height),
            (37, 29),
            "{format}: not rotated again"
        );
        if format == OutputFormat::Bmp {
            assert!(back.meta.metadata.is_empty());
            continue;
        }
        let block = back
            .meta
            .metadata
            .exif
            .clone()
            .unwrap_or_else(|| panic!("{format}: no EXIF"));
        let e = exif::Reader::new().read_raw(block).unwrap();
        let uint = |tag| {
            e.get_field(tag, In::PRIMARY)
                .and_then(|f| f.value.get_uint(0))
        };
        let text = |tag| {
            e.get_field(tag, In::PRIMARY)
                .map(|f| f.display_value().to_string())
                .unwrap_or_default()
        };
        assert_eq!(uint(Tag::Orientation), Some(1), "{format}");
        assert_eq!(uint(Tag::PixelXDimension), Some(37), "{format}");
        assert_eq!(uint(Tag::PixelYDimension), Some(29), "{format}");
        assert_eq!(text(Tag::Model), "\"AcmeCam X100\"", "{format}");
        assert_eq!(
            text(Tag::DateTimeOriginal),
            "2024-05-06 07:08:09",
            "{format}"
        );
        assert_eq!(text(Tag::Copyright), "\"(c) 2024 Ada Example\"", "{format}");
        assert!(
            text(Tag::GPSLatitude).starts_with("48 deg 51 min 29.59 sec"),
            "{format}: {}",
            text(Tag::GPSLatitude)
        );
        let maker_note = e.get_field(Tag::MakerNote, In::PRIMARY);
        if format == OutputFormat::Tiff {
            assert!(maker_note.is_none(), "TIFF leaves maker notes out");
        } else {
            let kept = matches!(&maker_note.unwrap().value, exif::Value::Undefined(b, _) if b == MAKER_NOTE_BYTES);
            assert!(kept, "{format}: maker note changed");
        }
        assert!(
            e.fields().all(|f| f.ifd_num == In::PRIMARY),
            "{format}: thumbnail kept"
        );

        let xmp = back
            .meta
            .metadata
            .xmp
            .clone()
            .unwrap_or_else(|| panic!("{format}: no XMP"));
        let xmp = String::from_utf8(xmp).unwrap();
        assert!(xmp.contains(r#"tiff:Orientation="1""#), "{format}: {xmp}");
        assert!(
            xmp.contains(r#"exif:PixelXDimension="37""#),
            "{format}: {xmp}"
        );
        assert!(
            xmp.contains("<rdf:li>Ada Example</rdf:li>"),
            "{format}: {xmp}"
        );
    }

    // Without metadata, nothing is written.
    p.meta.metadata = Metadata::default();
    for format in OutputFormat::ALL {
        let (_d, _path, back) = roundtrip(&p, format);
        assert!(back.meta.metadata.is_empty(), "{format}");
    }
}

#[test]
fn inputs_too_big_to_decode_whole_are_refused_unless_they_stream() {
    // rgb16.png: 6 bytes a pixel, over the 4 a pixel of `max_pixels` allowed whole.
    let (w, h) = (37u64, 29u64);
    let whole = Limits {
        max_pixels: w * h,
        stream_above: u64::MAX,
    };
    let e = match open(&fixture("rgb16.png"), &whole) {
        Ok(_) => panic!("a 16-bit photo over the whole-decode budget was accepted"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        e.contains("decoded whole") && e.contains("--max-megapixels 1 "),
        "{e}"
    );
    // Read a band at a time it fits; with a larger pixel limit it is decoded whole.
    let streamed = Limits {
        stream_above: 0,
        ..whole
    };
    assert!(open(&fixture("rgb16.png"), &streamed)
        .unwrap()
        .is_streamed());
    let raised = Limits {
        max_pixels: 2 * w * h,
        ..whole
    };
    assert!(!open(&fixture("rgb16.png"), &raised).unwrap().is_streamed());
    // 8-bit RGBA (4 bytes a pixel) at the pixel limit is always accepted whole.
    let rgba = DynamicImage::ImageRgba8(image::RgbaImage::new(w as u32, h as u32));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rgba.png");
    rgba.save(&path).unwrap();
    assert!(open(&path, &whole).is_ok());
}
