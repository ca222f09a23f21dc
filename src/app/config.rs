//! Turns parsed flags into validated settings. Every combination check lives here, before any
//! work starts, and every message says what to type instead.

use crate::app::args::{
    DegradationArg, EvalArgs, FinetuneArgs, FormatArg, ModelArgs, PngCompressionArg, RunArgs,
    ScaleArg, TaskArg,
};
use crate::models::planes::MAX_SIGMA;
use crate::models::{ModelKind, Task};
use crate::photo::{EncodeSettings, Limits, OutputFormat, PngCompression, STREAM_ABOVE_BYTES};
use crate::pipeline::restore::{RestoreSettings, Sigma, TileSize};
use crate::pipeline::walk::{parse_shard, WalkOptions};
use crate::train::{Base, Hyper, Mixture, TrainConfig};
use crate::weights::Source;
use anyhow::{anyhow, bail, Context, Result};
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

impl From<PngCompressionArg> for PngCompression {
    fn from(c: PngCompressionArg) -> Self {
        match c {
            PngCompressionArg::Fast => PngCompression::Fast,
            PngCompressionArg::Default => PngCompression::Default,
            PngCompressionArg::Best => PngCompression::Best,
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

/// Stack of each compute thread: the commands run on one of them (see [`super::run`]), so it
/// gets the main thread's usual 8 MiB rather than a worker's default 2 MiB.
const WORKER_STACK: usize = 8 << 20;

/// Sets up rayon's pool (candle's matmul and our ops both use it): `--jobs` threads, else
/// `RAYON_NUM_THREADS` or one per core. Called once, at start-up, before any command runs.
pub fn threads(jobs: Option<usize>) -> Result<()> {
    let mut pool = rayon::ThreadPoolBuilder::new().stack_size(WORKER_STACK);
    if let Some(n) = jobs {
        if n == 0 {
            bail!("--jobs 0: give at least 1 thread");
        }
        if n > MAX_JOBS {
            bail!("--jobs {n}: at most {MAX_JOBS} threads (more only adds overhead; the default uses every core)");
        }
        // candle's gemm reads RAYON_NUM_THREADS; set it before any tensor work starts.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        pool = pool.num_threads(n);
    }
    // Fails only if the pool already exists (a second call in one process): that one stays.
    pool.build_global().ok();
    Ok(())
}

/// Where the weights come from: `--weights FILE`, `--model hf:…`, `--variant NAME` (bundled),
/// else the bundled default.
pub fn source(args: &ModelArgs) -> Result<Source> {
    if let Some(v) = &args.variant {
        return Source::variant(v).map_err(|e| anyhow!("--variant: {e}"));
    }
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
    if args.degradation == DegradationArg::Jpeg && kind.task() != Task::Denoise {
        bail!("--degradation jpeg trains a JPEG-artefact remover: use it with --task denoise");
    }
    if args.degradation == DegradationArg::Unclipped && kind.task() != Task::Denoise {
        bail!(
            "--degradation unclipped is Gaussian noise for a denoiser: use it with --task denoise"
        );
    }
    hyper.mixture = match (kind.task(), args.degradation) {
        (Task::Colorize, _) => Mixture::Classic,
        (_, DegradationArg::Realistic) => Mixture::Realistic,
        (_, DegradationArg::Classic) => Mixture::Classic,
        (_, DegradationArg::Jpeg) => Mixture::CoarseJpeg,
        (_, DegradationArg::Unclipped) => Mixture::Unclipped,
    };
    hyper.warmup = hyper.warmup.min(hyper.steps / 10);
    hyper.estimator_only = args.estimator_only;
    if args.estimator_only && (kind.task() != Task::Denoise || !hyper.mixture.is_realistic()) {
        bail!("--estimator-only trains the noise estimator of --task denoise with --degradation realistic or jpeg");
    }
    if let Some(db) = args.estimator_floor {
        if !args.estimator_only {
            bail!("--estimator-floor sets the loss of --estimator-only; add that flag or drop this one");
        }
        if !(10.0..=60.0).contains(&db) {
            bail!("--estimator-floor {db}: give a PSNR between 10 and 60 dB, e.g. 40 (the default) or 30");
        }
        hyper.estimator_floor_db = db;
    }
    if let Some(d) = args.ema {
        if !(0.0..1.0).contains(&d) {
            bail!("--ema {d}: give a decay of at least 0 and below 1, e.g. 0.999 (0: off)");
        }
        hyper.ema = d;
    }
    if args.estimator_only && matches!(base, Base::Scratch) {
        bail!("--estimator-only needs a trained denoiser to aim at: --from bundled, a weights file or hf:…");
    }
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
    pub encode: EncodeSettings,
    pub quiet: bool,
    pub json: bool,
}

/// What `aetool eval` feeds the model, and what it scores against.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalProtocol {
    /// Denoise: Gaussian noise of each σ (0–[`MAX_SIGMA`], 0–255 scale) added to the clean
    /// images; the model told σ, or `blind` (its own estimate). Baseline: the noisy input.
    Awgn { sigmas: Vec<f32>, blind: bool },
    /// Denoise: `DIR/noisy/*` scored against `DIR/clean/*`; the model blind (`None`) or at each
    /// fixed σ. Baseline: the noisy file.
    RealNoise { sigmas: Option<Vec<f32>> },
    /// Denoise: the clean images through JPEG (4:2:0) at each quality, the model blind;
    /// baseline: the JPEG. Upscale: the bicubic LR made from HR through JPEG; baseline: bicubic
    /// upsampling of that JPEG.
    Jpeg { qualities: Vec<u8> },
    /// Upscale: the clean LR (the set's `_SRF_` file, else a bicubic downscale); baseline:
    /// bicubic. Colorize: the grey copy; baselines: the grey copy and a uniform sepia tint.
    Standard,
}

/// Validated settings for `aetool eval`.
pub struct EvalConfig {
    pub kind: ModelKind,
    pub source: Source,
    pub device: Device,
    pub protocol: EvalProtocol,
    /// Factor on the blind noise estimate (`--strength`; 1 by default).
    pub strength: f32,
    /// Colorize: factor on the predicted colour (`--saturation`; 1 by default).
    pub saturation: f32,
    /// Second weights run on the same inputs (`--compare`), printed as `previous`.
    pub compare: Option<Source>,
    pub dir: PathBuf,
    pub per_image: bool,
    /// `--save DIR`: where the inputs and outputs are written as PNG.
    pub save: Option<PathBuf>,
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

/// Checks the hidden `--band-rows`.
fn band_rows(rows: Option<usize>) -> Result<Option<usize>> {
    match rows {
        Some(0) => bail!("--band-rows 0: give at least 1 row"),
        rows => Ok(rows),
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
    pub saturation: f32,
}

impl Default for TaskFlags<'_> {
    fn default() -> Self {
        Self {
            sigma: "auto",
            strength: 1.0,
            work_size: crate::pipeline::restore::DEFAULT_WORK_SIZE,
            recolor: false,
            saturation: 1.0,
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

/// Checks `--saturation` (a factor on the predicted colour's chroma).
fn saturation(s: f32) -> Result<f32> {
    if !(0.1..=3.0).contains(&s) {
        bail!("--saturation {s}: use a factor between 0.1 and 3 (1 = the model's colours)");
    }
    Ok(s)
}

/// `-o x.png` is an output file only with one input file; with several inputs or a folder it
/// would silently become a folder named `x.png`. (An existing folder of that name is fine.)
fn output_names_a_file(args: &RunArgs) -> Result<()> {
    let Some(out) = &args.output else {
        return Ok(());
    };
    let image_ext = out
        .extension()
        .and_then(|e| e.to_str())
        .and_then(OutputFormat::from_extension)
        .is_some();
    if !image_ext || out.is_dir() {
        return Ok(());
    }
    let o = out.display();
    if args.inputs.len() > 1 {
        bail!(
            "-o {o} names an image file, but there are {} inputs; give a folder for -o (one without an image extension), or a single input",
            args.inputs.len()
        );
    }
    if let Some(dir) = args.inputs.iter().find(|i| i.is_dir()) {
        bail!(
            "-o {o} names an image file, but {} is a folder; give a folder for -o (one without an image extension)",
            dir.display()
        );
    }
    Ok(())
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
    output_names_a_file(args)?;
    let settings = RestoreSettings {
        sigma: sigma(flags.sigma)?,
        strength: strength(flags.strength)?,
        recolor: flags.recolor,
        saturation: saturation(flags.saturation)?,
        tile: tile(&args.tile)?,
        tile_pad: tile_pad(args.tile_pad)?,
        work_size: work_size(flags.work_size)?,
        strip_metadata: args.strip_metadata,
        band_rows: band_rows(args.band_rows)?,
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
            stream_above: args.stream_above.unwrap_or(STREAM_ABOVE_BYTES),
        },
        encode: EncodeSettings {
            png_compression: args.png_compression.into(),
        },
        quiet: args.quiet,
        json: args.json,
    })
}

/// Parses `--jpeg Q,Q,…` (qualities 1–100).
fn jpeg_qualities(s: &str) -> Result<Vec<u8>> {
    s.split(',')
        .map(|q| match q.trim().parse::<u8>() {
            Ok(v) if (1..=100).contains(&v) => Ok(v),
            _ => bail!("--jpeg {s}: expected JPEG qualities from 1 to 100, like 10,20,30,40"),
        })
        .collect()
}

/// Validated settings for `aetool eval`.
pub fn eval(args: &EvalArgs) -> Result<EvalConfig> {
    let kind = kind(args.task, args.scale);
    let task = kind.task();
    let sigmas = args
        .sigma
        .as_deref()
        .map(|list| {
            list.split(',')
                .map(|s| sigma_level(s, "numbers like 15,25,50"))
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    let qualities = args.jpeg.as_deref().map(jpeg_qualities).transpose()?;
    if task != Task::Denoise && (sigmas.is_some() || args.blind || args.strength.is_some()) {
        bail!("--sigma, --blind and --strength apply to --task denoise only");
    }
    if task != Task::Colorize && args.saturation.is_some() {
        bail!("--saturation applies to --task colorize only");
    }
    if task == Task::Colorize && qualities.is_some() {
        bail!("--jpeg applies to --task denoise and --task upscale");
    }
    let paired = task == Task::Denoise && crate::app::eval::is_paired_folder(&args.dir);
    let protocol = match (task, qualities) {
        (Task::Denoise, Some(_)) if paired => bail!(
            "{}: holds noisy/ + clean/ pairs; for JPEG artefacts point at its clean photos: {}",
            args.dir.display(),
            args.dir.join("clean").display()
        ),
        (Task::Denoise, Some(_)) if sigmas.is_some() || args.blind => bail!(
            "--jpeg compresses the clean images instead of adding noise, and runs the model blind: drop --sigma and --blind"
        ),
        (_, Some(qualities)) => EvalProtocol::Jpeg { qualities },
        (Task::Denoise, None) if paired => {
            if sigmas.is_some() && args.blind {
                bail!("--sigma with --blind: on noisy/ + clean/ pairs the model runs blind by default; --sigma N runs it at fixed levels instead");
            }
            EvalProtocol::RealNoise { sigmas }
        }
        (Task::Denoise, None) => EvalProtocol::Awgn {
            sigmas: sigmas.unwrap_or_else(|| vec![25.0]),
            blind: args.blind,
        },
        (_, None) => EvalProtocol::Standard,
    };
    let compare = args
        .compare
        .as_deref()
        .map(|c| Source::parse(c).with_context(|| format!("--compare {c}")))
        .transpose()?;
    Ok(EvalConfig {
        kind,
        source: source(&args.model)?,
        device: device(&args.model.device)?,
        protocol,
        strength: args.strength.map(strength).transpose()?.unwrap_or(1.0),
        saturation: args.saturation.map(saturation).transpose()?.unwrap_or(1.0),
        compare,
        dir: args.dir.clone(),
        per_image: args.per_image,
        save: args.save.clone(),
        json: args.json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::args::{Cli, Command};
    use clap::Parser;

    fn eval_config(args: &[&str]) -> Result<EvalConfig> {
        let cli = Cli::try_parse_from(["aetool", "eval", "--device", "cpu"].iter().chain(args))
            .expect("flags parse");
        let Command::Eval(args) = cli.command else {
            unreachable!()
        };
        eval(&args)
    }

    fn protocol(args: &[&str]) -> EvalProtocol {
        eval_config(args).unwrap().protocol
    }

    fn error(args: &[&str]) -> String {
        format!("{:#}", eval_config(args).err().expect("an error"))
    }

    #[test]
    fn eval_protocols_from_flags() {
        let plain = tempfile::tempdir().unwrap();
        let d = plain.path().to_str().unwrap();
        let awgn = |sigmas: &[f32], blind| EvalProtocol::Awgn {
            sigmas: sigmas.to_vec(),
            blind,
        };
        assert_eq!(protocol(&["--task", "denoise", d]), awgn(&[25.0], false));
        assert_eq!(
            protocol(&["--task", "denoise", "--sigma", "15,25,50", d]),
            awgn(&[15.0, 25.0, 50.0], false)
        );
        assert_eq!(
            protocol(&["--task", "denoise", "--sigma", "0", "--blind", d]),
            awgn(&[0.0], true)
        );
        assert_eq!(
            protocol(&["--task", "denoise", "--jpeg", "10, 20,30,40", d]),
            EvalProtocol::Jpeg {
                qualities: vec![10, 20, 30, 40]
            }
        );
        assert_eq!(
            protocol(&["--task", "upscale", "-x", "4", "--jpeg", "50,60,70", d]),
            EvalProtocol::Jpeg {
                qualities: vec![50, 60, 70]
            }
        );
        assert_eq!(protocol(&["--task", "upscale", d]), EvalProtocol::Standard);
        assert_eq!(protocol(&["--task", "colorize", d]), EvalProtocol::Standard);
        let cfg = eval_config(&["--task", "colorize", "--compare", "old.safetensors", d]).unwrap();
        assert_eq!(cfg.compare, Some(Source::File("old.safetensors".into())));
        let cfg = eval_config(&["--task", "denoise", "--compare", "bundled", d]).unwrap();
        assert_eq!(cfg.compare, Some(Source::Bundled));

        // A folder of noisy/ + clean/ pairs: real noise, blind unless --sigma.
        let pairs = tempfile::tempdir().unwrap();
        std::fs::create_dir(pairs.path().join("noisy")).unwrap();
        std::fs::create_dir(pairs.path().join("clean")).unwrap();
        let p = pairs.path().to_str().unwrap();
        let real = |sigmas: Option<Vec<f32>>| EvalProtocol::RealNoise { sigmas };
        assert_eq!(protocol(&["--task", "denoise", p]), real(None));
        assert_eq!(protocol(&["--task", "denoise", "--blind", p]), real(None));
        assert_eq!(
            protocol(&["--task", "denoise", "--sigma", "5,10", p]),
            real(Some(vec![5.0, 10.0]))
        );
        // Upscale and colorize do not look for pairs.
        assert_eq!(protocol(&["--task", "colorize", p]), EvalProtocol::Standard);
    }

    #[test]
    fn eval_flag_errors_say_what_to_type() {
        let plain = tempfile::tempdir().unwrap();
        let d = plain.path().to_str().unwrap();
        for (args, want) in [
            (vec!["--task", "denoise", "--sigma", "60"], "covers 0 to 50"),
            (vec!["--task", "denoise", "--sigma", "x"], "15,25,50"),
            (vec!["--task", "denoise", "--jpeg", "0"], "1 to 100"),
            (vec!["--task", "denoise", "--jpeg", "101"], "1 to 100"),
            (vec!["--task", "denoise", "--jpeg", "10,,20"], "1 to 100"),
            (vec!["--task", "upscale", "--sigma", "25"], "denoise only"),
            (vec!["--task", "colorize", "--blind"], "denoise only"),
            (vec!["--task", "colorize", "--jpeg", "50"], "--jpeg applies"),
            (
                vec!["--task", "denoise", "--jpeg", "10", "--sigma", "25"],
                "drop --sigma",
            ),
            (
                vec!["--task", "denoise", "--jpeg", "10", "--blind"],
                "drop --sigma",
            ),
            (vec!["--task", "denoise", "--compare", "hf:me"], "--compare"),
        ] {
            let mut args = args.clone();
            args.push(d);
            let err = error(&args);
            assert!(err.contains(want), "{args:?}: {err}");
        }
        let pairs = tempfile::tempdir().unwrap();
        std::fs::create_dir(pairs.path().join("noisy")).unwrap();
        std::fs::create_dir(pairs.path().join("clean")).unwrap();
        let p = pairs.path().to_str().unwrap();
        let err = error(&["--task", "denoise", "--jpeg", "10", p]);
        assert!(
            err.contains("noisy/ + clean/") && err.contains("clean"),
            "{err}"
        );
        let err = error(&["--task", "denoise", "--sigma", "10", "--blind", p]);
        assert!(err.contains("blind by default"), "{err}");
    }
}
