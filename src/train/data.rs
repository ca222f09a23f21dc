//! Training data: every image under a folder, decoded once into memory, a validation split
//! fixed by the seed, and random augmented crops (random downscale, flips, 90° rotations).
//!
//! The random downscale (zoom < 1) of each crop removes JPEG artefacts and sensor noise from
//! the clean targets, as the Real-ESRGAN / DnCNN training recipes do.

use anyhow::{bail, Result};
use image::imageops::{self, FilterType};
use image::{Rgb32FImage, RgbImage};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

/// Clean photos held in memory as 8-bit RGB.
pub struct Dataset {
    pub train: Vec<RgbImage>,
    pub val: Vec<RgbImage>,
    /// Files that could not be used, with the reason (reported, never fatal).
    pub skipped: Vec<(PathBuf, String)>,
}

/// Share of images held out for validation (at least one, at most a few dozen).
const VAL_FRACTION: f64 = 0.05;
const MAX_VAL: usize = 32;

impl Dataset {
    /// Loads every image under `dir` (recursively; hidden and non-image files ignored, broken
    /// ones skipped with a reason) whose short side is at least `min_side`, and splits off a
    /// validation set chosen by `seed`.
    pub fn load(dir: &Path, min_side: u32, seed: u64) -> Result<Self> {
        let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
            .follow_links(true)
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file() && crate::walk::is_photo_candidate(e.path()))
            .map(|e| e.into_path())
            .collect();
        files.sort();
        let mut images = Vec::new();
        let mut skipped = Vec::new();
        for f in files {
            match decode_rgb8(&f) {
                Ok(img) => {
                    if img.width().min(img.height()) < min_side {
                        skipped.push((f, format!("smaller than {min_side} px on its short side")));
                    } else {
                        images.push(img);
                    }
                }
                Err(e) => skipped.push((f, format!("{e:#}"))),
            }
        }
        if images.len() < 2 {
            bail!(
                "{}: found {} usable image(s); training needs at least 2 (one is held out for validation)",
                dir.display(),
                images.len()
            );
        }
        let mut order: Vec<usize> = (0..images.len()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let n_val = ((images.len() as f64 * VAL_FRACTION).ceil() as usize).clamp(1, MAX_VAL);
        let mut slots: Vec<Option<RgbImage>> = images.into_iter().map(Some).collect();
        let mut take = |ids: &[usize]| -> Vec<RgbImage> {
            ids.iter()
                .map(|&i| slots[i].take().expect("each image taken once"))
                .collect()
        };
        let val = take(&order[..n_val]);
        let train = take(&order[n_val..]);
        Ok(Self {
            train,
            val,
            skipped,
        })
    }
}

/// Decodes with the same loader as inference (EXIF orientation, limits) into 8-bit RGB.
fn decode_rgb8(p: &Path) -> Result<RgbImage> {
    let photo = crate::io::load(p, &crate::io::Limits::default())?;
    let bytes = photo
        .rgb
        .iter()
        .map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect();
    Ok(RgbImage::from_raw(photo.width as u32, photo.height as u32, bytes).expect("sized buffer"))
}

/// Converts to f32 RGB in `[0, 1]`.
fn to_f32(img: &RgbImage) -> Rgb32FImage {
    image::DynamicImage::ImageRgb8(img.clone()).into_rgb32f()
}

/// A random `size`×`size` crop of `img` (RGB in `[0, 1]`), first downscaled by a random factor in
/// `zoom` (antialiased Catmull-Rom), then randomly flipped and rotated by a multiple of 90°.
pub fn random_crop(img: &RgbImage, size: u32, zoom: (f32, f32), rng: &mut impl Rng) -> Rgb32FImage {
    let short = img.width().min(img.height());
    let f = if zoom.0 < zoom.1 {
        rng.random_range(zoom.0..zoom.1)
    } else {
        zoom.0
    };
    let src = ((size as f32 / f).round() as u32).clamp(size.min(short), short);
    let x = rng.random_range(0..=img.width() - src);
    let y = rng.random_range(0..=img.height() - src);
    let crop = imageops::crop_imm(img, x, y, src, src).to_image();
    let mut out = to_f32(&crop);
    if src != size {
        out = imageops::resize(&out, size, size, FilterType::CatmullRom);
    }
    if rng.random_bool(0.5) {
        imageops::flip_horizontal_in_place(&mut out);
    }
    match rng.random_range(0..4) {
        1 => imageops::rotate90(&out),
        2 => imageops::rotate180(&out),
        3 => imageops::rotate270(&out),
        _ => out,
    }
}

/// The deterministic validation crop of an image: its centre, `size`×`size`, downscaled first so
/// the crop covers a `1/zoom`-sized region (zoom = the middle of the training range).
pub fn center_crop(img: &RgbImage, size: u32, zoom: f32) -> Rgb32FImage {
    let short = img.width().min(img.height());
    let src = ((size as f32 / zoom).round() as u32).clamp(size.min(short), short);
    let crop = imageops::crop_imm(
        img,
        (img.width() - src) / 2,
        (img.height() - src) / 2,
        src,
        src,
    )
    .to_image();
    let out = to_f32(&crop);
    if src == size {
        out
    } else {
        imageops::resize(&out, size, size, FilterType::CatmullRom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 128])
        })
    }

    #[test]
    fn crops_have_the_requested_size_and_range() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let img = gradient(90, 70);
        for _ in 0..20 {
            let c = random_crop(&img, 32, (0.5, 1.0), &mut rng);
            assert_eq!(c.dimensions(), (32, 32));
            assert!(c.as_raw().iter().all(|v| (-0.01..=1.01).contains(v)));
        }
        assert_eq!(center_crop(&img, 32, 0.75).dimensions(), (32, 32));
    }

    #[test]
    fn crops_are_reproducible_from_the_seed() {
        let img = gradient(60, 50);
        let a = random_crop(
            &img,
            16,
            (0.5, 1.0),
            &mut rand::rngs::StdRng::seed_from_u64(7),
        );
        let b = random_crop(
            &img,
            16,
            (0.5, 1.0),
            &mut rand::rngs::StdRng::seed_from_u64(7),
        );
        assert_eq!(a.as_raw(), b.as_raw());
    }
}
