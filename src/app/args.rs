//! Command-line flags (clap derive). These structs only describe flags; `config.rs` turns them
//! into validated settings. Flag groups shared by several commands are `#[command(flatten)]`ed.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "aetool",
    version,
    about = "Restore photos with small convolutional autoencoders: denoise, upscale, colorize, fine-tune."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Remove noise (U-Net conditioned on the noise level).
    Denoise {
        /// Noise level on the 0–255 scale, or `auto` to estimate it per image (camera noise and
        /// JPEG artefacts included). Told a level, a file that is not a JPEG goes to the
        /// Gaussian-noise model (synthetic white noise, clipped as benchmarks clip it).
        #[arg(long, default_value = "auto")]
        sigma: String,
        /// With `--sigma auto`: scale the estimated level (above 1 removes more, below 1 less).
        #[arg(long, default_value_t = 1.0)]
        strength: f32,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Enlarge 2× or 4× (super-resolution autoencoder).
    Upscale {
        /// Scale factor: -x2 or -x4.
        #[arg(short = 'x', long = "scale", value_enum, default_value_t = ScaleArg::X2)]
        scale: ScaleArg,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Add colour to grayscale photos (L → ab autoencoder; the original lightness is kept).
    Colorize {
        /// Short side (pixels) of the working copy colours are predicted at.
        #[arg(long, default_value_t = crate::pipeline::restore::DEFAULT_WORK_SIZE)]
        work_size: u32,
        /// Also colorize photos that already have colour (replacing it); by default they are
        /// skipped with a note.
        #[arg(long)]
        recolor: bool,
        /// Scale the predicted colour's strength (chroma): below 1 gentler, above 1 more vivid
        /// (0.1–3; the lightness is kept either way).
        #[arg(long, default_value_t = 1.0)]
        saturation: f32,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Train on your own photos (self-supervised: degraded copies of them are the inputs).
    Finetune(FinetuneArgs),
    /// Measure PSNR/SSIM against the task's baselines on a folder of clean images (or of
    /// `noisy/` + `clean/` pairs).
    Eval(EvalArgs),
    /// Show the bundled weights, or a weights file / Hub model: task, architecture, size, speed, provenance.
    Info {
        /// A weights file or hf:OWNER/REPO[@REV]/FILE (default: everything bundled).
        model: Option<String>,
    },
}

impl Command {
    /// `-j/--jobs` of the commands that compute.
    pub fn jobs(&self) -> Option<usize> {
        match self {
            Command::Denoise { run, .. }
            | Command::Upscale { run, .. }
            | Command::Colorize { run, .. } => run.model.jobs,
            Command::Finetune(args) => args.jobs,
            Command::Eval(args) => args.model.jobs,
            Command::Info { .. } => None,
        }
    }
}

/// `-x`: the upscaling factors aetool has models for (anything else is refused by clap).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScaleArg {
    #[value(name = "2")]
    X2,
    #[value(name = "4")]
    X4,
}

/// `finetune --degradation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DegradationArg {
    Realistic,
    Classic,
    Jpeg,
    Unclipped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Png,
    Jpg,
    Webp,
    Tiff,
    Bmp,
}

/// `--png-compression`: how hard PNG outputs are compressed (all lossless).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PngCompressionArg {
    /// Fast deflate: several times faster to write, files somewhat larger.
    Fast,
    /// zlib level 6 (what aetool 0.1 wrote).
    Default,
    /// zlib level 9: the smallest files, the slowest to write.
    Best,
}

/// Weights and device flags shared by every command that runs a model.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Local weights file (safetensors written by `aetool finetune`).
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    pub weights: Option<PathBuf>,
    /// Weights from the Hugging Face Hub: hf:OWNER/REPO[@REVISION][/FILE].
    #[arg(long, value_name = "hf:OWNER/REPO")]
    pub model: Option<String>,
    /// A bundled alternative model: `clean` (upscale: trained on clean, bicubic-downscaled input;
    /// best for clean PNG/TIFF sources and benchmarks), `jpeg` (denoise: the JPEG-artefact model
    /// for every photo; by default only JPEGs below quality 70 go to it, the rest to the
    /// camera-noise model). Default: the models for real photos (camera noise, JPEG).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["weights", "model"])]
    pub variant: Option<String>,
    /// auto, cpu, cuda[:N] or metal.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Compute threads (default: all cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}

/// Flags shared by denoise / upscale / colorize.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Image files and/or folders.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output file (one input file) or folder. Default: beside the input (see README).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Tile size in input pixels, or `auto` (from a memory budget).
    #[arg(long, default_value = "auto")]
    pub tile: String,
    /// Context border at the seams between tiles (default: the model's receptive radius); the
    /// photo's own edges get at most 8 pixels of mirrored context.
    #[arg(long)]
    pub tile_pad: Option<usize>,
    /// Most rows of output handed to the encoder at a time (default: a row of tiles). Hidden:
    /// tests use it to write outputs in many small bands; it changes no pixel.
    #[arg(long, hide = true, value_name = "ROWS")]
    pub band_rows: Option<usize>,
    /// Bytes of decoded samples above which PNG and TIFF inputs are decoded a window of rows at
    /// a time (default 256 MiB). Hidden: tests use it to stream small photos; it changes no
    /// pixel.
    #[arg(long, hide = true, value_name = "BYTES")]
    pub stream_above: Option<u64>,
    /// Output format (default: same as the input).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// How hard PNG outputs are compressed (lossless either way); TIFF is written uncompressed.
    #[arg(long, value_enum, default_value_t = PngCompressionArg::Fast)]
    pub png_compression: PngCompressionArg,
    /// Write outputs without the input's EXIF and XMP (camera, date, GPS, copyright…); by
    /// default they are kept, with the orientation reset and the pixel size updated.
    #[arg(long)]
    pub strip_metadata: bool,
    /// Replace existing outputs (default: skip them, so a re-run resumes).
    #[arg(long)]
    pub overwrite: bool,
    /// Only the files directly inside input folders.
    #[arg(long)]
    pub no_recursive: bool,
    /// No progress bar or notes; errors are still printed.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Process only slice I of N (0-based) of the sorted file list, e.g. --shard 3/8.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Refuse images larger than this many megapixels (decompression-bomb guard).
    #[arg(long, default_value_t = 150)]
    pub max_megapixels: u64,
}

#[derive(Args, Debug)]
pub struct FinetuneArgs {
    /// denoise, upscale or colorize.
    #[arg(long, value_enum)]
    pub task: TaskArg,
    /// Scale for upscale: -x2 or -x4.
    #[arg(short = 'x', long = "scale", value_enum, default_value_t = ScaleArg::X2)]
    pub scale: ScaleArg,
    /// Folder of clean photos (searched recursively).
    #[arg(long)]
    pub dir: PathBuf,
    /// Output weights file (default: <dir name>-<task>.safetensors).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Start from: `bundled` (default), `scratch`, a weights file, or hf:OWNER/REPO[...].
    #[arg(long, default_value = "bundled")]
    pub from: String,
    /// Optimisation steps.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Crops per step.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Crop side in (input) pixels.
    #[arg(long)]
    pub patch: Option<u32>,
    /// Peak learning rate (default 3e-4 when fine-tuning, 1e-4 for colorize, 2e-3 from scratch).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Denoise / upscale: what the inputs are degraded with. `realistic`: camera noise, JPEG,
    /// blur and resizing, plus Gaussian noise (what photos on disk look like); `classic`: Gaussian
    /// noise only (denoise) or a clean bicubic downscale (upscale), as in benchmarks; `jpeg`
    /// (denoise): every input a JPEG of quality 10–75, half of them over camera noise (web and
    /// re-saved photos: what the default sends its JPEG-artefact model); `unclipped` (denoise):
    /// Gaussian noise as `classic` but not clipped to the 0–255 range, so the net keeps a
    /// region's mean near black and white, as references of real camera noise (means of many
    /// clipped shots) do: the default's camera-noise model.
    #[arg(long, value_enum, default_value_t = DegradationArg::Realistic)]
    pub degradation: DegradationArg,
    /// Denoise: train only the noise estimator behind `--sigma auto`, the denoiser kept as it
    /// is; each crop's target is the level at which the denoiser restores it best.
    #[arg(long)]
    pub estimator_only: bool,
    /// With --estimator-only: the fidelity, in dB PSNR, past which a crop's restoration stops
    /// counting (the loss is ln(MSE + floor)). Lower reads noise higher and smooths clean photos
    /// more: 40 keeps clean photos intact, 30 restores real camera noise more.
    #[arg(long, value_name = "DB")]
    pub estimator_floor: Option<f64>,
    /// Validate and write a moving average of the weights with this decay per step (e.g.
    /// 0.999: about the last thousand steps) instead of the weights themselves; 0 (default) off.
    #[arg(long, value_name = "D")]
    pub ema: Option<f64>,
    /// Random seed: crops, degradations, validation split and initial weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Continue from the checkpoint beside the output.
    #[arg(long)]
    pub resume: bool,
    /// Validate every N steps.
    #[arg(long, default_value_t = 250)]
    pub val_every: u64,
    /// Checkpoint every N steps (also on Ctrl-C).
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: u64,
    /// auto, cpu, cuda[:N] or metal.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Compute threads (default: all cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// No progress bar or per-step lines; errors and the final report are still printed.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the final report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// denoise, upscale or colorize.
    #[arg(long, value_enum)]
    pub task: TaskArg,
    /// Scale for upscale: -x2 or -x4.
    #[arg(short = 'x', long = "scale", value_enum, default_value_t = ScaleArg::X2)]
    pub scale: ScaleArg,
    /// Denoise: Gaussian noise level(s) added to the clean images, comma-separated (0–255
    /// scale; default 25), the model told each level. On a `noisy/` + `clean/` folder: run the
    /// model at these fixed levels instead of its blind estimate.
    #[arg(long, value_name = "N,N,…")]
    pub sigma: Option<String>,
    /// Denoise: run the model blind (its own noise-level estimate, as `aetool denoise` does by
    /// default) instead of telling it the level added.
    #[arg(long)]
    pub blind: bool,
    /// Denoise, blind runs (`--blind`, `--jpeg`, real noise): scale the model's estimated level,
    /// as `aetool denoise --strength` does (applies to `--compare` too).
    #[arg(long, value_name = "F")]
    pub strength: Option<f32>,
    /// Colorize: scale the predicted colour's chroma, as `aetool colorize --saturation` does
    /// (applies to `--compare` too).
    #[arg(long, value_name = "F")]
    pub saturation: Option<f32>,
    /// JPEG qualities (1–100, comma-separated). Denoise: compress the clean images at each
    /// quality and run the model blind (baseline: the JPEG). Upscale: compress the bicubic
    /// low-resolution copy of each HR image (baseline: bicubic upsampling of the JPEG).
    #[arg(long, value_name = "Q,Q,…")]
    pub jpeg: Option<String>,
    /// Also run these weights (a file, `bundled`, or hf:OWNER/REPO[...]) on the same inputs and
    /// print their figures as `previous` on each line.
    #[arg(long, value_name = "WEIGHTS")]
    pub compare: Option<String>,
    /// Folder of clean images (for upscale, `*_SRF_<s>_HR` / `_LR` pairs are used when present;
    /// for denoise, a folder holding `noisy/` and `clean/` with the same file names is scored
    /// as real noise).
    pub dir: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print per-image rows too.
    #[arg(long)]
    pub per_image: bool,
    /// Also write every model input, output (and `--compare` output) as PNG under
    /// DIR/<setting>/, to look at (e.g. DIR/jpeg-q10/buildings.output.png).
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TaskArg {
    Denoise,
    Upscale,
    Colorize,
}
