//! Training data: every image under a folder, decoded once into memory, a validation split
//! fixed by the seed, and random augmented crops (random downscale, flips, 90° rotations).
//!
//! Memory is bounded whatever the folder holds ([`MemoryBudget`]): photos over 2 MP are held
//! downscaled to 2 MP, and when the whole folder would take more than ~2 GiB, a random subset
//! of its files (fixed by the seed) that fits is used, and the report says how many were left out.
//!
//! The random downscale (zoom < 1) of each crop removes JPEG artefacts and sensor noise from
//! the clean targets, as the Real-ESRGAN / DnCNN training recipes do.

use crate::maths::colour_metrics::is_already_colour;
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
    /// Images left out to stay within the memory budget (not decoded).
    pub left_out: usize,
}

impl Dataset {
    /// The data set by name, for provenance: the folder's name and the collections (sub-folders)
    /// in it, e.g. `train (cbsd432, imagenet-sample, t91)` — never a path on this machine.
    pub fn description(&self, dir: &Path) -> String {
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "photos".into())
        };
        let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mut subs: Vec<String> = std::fs::read_dir(&root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| name(&e.path()))
            .filter(|n| !n.starts_with('.'))
            .collect();
        subs.sort();
        if subs.is_empty() {
            name(&root)
        } else {
            format!("{} ({})", name(&root), subs.join(", "))
        }
    }
}

/// How much of a photo folder training holds in memory (3 bytes a pixel).
#[derive(Clone, Copy, Debug)]
pub struct MemoryBudget {
    /// Largest size an image is held at; bigger ones are downscaled (area-averaged) on load,
    /// which also cleans their noise, as the random crop downscale does.
    pub max_pixels_per_image: u64,
    /// Most pixels held in all; beyond it a random subset of the files, fixed by the seed, is used.
    pub max_pixels_total: u64,
}

impl Default for MemoryBudget {
    /// 2 MP per image, 700 MP (about 2 GiB) in all: at least 350 photos of any size.
    fn default() -> Self {
        MemoryBudget {
            max_pixels_per_image: 2_000_000,
            max_pixels_total: 700_000_000,
        }
    }
}

/// Share of images held out for validation (at least one, at most a few dozen).
const VAL_FRACTION: f64 = 0.05;
const MAX_VAL: usize = 32;

impl Dataset {
    /// Loads every image under `dir` (recursively; hidden and non-image files ignored, broken
    /// ones skipped with a reason) whose short side is at least `min_side`, within `budget`, and
    /// splits off a validation set chosen by `seed`.
    /// With `colour_only` (colorize) a photo without colour — grey, or toned the same at every
    /// lightness, as [`is_already_colour`] tells — is skipped too: a colorizer would learn to
    /// paint grey from it.
    pub fn load(
        dir: &Path,
        min_side: u32,
        colour_only: bool,
        seed: u64,
        budget: MemoryBudget,
    ) -> Result<Self> {
        let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
            .follow_links(true)
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_type().is_file() && crate::pipeline::walk::is_photo_candidate(e.path())
            })
            .map(|e| e.into_path())
            .collect();
        files.sort();
        let held: Vec<u64> = files
            .iter()
            .map(|f| header_pixels(f).min(budget.max_pixels_per_image))
            .collect();
        let keep = pick_within(&held, budget.max_pixels_total, seed);
        let left_out = keep.iter().filter(|k| !**k).count();
        let mut images = Vec::new();
        let mut skipped = Vec::new();
        for (f, _) in files.into_iter().zip(keep).filter(|(_, k)| *k) {
            match decode_rgb8(&f, budget.max_pixels_per_image) {
                Ok(img) => {
                    if img.width().min(img.height()) < min_side {
                        skipped.push((f, format!("smaller than {min_side} px on its short side")));
                    } else if colour_only && !has_colour(&img) {
                        skipped.push((f, NO_COLOUR.to_string()));
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
            left_out,
        })
    }
}

/// Why a colorize training photo without colour is skipped.
pub const NO_COLOUR: &str = "no colour (grey or toned): a colorizer cannot learn colours from it";

/// Whether `img` holds colour that varies at a given lightness (see [`is_already_colour`]).
fn has_colour(img: &RgbImage) -> bool {
    let w = img.width() as usize;
    is_already_colour(w, img.height() as usize, |y, out| {
        let start = y * w * 3;
        out.extend(
            img.as_raw()[start..start + w * 3]
                .iter()
                .map(|&v| f32::from(v) / 255.0),
        );
    })
}

/// Width × height from the file's header (0 when unreadable: decoding will report why).
fn header_pixels(p: &Path) -> u64 {
    image::ImageReader::open(p)
        .and_then(|r| r.with_guessed_format())
        .ok()
        .and_then(|r| r.into_dimensions().ok())
        .map_or(0, |(w, h)| w as u64 * h as u64)
}

/// Which files to load: all of them when their `sizes` (pixels held) sum to at most `total`;
/// otherwise those that fit, taken in an order shuffled by `seed`.
fn pick_within(sizes: &[u64], total: u64, seed: u64) -> Vec<bool> {
    if sizes.iter().sum::<u64>() <= total {
        return vec![true; sizes.len()];
    }
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let mut keep = vec![false; sizes.len()];
    let mut used = 0;
    for i in order {
        if used + sizes[i] <= total {
            used += sizes[i];
            keep[i] = true;
        }
    }
    keep
}

/// Decodes with the same loader as inference (EXIF orientation, limits) into 8-bit RGB,
/// area-downscaled to at most `max_pixels`.
fn decode_rgb8(p: &Path, max_pixels: u64) -> Result<RgbImage> {
    let photo = crate::photo::load(p, &crate::photo::Limits::default())?;
    let bytes = photo
        .rgb_f32()
        .iter()
        .map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect();
    let img =
        RgbImage::from_raw(photo.width as u32, photo.height as u32, bytes).expect("sized buffer");
    Ok(fit_pixels(img, max_pixels))
}

/// `img` area-downscaled (aspect kept) to at most `max_pixels`, or unchanged when it fits.
fn fit_pixels(img: RgbImage, max_pixels: u64) -> RgbImage {
    let (w, h) = img.dimensions();
    let n = w as u64 * h as u64;
    if n <= max_pixels {
        return img;
    }
    let f = (max_pixels as f64 / n as f64).sqrt();
    let (nw, nh) = ((w as f64 * f) as u32, (h as f64 * f) as u32);
    imageops::thumbnail(&img, nw.max(1), nh.max(1))
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

/// A random square crop covering `share_range` of the image's short side (context for
/// colorize: most of the scene), resized to `size`×`size` and flipped left–right at random.
/// Never rotated: the sky stays up.
pub fn context_crop(
    img: &RgbImage,
    size: u32,
    share_range: (f32, f32),
    rng: &mut impl Rng,
) -> Rgb32FImage {
    let short = img.width().min(img.height());
    let share = rng.random_range(share_range.0..=share_range.1);
    let src = ((short as f32 * share).round() as u32).clamp(1, short);
    let x = rng.random_range(0..=img.width() - src);
    let y = rng.random_range(0..=img.height() - src);
    let crop = to_f32(&imageops::crop_imm(img, x, y, src, src).to_image());
    let mut out = imageops::resize(&crop, size, size, FilterType::CatmullRom);
    if rng.random_bool(0.5) {
        imageops::flip_horizontal_in_place(&mut out);
    }
    out
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
    fn big_images_are_held_downscaled_with_their_aspect() {
        let img = fit_pixels(gradient(300, 200), 6_000);
        let (w, h) = img.dimensions();
        assert!(w as u64 * h as u64 <= 6_000, "{w}x{h}");
        assert_eq!((w, h), (94, 63));
        assert_eq!(fit_pixels(gradient(30, 20), 6_000).dimensions(), (30, 20));
    }

    #[test]
    fn the_memory_budget_keeps_a_seeded_subset_that_fits() {
        let sizes = [40, 10, 25, 30, 5, 60, 15, 20];
        assert!(
            pick_within(&sizes, 205, 0).iter().all(|k| *k),
            "everything fits"
        );
        let held =
            |keep: &[bool]| -> u64 { sizes.iter().zip(keep).filter(|p| *p.1).map(|p| p.0).sum() };
        let a = pick_within(&sizes, 100, 3);
        assert!(held(&a) <= 100 && held(&a) >= 60, "{a:?}");
        assert_eq!(a, pick_within(&sizes, 100, 3), "fixed by the seed");
        let picks: std::collections::HashSet<Vec<bool>> =
            (0..8).map(|s| pick_within(&sizes, 100, s)).collect();
        assert!(picks.len() > 1, "the seed chooses the subset");
    }

    #[test]
    fn colorize_training_skips_photos_without_colour() {
        let dir = tempfile::tempdir().unwrap();
        let save = |name: &str, img: &RgbImage| img.save(dir.path().join(name)).unwrap();
        save("a-colour.png", &gradient(64, 48));
        save("b-colour.png", &gradient(48, 64));
        let grey = RgbImage::from_fn(64, 48, |x, _| image::Rgb([(x * 4) as u8; 3]));
        save("c-grey.png", &grey);
        // Sepia: the colour follows the lightness, so it is no colour to learn from.
        let sepia = RgbImage::from_fn(64, 48, |x, _| {
            let v = (x * 4) as f32;
            image::Rgb([v.min(255.0) as u8, (v * 0.85) as u8, (v * 0.65) as u8])
        });
        save("d-sepia.png", &sepia);
        let budget = MemoryBudget::default();
        let all = Dataset::load(dir.path(), 32, false, 0, budget).unwrap();
        assert_eq!((all.train.len() + all.val.len(), all.skipped.len()), (4, 0));
        let colour = Dataset::load(dir.path(), 32, true, 0, budget).unwrap();
        assert_eq!(colour.train.len() + colour.val.len(), 2);
        let skipped: Vec<_> = colour
            .skipped
            .iter()
            .map(|(f, why)| (f.file_name().unwrap().to_str().unwrap(), why.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [("c-grey.png", NO_COLOUR), ("d-sepia.png", NO_COLOUR)]
        );
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
