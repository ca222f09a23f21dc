//! Self-supervised training (`aetool finetune`): clean photos from a folder become
//! (degraded input, clean target) pairs on the fly; the same code trains the bundled weights.
//!
//! Determinism: batch `s` is drawn from an RNG seeded by `(seed, s)`, so a run resumed from a
//! checkpoint at step `s` sees exactly the batches an uninterrupted run would have seen.

mod batch;
mod checkpoint;
mod colour_targets;
mod data;
mod degrade;
mod ema;
mod guard;
mod loss;
mod model;
#[cfg(feature = "bench")]
pub mod optim;
#[cfg(not(feature = "bench"))]
mod optim;
mod oracle;
mod pairs;
mod tracker;
mod validation;

pub use data::Dataset;
use data::MemoryBudget;
/// JPEG round trip at an IJG quality with 4:2:0 chroma (the training degradation's encoder),
/// for `aetool eval`'s JPEG protocols.
pub(crate) use degrade::{jpeg_decode, jpeg_file};
pub use pairs::{Degradation, Mixture, Pair};

use crate::models::{ModelKind, Task};
use crate::progress::{Kind, Progress};
use crate::weights::Source;
use anyhow::{bail, Context, Result};
use batch::{make_batch, to_tensors, Batch};
use candle_core::{Device, Module, Tensor};
use colour_targets::ColourCoder;
use ema::Ema;
use loss::{class_loss, estimator_loss, l1, ESTIMATOR_WEIGHT};
use model::Model;
use optim::{learning_rate, AdamW, AdamWConfig};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Instant;
use tracker::Tracker;
use validation::Validation;

/// Where training starts from.
#[derive(Clone, Debug)]
pub enum Base {
    /// Fresh random weights of the task's default architecture.
    Scratch,
    /// Existing weights (bundled, a file, or the Hub).
    Weights(Source),
}

/// Hyper-parameters that define a run; stored in checkpoints (a resume must match them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hyper {
    pub task: Task,
    pub scale: usize,
    /// Total optimisation steps.
    pub steps: u64,
    pub batch: usize,
    /// Side of the model's input crop in pixels (low-resolution side for upscale).
    pub patch: u32,
    /// Peak learning rate.
    pub lr: f64,
    pub warmup: u64,
    pub seed: u64,
    /// Global gradient-norm clip.
    pub clip: f64,
    /// What each clean crop is degraded with (`--degradation`). Checkpoints written before this
    /// field stored three flags instead (`realistic`, `coarse_jpeg`, `unclipped_noise`), which
    /// [`checkpoint::load`] reads as this.
    pub mixture: Mixture,
    /// Denoise: train only the noise estimator, towards the level at which the (frozen)
    /// denoiser restores each crop best (see [`oracle`]); validation then scores the denoiser
    /// at the estimated level. Checkpoints written before this field: false.
    #[serde(default)]
    pub estimator_only: bool,
    /// With `estimator_only`: the PSNR (dB) past which a crop's restoration stops counting
    /// (see [`oracle::restoration_loss`]). Checkpoints written before this field: 40.
    #[serde(default = "oracle::default_floor_db")]
    pub estimator_floor_db: f64,
    /// Decay of the moving average of the weights that is validated and written (see [`ema`]);
    /// 0: none, the weights themselves. Checkpoints written before this field: 0.
    #[serde(default)]
    pub ema: f64,
}

impl Hyper {
    /// The kind's default settings; `from_scratch` raises the learning rate.
    pub fn defaults(kind: ModelKind, from_scratch: bool) -> Self {
        let d = kind.train_defaults();
        Self {
            task: kind.task(),
            scale: kind.scale(),
            steps: 2000,
            batch: d.batch,
            patch: d.patch,
            lr: match (from_scratch, kind.task()) {
                (true, _) => 2e-3,
                // The colour classifier forgets its palette fast on a small folder: on the README's
                // dog experiment 1e-4 gained +1.64 dB over the base where 3e-4 gained +1.11.
                (false, Task::Colorize) => 1e-4,
                (false, _) => 3e-4,
            },
            warmup: 100,
            seed: 0,
            clip: 1.0,
            mixture: match kind.task() {
                Task::Colorize => Mixture::Classic,
                _ => Mixture::Realistic,
            },
            estimator_only: false,
            estimator_floor_db: oracle::default_floor_db(),
            ema: 0.0,
        }
    }

    /// The model kind trained (`task` and `scale` are what checkpoints store).
    pub fn kind(&self) -> ModelKind {
        ModelKind::new(self.task, self.scale).expect("a validated task and scale")
    }

    /// Range of the random pre-crop downscale (see [`data::random_crop`]).
    fn zoom(&self) -> (f32, f32) {
        self.kind().train_defaults().zoom
    }

    /// A random training crop of `side` pixels: restoration tasks zoom into detail (flipped and
    /// rotated); colorize sees most of the scene, upright (see [`data::context_crop`]).
    fn crop(
        &self,
        img: &image::RgbImage,
        side: u32,
        rng: &mut impl rand::Rng,
    ) -> image::Rgb32FImage {
        match self.task {
            Task::Colorize => data::context_crop(img, side, COLORIZE_CONTEXT, rng),
            _ => data::random_crop(img, side, self.zoom(), rng),
        }
    }

    /// Shortest side a training photo needs: colorize scales whole scenes down to the crop;
    /// the others cut validation crops of twice the patch at full resolution.
    fn min_side(&self) -> u32 {
        match self.task {
            Task::Colorize => self.patch,
            _ => self.degradation(None).clean_side(self.patch * 2),
        }
    }

    fn degradation(&self, sigma: Option<f32>) -> Degradation {
        Degradation {
            kind: self.kind(),
            sigma,
            mixture: self.mixture,
        }
    }
}

/// Share of the photo's short side a colorize training crop covers.
const COLORIZE_CONTEXT: (f32, f32) = (0.6, 1.0);

/// Everything `finetune` needs.
pub struct TrainConfig {
    pub hyper: Hyper,
    pub dir: PathBuf,
    pub output: PathBuf,
    pub base: Base,
    pub resume: bool,
    /// Validate every this many steps (and at the end).
    pub val_every: u64,
    /// Checkpoint every this many steps (and on Ctrl-C).
    pub checkpoint_every: u64,
    pub device: Device,
    pub quiet: bool,
}

impl TrainConfig {
    /// `<output stem>.ckpt.safetensors` beside the output.
    pub fn checkpoint_path(&self) -> PathBuf {
        let stem = self
            .output
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "aetool".into());
        self.output
            .with_file_name(format!("{stem}.ckpt.safetensors"))
    }
}

/// What a run achieved.
#[derive(Debug, Serialize)]
pub struct TrainReport {
    pub steps: u64,
    pub final_loss: f32,
    /// Validation PSNR (dB) of the weights written (the best validation of the run), of the
    /// base model before step 1 (when known) and of the task's baseline (the degraded input /
    /// bicubic / grey), on the held-out crops.
    pub val_psnr: f64,
    pub base_val_psnr: Option<f64>,
    pub val_baseline_psnr: f64,
    /// Step whose weights were written (0: the base weights; no step improved on them).
    pub best_step: u64,
    pub seconds: f64,
    pub interrupted: bool,
}

/// Runs (or resumes) training and writes the output weights.
pub fn run(cfg: &TrainConfig) -> Result<TrainReport> {
    let h = &cfg.hyper;
    let started = Instant::now();
    let mut model = Model::start(cfg)?;
    if h.estimator_only {
        model.freeze_net(&cfg.device)?;
    }
    let vars = model.trained_vars(h);
    let mut opt = AdamW::new(vars.clone(), AdamWConfig::default())?;
    let mut ema = (h.ema > 0.0).then(|| Ema::new(&vars, h.ema)).transpose()?;
    let (start, resumed_base) = if cfg.resume {
        checkpoint::load(
            &cfg.checkpoint_path(),
            h,
            &model.spec,
            &vars,
            (&mut opt, ema.as_mut()),
            &cfg.device,
        )?
    } else {
        (0, None)
    };
    let budget = MemoryBudget::default();
    let data = Dataset::load(
        &cfg.dir,
        h.min_side(),
        h.task == Task::Colorize,
        h.seed,
        budget,
    )?;
    let progress = Progress::new(Kind::Steps, h.steps, cfg.quiet);
    announce(&progress, cfg, &model, &data, budget);
    let val = Validation::new(&data, h, &cfg.device)?;
    let coder = ColourCoder::for_spec(&model.spec, &data)?;
    // The weights training starts from (base or checkpoint) are the first candidate for "best".
    let mut tracker = Tracker::new(resumed_base);
    let (now, _) = validate(
        &model,
        h,
        &vars,
        ema.as_ref(),
        (&val, coder.as_ref()),
        &mut tracker,
        start,
    )?;
    if start == 0 {
        tracker.base = Some(now);
        progress.note(format!(
            "step 0 (base {}): validation PSNR {now:.2} dB (degraded input {:.2} dB)",
            model.base_name, val.baseline_psnr
        ));
    }
    progress.bar().set_position(start);
    let outcome = train_steps(
        cfg,
        &model,
        (&mut opt, ema.as_mut()),
        &data,
        (&val, coder.as_ref()),
        &mut tracker,
        &progress,
        start,
    )?;
    progress.finish();
    let (best_step, best_psnr) = tracker.best().unwrap_or((opt.step, outcome.val_psnr));
    let report = TrainReport {
        steps: opt.step,
        final_loss: outcome.loss,
        val_psnr: best_psnr,
        base_val_psnr: tracker.base,
        val_baseline_psnr: val.baseline_psnr,
        best_step,
        seconds: started.elapsed().as_secs_f64(),
        interrupted: outcome.interrupted,
    };
    if !outcome.interrupted {
        verdict(&progress, &tracker, &report);
        let improved = tracker.improved();
        let tensors = tracker
            .into_best_tensors()
            .unwrap_or_else(|| model.tensors());
        write_output(cfg, &model, tensors, &data, &report, improved)?;
    }
    if report.steps == 0 && h.steps > 0 {
        bail!("no training step ran");
    }
    Ok(report)
}

/// Notes before the first step: skipped photos, photos left out for memory, what is trained.
fn announce(
    progress: &Progress,
    cfg: &TrainConfig,
    model: &Model,
    data: &Dataset,
    budget: MemoryBudget,
) {
    if let Some(note) = &model.warm_start {
        progress.note(note.clone());
    }
    for (f, why) in &data.skipped {
        progress.note(format!("aetool: skipping {}: {why}", f.display()));
    }
    if data.left_out > 0 {
        progress.note(format!(
            "aetool: {} images left out to keep the photos held within {} MiB (a random subset chosen by --seed is used)",
            data.left_out,
            (budget.max_pixels_total * 3) >> 20
        ));
    }
    if cfg.hyper.estimator_only {
        progress.note(
            "aetool: training the noise estimator only (the denoiser stays as it is); validation PSNR is the denoiser's mean at the estimated levels",
        );
    }
    progress.note(format!(
        "aetool: training {} ({} params, {:.0} MAC/px) on {} images ({} held out) from {}, base {}",
        model.spec.name(),
        model.net.params(),
        model.net.macs_per_pixel(),
        data.train.len(),
        data.val.len(),
        cfg.dir.display(),
        model.base_name
    ));
}

/// Says which weights are written and whether fine-tuning helped, plainly.
fn verdict(progress: &Progress, tracker: &Tracker, report: &TrainReport) {
    if report.best_step != report.steps {
        progress.note(format!(
            "aetool: the held-out photos scored best after step {} ({:.2} dB): writing those weights",
            report.best_step, report.val_psnr
        ));
    }
    if let (false, Some(base)) = (tracker.improved(), tracker.base) {
        progress.note(format!(
            "aetool: fine-tuning did NOT improve on the base model on the held-out photos ({:.2} dB vs {base:.2} dB): too few photos, too many steps or too high a --lr? The output keeps the best weights found",
            report.val_psnr
        ));
    }
}

/// How the step loop ended.
struct Outcome {
    /// Smoothed training loss.
    loss: f32,
    val_psnr: f64,
    interrupted: bool,
}

/// Steps `start..steps`: batches made on a helper thread one or two steps ahead of the
/// optimiser; validation every `val_every` steps, a checkpoint every `checkpoint_every` steps
/// and on Ctrl-C (which ends the loop).
#[allow(clippy::too_many_arguments)]
fn train_steps(
    cfg: &TrainConfig,
    model: &Model,
    (opt, mut ema): (&mut AdamW, Option<&mut Ema>),
    data: &Dataset,
    (val, coder): (&Validation, Option<&ColourCoder>),
    tracker: &mut Tracker,
    progress: &Progress,
    start: u64,
) -> Result<Outcome> {
    let (h, device) = (&cfg.hyper, &cfg.device);
    let ckpt_path = cfg.checkpoint_path();
    let vars = model.trained_vars(h);
    let (tx, rx) = mpsc::sync_channel::<Batch>(2);
    let steps = h.steps;
    std::thread::scope(|scope| -> Result<Outcome> {
        scope.spawn(move || {
            for step in start..steps {
                if tx.send(make_batch(data, h, step, coder)).is_err() {
                    break;
                }
            }
        });
        let mut loss_ema = f32::NAN;
        let mut val_psnr = f64::NAN;
        let t0 = Instant::now();
        let mut interrupted = false;
        for step in start..steps {
            let batch = rx.recv().context("batch producer stopped")?;
            let (x, y) = to_tensors(&batch, h, h.batch, device)?;
            let loss = step_loss(model, h, &batch, &x, &y)?;
            let grads = loss.backward()?;
            let norm = opt.grad_norm(&grads)? as f64;
            guard::ensure_finite(loss.to_scalar::<f32>()?, norm, step + 1, h.lr)?;
            let scale = if norm > h.clip { h.clip / norm } else { 1.0 };
            opt.step(
                &grads,
                learning_rate(step, steps, h.warmup, h.lr, 0.02),
                scale,
            )?;
            guard::ensure_finite_weights(&model.named_vars(), step + 1, h.lr)?;
            if let Some(ema) = ema.as_deref_mut() {
                ema.update(&vars, step + 1)?;
            }
            let l = loss.to_scalar::<f32>()?;
            loss_ema = if loss_ema.is_nan() {
                l
            } else {
                0.95 * loss_ema + 0.05 * l
            };
            let done = step + 1;
            if done % cfg.val_every == 0 || done == steps {
                let ema = ema.as_deref();
                let off;
                (val_psnr, off) = validate(model, h, &vars, ema, (val, coder), tracker, done)?;
                let estimate = match off {
                    Some(off) => format!(", σ estimate off by {off:.2}"),
                    None => String::new(),
                };
                progress.note(format!(
                    "step {done}: loss {loss_ema:.5}, validation PSNR {val_psnr:.2} dB ({}degraded input {:.2} dB){estimate}, {:.2} s/step",
                    tracker.versus_base(val_psnr),
                    val.baseline_psnr,
                    t0.elapsed().as_secs_f64() / (done - start) as f64
                ));
            }
            interrupted = crate::interrupt::requested();
            if done % cfg.checkpoint_every == 0 || interrupted {
                let (base, ema) = (tracker.base, ema.as_deref());
                checkpoint::save(&ckpt_path, h, &model.spec, done, base, &vars, (opt, ema))?;
            }
            progress.bar().set_position(done);
            progress
                .bar()
                .set_message(format!("loss {loss_ema:.5} | val {val_psnr:.2} dB"));
            if interrupted {
                progress.note(format!(
                    "aetool: checkpoint saved at step {done}: {} (continue with --resume)",
                    ckpt_path.display()
                ));
                break;
            }
        }
        drop(rx);
        if !interrupted && (val_psnr.is_nan() || start == steps) {
            let ema = ema.as_deref();
            val_psnr = validate(model, h, &vars, ema, (val, coder), tracker, steps)?.0;
        }
        Ok(Outcome {
            loss: loss_ema,
            val_psnr,
            interrupted,
        })
    })
}

/// Scores the weights after `step` steps on the held-out crops (the moving average's, with
/// `--ema`) and records them with `tracker`; returns the score and, for a denoiser with an
/// estimator, the estimator's mean error (0–255 scale).
fn validate(
    model: &Model,
    h: &Hyper,
    vars: &[(String, candle_core::Var)],
    ema: Option<&Ema>,
    (val, coder): (&Validation, Option<&ColourCoder>),
    tracker: &mut Tracker,
    step: u64,
) -> Result<(f64, Option<f64>)> {
    let mut score = || -> Result<(f64, Option<f64>)> {
        let psnr = val.score(model, h, coder)?;
        tracker.record(step, psnr, model)?;
        let off = model.estimator.as_ref().map(|e| val.estimator_error(e));
        Ok((psnr, off.transpose()?))
    };
    match ema {
        Some(ema) => ema.with_average(vars, score),
        None => score(),
    }
}

/// The loss of one batch: the task's loss (soft cross-entropy for the colour classifier), plus
/// the noise estimator's when there is one; with `estimator_only`, the frozen denoiser's error
/// at the estimator's levels (see [`oracle`]).
fn step_loss(model: &Model, h: &Hyper, batch: &Batch, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    if h.estimator_only {
        let est = model
            .estimator
            .as_ref()
            .context("--estimator-only: the denoiser has no estimator")?;
        return oracle::restoration_loss(&model.net, est, x, y, h.estimator_floor_db);
    }
    let out = model.net.forward(x)?;
    let mut total = match &batch.classes {
        Some(t) => class_loss(&out, t)?,
        None => l1(&out, y)?,
    };
    if let Some(est) = &model.estimator {
        let levels = Tensor::from_slice(&batch.levels, batch.levels.len(), x.device())?;
        let pred = est.forward(&x.narrow(3, 0, 3)?.contiguous()?)?;
        total = (total + (estimator_loss(&pred, &levels)? * ESTIMATOR_WEIGHT)?)?;
    }
    Ok(total)
}

/// The base weights by name: `bundled:…` and `hf:…` as they are, a local file by its file name.
fn base_label(origin: &str) -> String {
    if origin.starts_with("bundled:") || origin.starts_with("hf:") || origin == "scratch" {
        return origin.to_string();
    }
    std::path::Path::new(origin)
        .file_name()
        .map_or_else(|| origin.to_string(), |n| n.to_string_lossy().into_owned())
}

/// Writes the trained weights with their provenance: the data set by name (the folder and the
/// collections in it), never a path on the training machine.
fn write_output(
    cfg: &TrainConfig,
    model: &Model,
    tensors: Vec<(String, Tensor)>,
    data: &Dataset,
    report: &TrainReport,
    improved: bool,
) -> Result<()> {
    let provenance = serde_json::json!({
        "steps": report.steps,
        "best_step": report.best_step,
        "base": base_label(&model.base_name),
        "data": data.description(&cfg.dir),
        "train_images": data.train.len(),
        "val_images": data.val.len(),
        "val_psnr": report.val_psnr,
        "base_val_psnr": report.base_val_psnr,
        "improved_on_base": improved,
        "val_baseline_psnr": report.val_baseline_psnr,
        "hyper": cfg.hyper,
        "created_by": format!("aetool {}", env!("CARGO_PKG_VERSION")),
    });
    crate::weights::save(&cfg.output, &tensors, &model.spec, &provenance)
}
