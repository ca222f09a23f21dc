//! `aetool eval`: quality of a model against the task's baselines, in the same run, with the
//! published protocols (settings come from [`EvalProtocol`]):
//! - denoise ([`denoise`]): PSNR/SSIM on RGB `[0, 255]` of the model's float output (not rounded
//!   to the 8 bits a written file has), the baseline being the model's input.
//!   AWGN of σ (seeded per image) added to the clean image, clipped to `[0, 1]` but not
//!   quantised, the model told σ or run blind (`--blind`); with σ 0 the input is the clean
//!   image itself, so the baseline is infinite and printed as `baseline ∞`: the figure is then
//!   how much the model changes a clean photo. `--jpeg Q,…`: the clean image through JPEG at
//!   each quality (4:2:0, IJG tables), the model blind, the JPEG as baseline. A folder holding
//!   `noisy/` and `clean/` with the same file names: real noise, each noisy file scored
//!   against its clean partner, the model blind (or at each `--sigma`);
//! - upscale ([`upscale`]): `*_SRF_<s>_HR` / `*_SRF_<s>_LR` pairs when present (the sets'
//!   MATLAB-made LR images), else LR made by antialiased bicubic downscale; with `--jpeg` always
//!   the bicubic LR, then JPEG at each quality. PSNR/SSIM on the Y channel (BT.601) with `s`
//!   pixels cropped from each border; baseline: bicubic upsampling of the model's input;
//! - colorize ([`colorize`]): the model gets the grey copy (L kept, ab = 0); PSNR/SSIM on RGB,
//!   the Hasler–Süsstrunk colourfulness relative to the originals', and the hue-balanced colour
//!   correctness; baselines: the grey copy and a uniform sepia tint.
//!
//! `--compare WEIGHTS` runs a second model on the same inputs (`previous` on each line);
//! `--save DIR` writes the pictures behind the figures.

mod colorize;
mod denoise;
mod scores;
#[cfg(test)]
mod tests;
mod upscale;

use crate::app::config::{EvalConfig, EvalProtocol};
use crate::models::Task;
use crate::photo::{self as io, Photo};
use crate::pipeline::restore::{RestoreSettings, Restorer, Sigma, Target};
use anyhow::{bail, Context, Result};
pub use denoise::is_paired_folder;
use image::imageops::{self, FilterType};
use image::Rgb32FImage;
use scores::{mean, Scores, Space};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One image to measure: the clean (or high-resolution) file and, where the set provides one,
/// its degraded partner (a real noisy photo, or the set's `_SRF_` low-resolution file).
#[derive(Clone, Debug, PartialEq)]
struct Input {
    clean: PathBuf,
    degraded: Option<PathBuf>,
}

/// How a setting makes the model's input from an [`Input`].
#[derive(Clone, Copy, Debug, PartialEq)]
enum Degrade {
    /// The task's own input: the partner file when there is one, else the low-resolution copy
    /// (upscale) or the grey copy (colorize).
    Given,
    /// Denoise: Gaussian noise of this σ (0–255 scale).
    Awgn(f32),
    /// JPEG at this quality (denoise: of the clean image; upscale: of the bicubic LR).
    Jpeg(u8),
}

/// One row of the results.
#[derive(Clone, Debug, PartialEq)]
struct Setting {
    label: String,
    degrade: Degrade,
    /// What the denoiser is told (ignored by the other tasks).
    sigma: Sigma,
}

/// What the models get, and what their outputs are compared with.
struct Case {
    input: Photo,
    /// The clean / HR image, RGB in `[0, 1]`, `width × height`.
    reference: Vec<f32>,
    width: usize,
    height: usize,
    /// The baseline, at the reference's size.
    baseline: Vec<f32>,
    space: Space,
}

#[derive(Debug, Serialize)]
struct Row {
    #[serde(serialize_with = "crate::json_path::one")]
    file: PathBuf,
    setting: String,
    scores: Scores,
}

/// The photos under `dir` (recursive, sorted), as a restore run would take them.
fn photo_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && crate::pipeline::walk::is_photo_candidate(e.path()))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

/// RGB resized with antialiased Catmull–Rom bicubic, clamped to `[0, 1]`.
fn resize_rgb(rgb: &[f32], w: usize, h: usize, nw: usize, nh: usize) -> Vec<f32> {
    let img = Rgb32FImage::from_raw(w as u32, h as u32, rgb.to_vec()).expect("sized buffer");
    imageops::resize(&img, nw as u32, nh as u32, FilterType::CatmullRom)
        .into_raw()
        .into_iter()
        .map(|v| v.clamp(0.0, 1.0))
        .collect()
}

/// Pixels made in memory, and the JPEG quality a reader of them as a file would see.
struct Made {
    rgb: Vec<f32>,
    jpeg_quality: Option<u8>,
}

impl From<Vec<f32>> for Made {
    fn from(rgb: Vec<f32>) -> Self {
        Made {
            rgb,
            jpeg_quality: None,
        }
    }
}

/// JPEG round trip of RGB `w × h` at `quality` (4:2:0 chroma, IJG quality scaling); values on
/// the 8-bit grid, the quality read back from the file's tables as `aetool denoise` reads a
/// JPEG's.
fn jpeg_rgb(rgb: &[f32], w: usize, h: usize, quality: u8) -> Result<Made> {
    let img = Rgb32FImage::from_raw(w as u32, h as u32, rgb.to_vec()).expect("sized buffer");
    let file = crate::train::jpeg_file(&img, quality).context("JPEG round trip")?;
    let decoded = crate::train::jpeg_decode(&file).context("JPEG round trip")?;
    Ok(Made {
        rgb: decoded.into_raw(),
        jpeg_quality: io::jpeg_quality(&file),
    })
}

/// A photo of `made`'s pixels with `p`'s metadata.
fn with_rgb(p: &Photo, made: Made, w: usize, h: usize) -> Photo {
    let mut photo = Photo::from_rgb_f32(w, h, made.rgb, p.meta.clone());
    photo.meta.jpeg_quality = made.jpeg_quality;
    photo
}

/// The images `cfg` measures.
fn inputs(cfg: &EvalConfig) -> Result<Vec<Input>> {
    let list = match (cfg.kind.task(), &cfg.protocol) {
        (Task::Denoise, EvalProtocol::RealNoise { .. }) => denoise::paired_files(&cfg.dir)?,
        (Task::Upscale, protocol) => {
            let mut list = upscale::files(&cfg.dir, cfg.kind.scale());
            if matches!(protocol, EvalProtocol::Jpeg { .. }) {
                // The LR is made from HR here; the set's own LR files are not used.
                list.iter_mut().for_each(|i| i.degraded = None);
            }
            list
        }
        _ => photo_files(&cfg.dir)
            .into_iter()
            .filter(|f| !f.to_string_lossy().contains("_SRF_"))
            .map(|clean| Input {
                clean,
                degraded: None,
            })
            .collect(),
    };
    if list.is_empty() {
        bail!("{}: no images to evaluate", cfg.dir.display());
    }
    Ok(list)
}

/// The rows `cfg` asks for, in order.
fn settings(cfg: &EvalConfig) -> Vec<Setting> {
    match cfg.kind.task() {
        Task::Denoise => denoise::settings(&cfg.protocol),
        Task::Upscale => upscale::settings(&cfg.protocol, cfg.kind.scale()),
        Task::Colorize => vec![Setting {
            label: "colorize".into(),
            degrade: Degrade::Given,
            sigma: Sigma::Auto,
        }],
    }
}

fn load_restorer(cfg: &EvalConfig, source: &crate::weights::Source) -> Result<Restorer> {
    let loaded = crate::weights::load(source, cfg.kind, &cfg.device)?;
    let told = settings(cfg)
        .iter()
        .any(|s| matches!(s.sigma, Sigma::Fixed(_)));
    let companions = crate::weights::load_companions(source, cfg.kind, &loaded, told, &cfg.device)?;
    let settings = RestoreSettings {
        strength: cfg.strength,
        saturation: cfg.saturation,
        ..RestoreSettings::default()
    };
    Ok(Restorer::new(loaded, cfg.device.clone(), settings).with_companions(companions))
}

/// The extra figures after the model's: colorize's colour figures and baselines, `previous`.
/// `sep` joins the parts (", " / " | " on summary lines, tabs on per-image rows).
fn extras(task: Task, s: &Scores, defined: (usize, usize), per_image: bool) -> String {
    let pct = |r: Option<f64>| r.map_or("n/a".into(), |r| format!("{:.0}%", r * 100.0));
    let corr = |c: Option<f64>| c.map_or("n/a".into(), |c| format!("{c:.3}"));
    let (main_sep, part_sep) = if per_image {
        ("\t", "\t")
    } else {
        (", ", " | ")
    };
    let mut out = String::new();
    if let Some(r) = s.colourfulness_ratio {
        out += &format!(
            "{main_sep}colourfulness {:.0}% of the original{}",
            r * 100.0,
            if per_image { "'s" } else { "s'" }
        );
    }
    if task == Task::Colorize {
        out += &format!(
            "{main_sep}colour correctness {}",
            corr(s.colour_correctness)
        );
        let (n_defined, n) = defined;
        if !per_image && n_defined < n {
            out += &format!(" (over the {n_defined} of {n} images with coloured pixels)");
        }
    }
    for (name, f) in [
        ("grey", &s.grey),
        ("sepia", &s.sepia),
        ("previous", &s.previous),
    ] {
        let Some(f) = f else { continue };
        out += &format!("{part_sep}{name}: PSNR {} dB", db(f.psnr));
        if task == Task::Colorize {
            out += &format!(
                ", colourfulness {}, correctness {}",
                pct(f.colourfulness_ratio),
                corr(f.colour_correctness)
            );
        } else {
            out += &format!(", SSIM {:.4}", f.ssim);
        }
    }
    out
}

/// Writes a case's model input, output and `--compare` output as
/// `dir/<setting>/<stem>.{input,output,previous}.png` (spaces in the setting become `-`).
fn save_pictures(
    dir: &Path,
    setting: &str,
    file: &Path,
    pictures: [(&str, Option<&Photo>); 3],
) -> Result<()> {
    let folder = dir.join(setting.replace(' ', "-"));
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("--save: cannot create {}", folder.display()))?;
    let stem = file.file_stem().unwrap_or_default().to_string_lossy();
    for (what, photo) in pictures {
        if let Some(photo) = photo {
            let dest = folder.join(format!("{stem}.{what}.png"));
            io::save(&dest, photo, io::OutputFormat::Png, &Default::default())
                .with_context(|| format!("--save: {}", dest.display()))?;
        }
    }
    Ok(())
}

/// A PSNR with two decimals, or "∞" for an output identical to the reference (the baseline
/// at σ 0, or a model that leaves a clean photo untouched).
fn db(p: f64) -> String {
    if p.is_infinite() {
        "∞".into()
    } else {
        format!("{p:.2}")
    }
}

pub fn run(cfg: &EvalConfig) -> Result<()> {
    let task = cfg.kind.task();
    let mut restorer = load_restorer(cfg, &cfg.source)?;
    let mut previous = cfg
        .compare
        .as_ref()
        .map(|src| load_restorer(cfg, src).context("--compare"))
        .transpose()?;
    let model = restorer.origin().to_string();
    let knob = knob(cfg);
    let mut tag = match &previous {
        Some(p) => format!("{model}; previous: {}", p.origin()),
        None => model.clone(),
    };
    if let Some((name, f)) = knob.filter(|&(_, f)| f != 1.0) {
        tag += &format!("; {name} {f}");
    }
    let files = inputs(cfg)?;
    let limits = io::Limits::default();
    let mut rows = Vec::new();
    let mut means = Vec::new();
    for setting in settings(cfg) {
        restorer.set_sigma(setting.sigma);
        if let Some(p) = previous.as_mut() {
            p.set_sigma(setting.sigma);
        }
        let mut set = Vec::new();
        for (i, input) in files.iter().enumerate() {
            let file = &input.clean;
            let case = match task {
                Task::Denoise => denoise::case(input, setting.degrade, i, &limits).map(Some),
                Task::Upscale => upscale::case(input, setting.degrade, cfg.kind.scale(), &limits),
                Task::Colorize => colorize::case(input, &limits).map(Some),
            }
            .with_context(|| file.display().to_string())?;
            let Some(case) = case else { continue };
            let run = |r: &Restorer| {
                r.restore(&case.input, Target::Float, &mut |_, _| {})
                    .map(|(out, _)| out)
            };
            let out = run(&restorer)?;
            let prev_out = previous.as_ref().map(run).transpose()?;
            if let Some(dir) = &cfg.save {
                let pictures = [
                    ("input", Some(&case.input)),
                    ("output", Some(&out)),
                    ("previous", prev_out.as_ref()),
                ];
                save_pictures(dir, &setting.label, file, pictures)?;
            }
            let prev_rgb = prev_out.as_ref().map(|p| p.rgb_f32());
            let scores = scores::score(task, &case, &out.rgb_f32(), prev_rgb.as_deref());
            if cfg.per_image && !cfg.json {
                crate::outln!(
                    "{}\t{}\tPSNR {} (baseline {})\tSSIM {:.4} (baseline {:.4}){}",
                    file.display(),
                    setting.label,
                    db(scores.psnr),
                    db(scores.baseline_psnr),
                    scores.ssim,
                    scores.baseline_ssim,
                    extras(task, &scores, (1, 1), true)
                )?;
            }
            set.push(scores.clone());
            rows.push(Row {
                file: file.clone(),
                setting: setting.label.clone(),
                scores,
            });
        }
        if set.is_empty() {
            bail!("{}: no image large enough to evaluate", cfg.dir.display());
        }
        let refs: Vec<&Scores> = set.iter().collect();
        let m = mean(&refs);
        let defined = set
            .iter()
            .filter(|s| s.colour_correctness.is_some())
            .count();
        if !cfg.json {
            crate::outln!(
                "{} {task} {}: {} images, PSNR {} dB (baseline {}), SSIM {:.4} (baseline {:.4}){}  [{tag}]",
                cfg.dir.display(),
                setting.label,
                set.len(),
                db(m.psnr),
                db(m.baseline_psnr),
                m.ssim,
                m.baseline_ssim,
                extras(task, &m, (defined, set.len()), false)
            )?;
        }
        let mut entry = serde_json::json!({
            "setting": setting.label,
            "images": set.len(),
            "scores": m,
        });
        if task == Task::Colorize {
            entry["correctness_images"] = defined.into();
        }
        means.push(entry);
    }
    if cfg.json {
        let mut doc = serde_json::json!({
            "model": model,
            "previous": previous.as_ref().map(|p| p.origin().to_string()),
            "dir": cfg.dir.to_string_lossy(),
            "task": task,
            "means": means,
            "images": if cfg.per_image { serde_json::to_value(&rows)? } else { serde_json::Value::Null },
        });
        if let Some((name, f)) = knob {
            // As typed (0.8, not the f32's 0.800000011920929).
            doc[name] = ((f64::from(f) * 1e6).round() / 1e6).into();
        }
        crate::outln!("{}", serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(())
}

/// The task's knob on the model's output and its value, which the results carry so that a
/// figure says how it was made: denoise's `--strength`, colorize's `--saturation` (the summary
/// line names it when it is not 1; the JSON always has it).
fn knob(cfg: &EvalConfig) -> Option<(&'static str, f32)> {
    match cfg.kind.task() {
        Task::Denoise => Some(("strength", cfg.strength)),
        Task::Colorize => Some(("saturation", cfg.saturation)),
        Task::Upscale => None,
    }
}
