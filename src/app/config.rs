//! Turns parsed flags into validated settings. Every combination check lives here, before any
//! work starts, and every message says what to type instead.

use crate::app::args::{
    DegradationArg, EvalArgs, FinetuneArgs, FormatArg, ModelArgs, RunArgs, ScaleArg, TaskArg,
};
use crate::models::planes::MAX_SIGMA;
use crate::models::{ModelKind, Task};
use crate::photo::{Limits, OutputFormat};
use crate::pipeline::restore::{RestoreSettings, Sigma, TileSize};
use crate::pipeline::walk::{parse_shard, WalkOptions};
use crate::train::{Base, Hyper, TrainConfig};
use crate::weights::Source;
use anyhow::{bail, Context, Result};
use candle_core::Device;
use std::path::PathBuf;

/// The model kind named by `--task` and `-x` (the scale matters for upscale only).
pub fn kind(task: TaskArg, scale: ScaleArg) -> ModelKind {
    match (task, scale) {
        (TaskArg::Denoise, _) => ModelKind::Denoise,
        (TaskArg::Colorize, _) => ModelKind::Colorize,
        (TaskArg::Upscale, ScaleArg::X2) => ModelKind::UpscaleX2,
        (TaskArg::Upscale, ScaleArg::X4) => ModelKind::UpscaleX4,
    }
}

impl From<FormatArg> for OutputFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Png => OutputFormat::Png,
            FormatArg::Jpg => OutputFormat::Jpeg,
            FormatArg::Webp => OutputFormat::Webp,
            FormatArg::Tiff => OutputFormat::Tiff,
            FormatArg::Bmp => OutputFormat::Bmp,
        }
    }
}

/// `auto` (CUDA, then Metal, when compiled in and present; else CPU), `cpu`, `cuda[:N]`, `metal`.
pub fn device(spec: &str) -> Result<Device> {
    let spec = spec.trim().to_ascii_lowercase();
    let compiled = |feature: &str, on: bool| -> Result<()> {
        if on {
            Ok(())
        } else {
            bail!("--device {spec}: this aetool was built without the `{feature}` feature; rebuild with `cargo install --features {feature}` or use --device cpu")
        }
    };
    match spec.as_str() {
        "cpu" => Ok(Device::Cpu),
        "auto" => {
            if cfg!(feature = "cuda") {
                if let Ok(d) = Device::new_cuda(0) {
                    return Ok(d);
                }
            }
            if cfg!(feature = "metal") {
                if let Ok(d) = Device::new_metal(0) {
                    return Ok(d);
                }
            }
            Ok(Device::Cpu)
        }
        "metal" => {
            compiled("metal", cfg!(feature = "metal"))?;
            Device::new_metal(0).context("--device metal: no Metal device available")
        }
        s if s == "cuda" || s.starts_with("cuda:") => {
            compiled("cuda", cfg!(feature = "cuda"))?;
            let ordinal = match s.strip_prefix("cuda:") {
                Some(n) => n.parse().with_context(|| {
                    format!("--device {s}: expected cuda:N with N a GPU number")
                })?,
                None => 0,
            };
            Device::new_cuda(ordinal)
                .with_context(|| format!("--device {s}: CUDA device {ordinal} is not available"))
        }
        other => bail!("--device {other}: expected auto, cpu, cuda, cuda:N or metal"),
    }
}

/// Most compute threads `--jobs` accepts.
pub const MAX_JOBS: usize = 256;

/// Sets the number of compute threads (candle's matmul and our ops both use rayon's pool).
/// Called once, at start-up, before any command runs.
pub fn threads(jobs: Option<usize>) -> Result<()> {
    if let Some(n) = jobs {
        if n == 0 {
            bail!("--jobs 0: give at least 1 thread");
        }
        if n > MAX_JOBS {
            bail!("--jobs {n}: at most {MAX_JOBS} threads (more only adds overhead; the default uses every core)");
        }
        // candle's gemm reads RAYON_NUM_THREADS; set it before any tensor work starts.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .ok();
    }
    Ok(())
}

/// Where the weights come from: `--weights FILE`, `--model hf:…`, else bundled.
pub fn source(args: &ModelArgs) -> Result<Source> {
    Ok(match (&args.weights, &args.model) {
        (Some(path), _) => Source::File(path.clone()),
        (None, Some(m)) => {
            let src = Source::parse(m)?;
            if let Source::File(_) = src {
                bail!("--model {m}: expected hf:OWNER/REPO[@REVISION][/FILE] (use --weights for a local file)");
            }
            src
        }
        (None, None) => Source::Bundled,
    })
}

/// Validated settings for `aetool finetune`.
pub fn finetune(args: &FinetuneArgs) -> Result<TrainConfig> {
    let kind = kind(args.task, args.scale);
    if !args.dir.is_dir() {
        bail!("--dir {}: not a folder of photos", args.dir.display());
    }
    let base = match args.from.as_str() {
        "scratch" => Base::Scratch,
        other => Base::Weights(Source::parse(other)?),
    };
    let mut hyper = Hyper::defaults(kind, matches!(base, Base::Scratch));
    hyper.seed = args.seed;
    if let Some(v) = args.steps {
        hyper.steps = v;
    }
    if let Some(v) = args.batch {
        hyper.batch = v;
    }
    if let Some(v) = args.patch {
        hyper.patch = v;
    }
    if let Some(v) = args.lr {
        hyper.lr = v;
    }
    hyper.realistic =
        kind.task() != Task::Colorize && args.degradation == DegradationArg::Realistic;
    hyper.warmup = hyper.warmup.min(hyper.steps / 10);
    let align = 1 << kind.default_spec().depth_align_log2();
    if hyper.batch == 0 || hyper.patch == 0 || !hyper.patch.is_multiple_of(align) {
        bail!("--batch must be ≥ 1 and --patch a positive multiple of {align}");
    }
    train_bounds(&hyper)?;
    if args.val_every == 0 || args.checkpoint_every == 0 {
        bail!("--val-every and --checkpoint-every must be ≥ 1");
    }
    let output = args.output.clone().unwrap_or_else(|| {
        let dir_name = std::fs::canonicalize(&args.dir)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "photos".into());
        PathBuf::from(format!("{dir_name}-{}", kind.file_name()))
    });
    Ok(TrainConfig {
        hyper,
        dir: args.dir.clone(),
        output,
        base,
        resume: args.resume,
        val_every: args.val_every,
        checkpoint_every: args.checkpoint_every,
        device: device(&args.device)?,
        quiet: args.quiet,
    })
}

/// Most optimisation steps.
pub const MAX_STEPS: u64 = 100_000_000;
/// Most crops per step, largest crop side, and most crop pixels per step (64 crops of 256²).
pub const MAX_BATCH: usize = 1024;
pub const MAX_PATCH: u32 = 1024;
pub const MAX_CROP_PIXELS: u64 = 64 * 256 * 256;

/// Numeric training flags within sane bounds: a learning rate in (0, 1] (above that, or NaN,
/// training can only diverge), step, batch and crop sizes that fit in memory and arithmetic.
fn train_bounds(h: &Hyper) -> Result<()> {
    if !(h.lr.is_finite() && h.lr > 0.0 && h.lr <= 1.0) {
        bail!(
            "--lr {}: give a learning rate above 0 and at most 1, e.g. 3e-4 (fine-tuning) or 2e-3 (from scratch)",
            h.lr
        );
    }
    if h.steps > MAX_STEPS {
        bail!("--steps {}: at most {MAX_STEPS}", h.steps);
    }
    if h.batch > MAX_BATCH || h.patch > MAX_PATCH {
        bail!(
            "--batch {} --patch {}: at most {MAX_BATCH} crops of at most {MAX_PATCH} pixels",
            h.batch,
            h.patch
        );
    }
    let pixels = h.batch as u64 * u64::from(h.patch).pow(2);
    if pixels > MAX_CROP_PIXELS {
        bail!(
            "--batch {} × --patch {}² is {pixels} crop pixels per step, over the {MAX_CROP_PIXELS} limit; use fewer or smaller crops",
            h.batch,
            h.patch
        );
    }
    Ok(())
}

/// Validated settings for denoise / upscale / colorize.
pub struct RestoreConfig {
    pub kind: ModelKind,
    pub source: Source,
    pub device: Device,
    pub settings: RestoreSettings,
    pub inputs: Vec<PathBuf>,
    pub walk: WalkOptions,
    pub limits: Limits,
    pub quiet: bool,
    pub json: bool,
}

/// Validated settings for `aetool eval`.
pub struct EvalConfig {
    pub kind: ModelKind,
    pub source: Source,
    pub device: Device,
    /// Noise levels to measure denoise at (0–[`MAX_SIGMA`] on the 0–255 scale).
    pub sigmas: Vec<f32>,
    pub dir: PathBuf,
    pub per_image: bool,
    pub json: bool,
}

/// Parses one noise level `N` (0–[`MAX_SIGMA`] on the 0–255 scale); `hint` shows the form
/// expected in the error message.
fn sigma_level(s: &str, hint: &str) -> Result<f32> {
    let v: f32 = s
        .trim()
        .parse()
        .with_context(|| format!("--sigma {s}: expected {hint}"))?;
    if !(0.0..=MAX_SIGMA).contains(&v) {
        bail!("--sigma {s}: the denoiser covers 0 to {MAX_SIGMA} (on the 0–255 scale)");
    }
    Ok(v)
}

/// Parses `--sigma auto|N` (0–50 on the 0–255 scale).
pub fn sigma(s: &str) -> Result<Sigma> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(Sigma::Auto);
    }
    sigma_level(s, "`auto` or a number such as 15").map(Sigma::Fixed)
}

/// Largest `--tile`, `--tile-pad` and `--max-megapixels`.
pub const MAX_TILE: usize = 65536;
pub const MAX_TILE_PAD: usize = 4096;
pub const MAX_MEGAPIXELS: u64 = 10_000;

/// Checks `--tile-pad` (a border beyond the model's receptive radius changes nothing; the run
/// caps it there, see `app::restore`).
fn tile_pad(pad: Option<usize>) -> Result<Option<usize>> {
    match pad {
        Some(p) if p > MAX_TILE_PAD => bail!(
            "--tile-pad {p}: at most {MAX_TILE_PAD} pixels (the model's receptive radius, shown by `aetool info`, is all a tile needs)"
        ),
        p => Ok(p),
    }
}

/// Parses `--tile auto|N`.
pub fn tile(s: &str) -> Result<TileSize> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(TileSize::Auto);
    }
    match s.parse::<usize>() {
        Ok(n) if (16..=MAX_TILE).contains(&n) => Ok(TileSize::Fixed(n)),
        _ => bail!("--tile {s}: expected `auto` or a tile size of 16 to {MAX_TILE} pixels"),
    }
}

/// Checks `--work-size` (colorize).
fn work_size(work_size: u32) -> Result<u32> {
    if work_size < 32 {
        bail!("--work-size {work_size}: use at least 32 pixels");
    }
    Ok(work_size)
}

/// The task-specific flags of an inference command, as typed (see `args.rs`).
pub struct TaskFlags<'a> {
    pub sigma: &'a str,
    pub strength: f32,
    pub work_size: u32,
    pub recolor: bool,
}

impl Default for TaskFlags<'_> {
    fn default() -> Self {
        Self {
            sigma: "auto",
            strength: 1.0,
            work_size: crate::pipeline::restore::DEFAULT_WORK_SIZE,
            recolor: false,
        }
    }
}

/// Checks `--strength` (a factor on the estimated noise level).
fn strength(s: f32) -> Result<f32> {
    if !(0.1..=4.0).contains(&s) {
        bail!("--strength {s}: use a factor between 0.1 and 4 (1 = the estimated level)");
    }
    Ok(s)
}

/// Validated settings for an inference command.
pub fn restore(kind: ModelKind, flags: TaskFlags, args: &RunArgs) -> Result<RestoreConfig> {
    let shard = args
        .shard
        .as_deref()
        .map(parse_shard)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--shard: {e}"))?;
    if !(1..=MAX_MEGAPIXELS).contains(&args.max_megapixels) {
        bail!(
            "--max-megapixels {}: give 1 to {MAX_MEGAPIXELS}",
            args.max_megapixels
        );
    }
    let settings = RestoreSettings {
        sigma: sigma(flags.sigma)?,
        strength: strength(flags.strength)?,
        recolor: flags.recolor,
        tile: tile(&args.tile)?,
        tile_pad: tile_pad(args.tile_pad)?,
        work_size: work_size(flags.work_size)?,
        strip_metadata: args.strip_metadata,
    };
    Ok(RestoreConfig {
        kind,
        source: source(&args.model)?,
        device: device(&args.model.device)?,
        settings,
        inputs: args.inputs.clone(),
        walk: WalkOptions {
            recursive: !args.no_recursive,
            output: args.output.clone(),
            format: args.format.map(OutputFormat::from),
            overwrite: args.overwrite,
            shard,
            ..WalkOptions::new(kind)
        },
        limits: Limits {
            max_pixels: args.max_megapixels * 1_000_000,
        },
        quiet: args.quiet,
        json: args.json,
    })
}

/// Validated settings for `aetool eval`.
pub fn eval(args: &EvalArgs) -> Result<EvalConfig> {
    let kind = kind(args.task, args.scale);
    let sigmas = if kind == ModelKind::Denoise {
        args.sigma
            .split(',')
            .map(|s| sigma_level(s, "numbers like 15,25,50"))
            .collect::<Result<_>>()?
    } else {
        vec![0.0]
    };
    Ok(EvalConfig {
        kind,
        source: source(&args.model)?,
        device: device(&args.model.device)?,
        sigmas,
        dir: args.dir.clone(),
        per_image: args.per_image,
        json: args.json,
    })
}
