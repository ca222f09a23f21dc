//! Self-supervised training (`aetool finetune`): clean photos from a folder become
//! (degraded input, clean target) pairs on the fly; the same code trains the bundled weights.
//!
//! Determinism: batch `s` is drawn from an RNG seeded by `(seed, s)`, so a run resumed from a
//! checkpoint at step `s` sees exactly the batches an uninterrupted run would have seen.

mod checkpoint;
mod data;
mod loss;
mod optim;
mod pairs;

pub use data::Dataset;
use data::MemoryBudget;
pub use pairs::{Degradation, Pair};

use crate::models::{ModelSpec, Net, Task};
use crate::progress::{Kind, Progress};
use crate::weights::{self, Source, Want};
use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{VarBuilder, VarMap};
use image::imageops::{self, FilterType};
use loss::{loss, DEFAULT_CHROMA_WEIGHT};
use optim::{learning_rate, AdamW, AdamWConfig};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Instant;

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
    /// Weight of the colourfulness term of the colorize loss (see [`loss`]); 0 for other tasks.
    /// Checkpoints written before this field existed used 1.0.
    #[serde(default = "legacy_chroma_weight")]
    pub chroma_weight: f64,
}

fn legacy_chroma_weight() -> f64 {
    1.0
}

impl Hyper {
    /// Defaults per task; `from_scratch` raises the learning rate.
    pub fn defaults(task: Task, scale: usize, from_scratch: bool) -> Self {
        let (patch, batch) = match task {
            Task::Denoise => (64, 16),
            Task::Upscale => (if scale == 2 { 32 } else { 24 }, 16),
            Task::Colorize => (128, 16),
        };
        Self {
            task,
            scale,
            steps: 2000,
            batch,
            patch,
            lr: if from_scratch { 2e-3 } else { 3e-4 },
            warmup: 100,
            seed: 0,
            clip: 1.0,
            chroma_weight: if task == Task::Colorize {
                DEFAULT_CHROMA_WEIGHT
            } else {
                0.0
            },
        }
    }

    /// Range of the random pre-crop downscale (see [`data::random_crop`]).
    fn zoom(&self) -> (f32, f32) {
        match self.task {
            Task::Colorize => (0.5, 0.8),
            _ => (0.5, 1.0),
        }
    }

    fn degradation(&self, sigma: Option<f32>) -> Degradation {
        Degradation {
            task: self.task,
            scale: self.scale,
            sigma,
        }
    }
}

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
    /// Validation PSNR (dB) of the model and of the task's baseline (noisy input at σ 25 /
    /// bicubic / grey), on the held-out crops.
    pub val_psnr: f64,
    pub val_baseline_psnr: f64,
    pub seconds: f64,
    pub interrupted: bool,
}

/// A batch of `n` pairs: `([N, h, w, C_in], [N, H, W, C_out])`.
struct Batch {
    input: Vec<f32>,
    target: Vec<f32>,
}

fn make_batch(data: &Dataset, h: &Hyper, step: u64) -> Batch {
    let mut rng =
        rand::rngs::StdRng::seed_from_u64(h.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step);
    let deg = h.degradation(None);
    let side = deg.clean_side(h.patch);
    let mut batch = Batch {
        input: Vec::new(),
        target: Vec::new(),
    };
    for _ in 0..h.batch {
        let img = &data.train[rng.random_range(0..data.train.len())];
        let clean = data::random_crop(img, side, h.zoom(), &mut rng);
        let pair = deg.apply(&clean, &mut rng);
        batch.input.extend(pair.input);
        batch.target.extend(pair.target);
    }
    batch
}

fn to_tensors(b: &Batch, h: &Hyper, n: usize, device: &Device) -> Result<(Tensor, Tensor)> {
    let (ci, co) = h.degradation(None).channels();
    let p = h.patch as usize;
    let hr = p * h.scale;
    Ok((
        Tensor::from_vec(b.input.clone(), (n, p, p, ci), device)?,
        Tensor::from_vec(b.target.clone(), (n, hr, hr, co), device)?,
    ))
}

/// Mean-squared error → PSNR for values in `[0, 1]`.
fn psnr01(mse: f64) -> f64 {
    10.0 * (1.0 / mse.max(1e-12)).log10()
}

/// Fixed validation set: centre crops of the held-out images with a fixed degradation
/// (σ = 25 for denoise), plus the baseline's PSNR on it.
struct Validation {
    input: Tensor,
    target: Tensor,
    baseline_psnr: f64,
}

impl Validation {
    fn new(data: &Dataset, h: &Hyper, device: &Device) -> Result<Self> {
        let deg = h.degradation(Some(25.0));
        let side = deg.clean_side(h.patch * 2);
        let zoom = (h.zoom().0 + h.zoom().1) / 2.0;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED);
        let mut batch = Batch {
            input: Vec::new(),
            target: Vec::new(),
        };
        let mut baseline_se = 0f64;
        for img in &data.val {
            let clean = data::center_crop(img, side, zoom);
            let pair = deg.apply(&clean, &mut rng);
            let base: Vec<f32> = match h.task {
                Task::Denoise => pair.input.chunks(4).flat_map(|p| p[..3].to_vec()).collect(),
                Task::Upscale => {
                    let lr_side = side / h.scale as u32;
                    let lr = image::Rgb32FImage::from_raw(lr_side, lr_side, pair.input.clone())
                        .expect("sized buffer");
                    imageops::resize(&lr, side, side, FilterType::CatmullRom).into_raw()
                }
                Task::Colorize => vec![0.0; pair.target.len()],
            };
            baseline_se += base
                .iter()
                .zip(&pair.target)
                .map(|(a, b)| ((a.clamp(-1.0, 1.0) - b) as f64).powi(2))
                .sum::<f64>();
            batch.input.extend(pair.input);
            batch.target.extend(pair.target);
        }
        let hv = Hyper {
            patch: h.patch * 2,
            ..h.clone()
        };
        let (input, target) = to_tensors(&batch, &hv, data.val.len(), device)?;
        let baseline_psnr = psnr01(baseline_se / target.elem_count() as f64);
        Ok(Self {
            input,
            target,
            baseline_psnr,
        })
    }

    /// PSNR of the model on the validation crops (colorize: on the ab planes, ±1 range).
    fn psnr(&self, net: &Net) -> Result<f64> {
        let n = self.input.dim(0)?;
        let mut se = 0f64;
        for i in (0..n).step_by(4) {
            let len = 4.min(n - i);
            let out = net
                .forward(&self.input.narrow(0, i, len)?.detach())?
                .clamp(-1f32, 1f32)?;
            let d = (out - self.target.narrow(0, i, len)?)?;
            se += d.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
        Ok(psnr01(se / self.target.elem_count() as f64))
    }
}

/// A [`VarMap`] backend that draws new variables' initial values from a seeded RNG (in the
/// order the network asks for them), so a `--from scratch` run is reproducible.
struct SeededInit {
    map: VarMap,
    rng: std::sync::Mutex<rand::rngs::StdRng>,
}

impl candle_nn::var_builder::SimpleBackend for SeededInit {
    fn get(
        &self,
        shape: candle_core::Shape,
        name: &str,
        init: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        use candle_nn::init::NormalOrUniform;
        use candle_nn::Init;
        if self
            .map
            .data()
            .lock()
            .expect("varmap lock")
            .contains_key(name)
        {
            return self.map.get(shape, name, init, dtype, dev);
        }
        let n = shape.elem_count();
        let mut guard = self.rng.lock().expect("init rng lock");
        let rng = &mut *guard;
        let uniform = |rng: &mut rand::rngs::StdRng, lo: f64, up: f64| -> Vec<f32> {
            (0..n).map(|_| rng.random_range(lo..up) as f32).collect()
        };
        let normal = |rng: &mut rand::rngs::StdRng, mean: f64, std: f64| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    let z: f64 = rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng);
                    (mean + z * std) as f32
                })
                .collect()
        };
        let values: Vec<f32> = match init {
            Init::Const(c) => vec![c as f32; n],
            Init::Uniform { lo, up } => uniform(rng, lo, up),
            Init::Randn { mean, stdev } => normal(rng, mean, stdev),
            Init::Kaiming {
                dist,
                fan,
                non_linearity,
            } => {
                let std = non_linearity.gain() / (fan.for_shape(&shape) as f64).sqrt();
                match dist {
                    NormalOrUniform::Uniform => {
                        let bound = 3f64.sqrt() * std;
                        uniform(rng, -bound, bound)
                    }
                    NormalOrUniform::Normal => normal(rng, 0.0, std),
                }
            }
        };
        let var =
            candle_core::Var::from_tensor(&Tensor::from_vec(values, shape, dev)?.to_dtype(dtype)?)?;
        let tensor = var.as_tensor().clone();
        self.map
            .data()
            .lock()
            .expect("varmap lock")
            .insert(name.to_string(), var);
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("{name}: a fresh model's variables need a shape")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.map
            .data()
            .lock()
            .expect("varmap lock")
            .contains_key(name)
    }
}

/// Runs (or resumes) training and writes the output weights.
pub fn run(cfg: &TrainConfig) -> Result<TrainReport> {
    let h = &cfg.hyper;
    let want = Want {
        task: h.task,
        scale: h.scale,
    };
    let device = &cfg.device;
    let started = Instant::now();

    // Model: spec and initial values from the base weights (or fresh).
    let (spec, base_name, base_tensors) = match &cfg.base {
        Base::Scratch => (
            ModelSpec::default_for(h.task, h.scale),
            "scratch".to_string(),
            None,
        ),
        Base::Weights(src) => {
            let (spec, origin, tensors) = weights::load_tensors(src, want, device)?;
            (spec, origin, Some(tensors))
        }
    };
    let varmap = VarMap::new();
    // Fresh weights are drawn from the run's seed: candle's CPU RNG cannot be seeded, so with
    // `from_varmap` two `--from scratch` runs with the same `--seed` would differ.
    let vb = match &cfg.base {
        Base::Scratch => VarBuilder::from_backend(
            Box::new(SeededInit {
                map: varmap.clone(),
                rng: std::sync::Mutex::new(rand::rngs::StdRng::seed_from_u64(
                    h.seed ^ 0xA5A5_1D1D_5EED_0001,
                )),
            }),
            DType::F32,
            device.clone(),
        ),
        Base::Weights(_) => VarBuilder::from_varmap(&varmap, DType::F32, device),
    };
    let net = Net::new(vb, &spec)?;
    let named_vars = || -> Vec<(String, candle_core::Var)> {
        let map = varmap.data().lock().expect("varmap lock");
        let mut v: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    if let Some(tensors) = &base_tensors {
        for (name, var) in named_vars() {
            let t = tensors
                .get(&name)
                .ok_or_else(|| anyhow!("{base_name}: missing tensor `{name}`"))?;
            var.set(t)?;
        }
    }
    let mut opt = AdamW::new(named_vars(), AdamWConfig::default())?;

    let ckpt_path = cfg.checkpoint_path();
    let mut start = 0;
    if cfg.resume {
        start = checkpoint::load(&ckpt_path, h, &spec, &named_vars(), &mut opt, device)?;
    }

    let budget = MemoryBudget::default();
    let data = Dataset::load(
        &cfg.dir,
        h.degradation(None).clean_side(h.patch * 2),
        h.seed,
        budget,
    )?;
    let progress = Progress::new(Kind::Steps, h.steps, cfg.quiet);
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
    progress.note(format!(
        "aetool: training {} ({} params, {:.0} MAC/px) on {} images ({} held out) from {}, base {base_name}",
        spec.name(),
        net.params(),
        net.macs_per_pixel(),
        data.train.len(),
        data.val.len(),
        cfg.dir.display()
    ));
    let val = Validation::new(&data, h, device)?;
    progress.bar().set_position(start);

    // Batches are made on a helper thread, one or two steps ahead of the optimiser.
    let (tx, rx) = mpsc::sync_channel::<Batch>(2);
    let steps = h.steps;
    let last_loss = std::thread::scope(|scope| -> Result<(f32, f64, bool)> {
        let data = &data;
        scope.spawn(move || {
            for step in start..steps {
                if tx.send(make_batch(data, h, step)).is_err() {
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
            let loss = loss(h, &net.forward(&x)?, &y)?;
            let grads = loss.backward()?;
            let norm = opt.grad_norm(&grads)? as f64;
            let scale = if norm > h.clip { h.clip / norm } else { 1.0 };
            opt.step(
                &grads,
                learning_rate(step, steps, h.warmup, h.lr, 0.02),
                scale,
            )?;
            let l = loss.to_scalar::<f32>()?;
            loss_ema = if loss_ema.is_nan() {
                l
            } else {
                0.95 * loss_ema + 0.05 * l
            };
            let done = step + 1;
            if done % cfg.val_every == 0 || done == steps {
                val_psnr = val.psnr(&net)?;
                progress.note(format!(
                    "step {done}: loss {loss_ema:.5}, validation PSNR {val_psnr:.2} dB (baseline {:.2} dB), {:.2} s/step",
                    val.baseline_psnr,
                    t0.elapsed().as_secs_f64() / (done - start) as f64
                ));
            }
            interrupted = crate::interrupt::requested();
            if done % cfg.checkpoint_every == 0 || interrupted {
                checkpoint::save(&ckpt_path, h, &spec, done, &named_vars(), &opt)?;
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
            val_psnr = val.psnr(&net)?;
        }
        Ok((loss_ema, val_psnr, interrupted))
    })?;
    progress.finish();
    let (final_loss, val_psnr, interrupted) = last_loss;
    let report = TrainReport {
        steps: opt.step,
        final_loss,
        val_psnr,
        val_baseline_psnr: val.baseline_psnr,
        seconds: started.elapsed().as_secs_f64(),
        interrupted,
    };
    if !interrupted {
        let provenance = serde_json::json!({
            "steps": opt.step,
            "base": base_name,
            "data": cfg.dir.display().to_string(),
            "train_images": data.train.len(),
            "val_images": data.val.len(),
            "val_psnr": val_psnr,
            "val_baseline_psnr": val.baseline_psnr,
            "hyper": h,
            "created_by": format!("aetool {}", env!("CARGO_PKG_VERSION")),
        });
        let tensors: Vec<(String, Tensor)> = named_vars()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().clone()))
            .collect();
        weights::save(&cfg.output, &tensors, &spec, &provenance)?;
    }
    if report.steps == 0 && h.steps > 0 {
        bail!("no training step ran");
    }
    Ok(report)
}
