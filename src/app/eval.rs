//! `aetool eval`: quality of a model against the task's classic baseline, with the published
//! protocols:
//! - denoise: AWGN of σ (0–255 scale, seeded per image) added to the clean image, the noisy
//!   image clipped to `[0, 255]` but not quantised; PSNR/SSIM on RGB `[0, 255]`; baseline: the
//!   noisy input;
//! - upscale: `*_SRF_<s>_HR` / `*_SRF_<s>_LR` pairs when present (the sets' MATLAB-made LR
//!   images), else LR made by antialiased bicubic downscale; PSNR/SSIM on the Y channel (BT.601)
//!   with `s` pixels cropped from each border; baseline: bicubic upsampling;
//! - colorize: the grey copy (L kept, ab = 0) as baseline; PSNR/SSIM on RGB, and the
//!   Hasler–Süsstrunk colourfulness relative to the originals'.

use crate::app::config::EvalConfig;
use crate::maths::metrics::{colourfulness, crop_border, psnr, ssim, y_channel, SSIM_WINDOW};
use crate::models::planes::lab_planes;
use crate::models::{ModelKind, Task};
use crate::photo::{self as io, Photo};
use crate::pipeline::restore::{RestoreSettings, Restorer, Sigma};
use anyhow::{bail, Context, Result};
use image::imageops::{self, FilterType};
use image::Rgb32FImage;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Scores of one image (or the mean of a set).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Scores {
    pub psnr: f64,
    pub ssim: f64,
    pub baseline_psnr: f64,
    pub baseline_ssim: f64,
    /// Colorize only: colourfulness of the output / of the original.
    pub colourfulness_ratio: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Row {
    #[serde(serialize_with = "crate::json_path::one")]
    file: PathBuf,
    setting: String,
    scores: Scores,
}

fn to255(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| x * 255.0).collect()
}

/// Model and baseline scores of planes already on the `[0, 255]` scale (`c` channels).
fn scores(out: &[f32], base: &[f32], clean: &[f32], w: usize, h: usize, c: usize) -> Scores {
    let s = |x: &[f32]| {
        if w.min(h) >= SSIM_WINDOW {
            ssim(x, clean, w, h, c, 255.0)
        } else {
            f64::NAN
        }
    };
    Scores {
        psnr: psnr(out, clean, 255.0),
        ssim: s(out),
        baseline_psnr: psnr(base, clean, 255.0),
        baseline_ssim: s(base),
        colourfulness_ratio: None,
    }
}

/// Scores on RGB (inputs in `[0, 1]`).
fn rgb_scores(out: &[f32], base: &[f32], clean: &[f32], w: usize, h: usize) -> Scores {
    scores(&to255(out), &to255(base), &to255(clean), w, h, 3)
}

/// Scores on BT.601 Y with `border` pixels cropped (the super-resolution protocol).
fn y_scores(out: &[f32], base: &[f32], clean: &[f32], w: usize, h: usize, border: usize) -> Scores {
    let y = |v: &[f32]| crop_border(&y_channel(v), w, h, 1, border);
    let ((o, cw, ch), (b, _, _), (c, _, _)) = (y(out), y(base), y(clean));
    scores(&o, &b, &c, cw, ch, 1)
}

fn resize_rgb(rgb: &[f32], w: usize, h: usize, nw: usize, nh: usize) -> Vec<f32> {
    let img = Rgb32FImage::from_raw(w as u32, h as u32, rgb.to_vec()).expect("sized buffer");
    imageops::resize(&img, nw as u32, nh as u32, FilterType::CatmullRom)
        .into_raw()
        .into_iter()
        .map(|v| v.clamp(0.0, 1.0))
        .collect()
}

fn with_rgb(p: &Photo, rgb: Vec<f32>, w: usize, h: usize) -> Photo {
    Photo {
        width: w,
        height: h,
        rgb,
        alpha: None,
        meta: p.meta.clone(),
    }
}

/// Clean images of the folder (for upscale: HR files when `_SRF_` pairs exist).
fn images(dir: &Path, kind: ModelKind) -> Result<Vec<(PathBuf, Option<PathBuf>)>> {
    let scale = kind.scale();
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && crate::pipeline::walk::is_photo_candidate(e.path()))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let hr_tag = format!("_SRF_{scale}_HR");
    let paired: Vec<_> = files
        .iter()
        .filter(|f| kind.task() == Task::Upscale && f.to_string_lossy().contains(&hr_tag))
        .map(|f| {
            (
                f.clone(),
                Some(PathBuf::from(
                    f.to_string_lossy()
                        .replace(&hr_tag, &format!("_SRF_{scale}_LR")),
                )),
            )
        })
        .collect();
    let list = if paired.is_empty() {
        files
            .into_iter()
            .filter(|f| !f.to_string_lossy().contains("_SRF_"))
            .map(|f| (f, None))
            .collect()
    } else {
        paired
    };
    if list.is_empty() {
        bail!("{}: no images to evaluate", dir.display());
    }
    Ok(list)
}

/// Why a `w`×`h` image cannot be scored at ×`scale` (the protocol crops `scale` pixels from
/// each border of the HR image, whose sides are cut to multiples of `scale`): `None` if it can.
fn too_small_for_sr(w: usize, h: usize, scale: usize) -> Option<String> {
    let min = 3 * scale;
    (w / scale * scale < min || h / scale * scale < min)
        .then(|| format!("{w}×{h} is too small to evaluate ×{scale} (at least {min}×{min} pixels)"))
}

fn mean(rows: &[&Scores]) -> Scores {
    let n = rows.len() as f64;
    let avg = |f: &dyn Fn(&Scores) -> f64| rows.iter().map(|s| f(s)).sum::<f64>() / n;
    let ratios: Vec<f64> = rows.iter().filter_map(|s| s.colourfulness_ratio).collect();
    Scores {
        psnr: avg(&|s| s.psnr),
        ssim: avg(&|s| s.ssim),
        baseline_psnr: avg(&|s| s.baseline_psnr),
        baseline_ssim: avg(&|s| s.baseline_ssim),
        colourfulness_ratio: (!ratios.is_empty())
            .then(|| ratios.iter().sum::<f64>() / ratios.len() as f64),
    }
}

pub fn run(cfg: &EvalConfig) -> Result<()> {
    let (task, scale) = (cfg.kind.task(), cfg.kind.scale());
    let loaded = crate::weights::load(&cfg.source, cfg.kind, &cfg.device)?;
    let model = loaded.origin.clone();
    let mut restorer = Restorer::new(loaded, cfg.device.clone(), RestoreSettings::default());
    let sigmas = &cfg.sigmas;
    let files = images(&cfg.dir, cfg.kind)?;
    let mut rows = Vec::new();
    let limits = io::Limits::default();
    for &sigma in sigmas {
        for (i, (file, lr_file)) in files.iter().enumerate() {
            let clean = io::load(file, &limits).with_context(|| file.display().to_string())?;
            let (w, h) = (clean.width, clean.height);
            let (setting, scores) = match task {
                Task::Denoise => {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(i as u64 + 1000 * sigma as u64);
                    let noisy: Vec<f32> = clean
                        .rgb
                        .iter()
                        .map(|&v| {
                            let n: f32 = StandardNormal.sample(&mut rng);
                            (v + n * sigma / 255.0).clamp(0.0, 1.0)
                        })
                        .collect();
                    restorer.set_sigma(Sigma::Fixed(sigma));
                    let (out, _) =
                        restorer.restore(&with_rgb(&clean, noisy.clone(), w, h), &mut |_, _| {})?;
                    (
                        format!("sigma {sigma}"),
                        rgb_scores(&out.rgb, &noisy, &clean.rgb, w, h),
                    )
                }
                Task::Upscale => {
                    let (hw, hh) = (w / scale * scale, h / scale * scale);
                    if let Some(why) = too_small_for_sr(w, h, scale) {
                        eprintln!("aetool: skipping {}: {why}", file.display());
                        continue;
                    }
                    let hr = crop_border(&clean.rgb, w, h, 3, 0).0;
                    let hr: Vec<f32> = (0..hh)
                        .flat_map(|y| hr[y * w * 3..(y * w + hw) * 3].to_vec())
                        .collect();
                    let lr = match lr_file {
                        Some(f) => io::load(f, &limits).with_context(|| f.display().to_string())?,
                        None => with_rgb(
                            &clean,
                            resize_rgb(&hr, hw, hh, hw / scale, hh / scale),
                            hw / scale,
                            hh / scale,
                        ),
                    };
                    if (lr.width * scale, lr.height * scale) != (hw, hh) {
                        bail!(
                            "{}: LR image is {}×{}, expected {}×{}",
                            file.display(),
                            lr.width,
                            lr.height,
                            hw / scale,
                            hh / scale
                        );
                    }
                    let (out, _) = restorer.restore(&lr, &mut |_, _| {})?;
                    let bicubic = resize_rgb(&lr.rgb, lr.width, lr.height, hw, hh);
                    (
                        format!("x{scale}"),
                        y_scores(&out.rgb, &bicubic, &hr, hw, hh, scale),
                    )
                }
                Task::Colorize => {
                    let (l, _) = lab_planes(&clean.rgb);
                    let grey =
                        crate::models::planes::lab_to_rgb_planes(&l, &vec![0.0; l.len() * 2]);
                    let (out, _) =
                        restorer.restore(&with_rgb(&clean, grey.clone(), w, h), &mut |_, _| {})?;
                    let mut s = rgb_scores(&out.rgb, &grey, &clean.rgb, w, h);
                    let orig = colourfulness(&clean.rgb);
                    s.colourfulness_ratio = (orig > 0.0).then(|| colourfulness(&out.rgb) / orig);
                    ("colorize".into(), s)
                }
            };
            if cfg.per_image && !cfg.json {
                crate::outln!(
                    "{}\t{setting}\tPSNR {:.2} (baseline {:.2})\tSSIM {:.4} (baseline {:.4})",
                    file.display(),
                    scores.psnr,
                    scores.baseline_psnr,
                    scores.ssim,
                    scores.baseline_ssim
                )?;
            }
            rows.push(Row {
                file: file.clone(),
                setting,
                scores,
            });
        }
    }
    if rows.is_empty() {
        bail!("{}: no image large enough to evaluate", cfg.dir.display());
    }
    let mut means = Vec::new();
    let settings: Vec<String> =
        rows.iter()
            .map(|r| r.setting.clone())
            .fold(Vec::new(), |mut v, s| {
                if !v.contains(&s) {
                    v.push(s);
                }
                v
            });
    for setting in settings {
        let set: Vec<&Scores> = rows
            .iter()
            .filter(|r| r.setting == setting)
            .map(|r| &r.scores)
            .collect();
        let m = mean(&set);
        if !cfg.json {
            let colour = m
                .colourfulness_ratio
                .map(|r| format!(", colourfulness {:.0}% of the originals'", r * 100.0))
                .unwrap_or_default();
            crate::outln!(
                "{} {task} {setting}: {} images, PSNR {:.2} dB (baseline {:.2}), SSIM {:.4} (baseline {:.4}){colour}  [{model}]",
                cfg.dir.display(),
                set.len(),
                m.psnr,
                m.baseline_psnr,
                m.ssim,
                m.baseline_ssim
            )?;
        }
        means.push((setting, m));
    }
    if cfg.json {
        let doc = serde_json::json!({ "model": model, "dir": cfg.dir.to_string_lossy(), "task": task, "means": means.iter().map(|(s, m)| serde_json::json!({"setting": s, "scores": m})).collect::<Vec<_>>(), "images": if cfg.per_image { serde_json::to_value(&rows)? } else { serde_json::Value::Null } });
        crate::outln!("{}", serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(())
}
