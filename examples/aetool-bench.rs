//! CPU benchmark of aetool's convolution paths: stock candle conv2d, the im2col path, the fused
//! implicit-GEMM op (the direct path) and Winograd F(4×4, 3×3) (the product's path), side by side
//! in one run (interleaved, medians of `--reps` runs).
//!
//! ```text
//! cargo run --release --example aetool-bench -- [--reps N] [--only ops|layers|models]
//!     [--models denoise,upscale-x2,upscale-x4,colorize] [--impls candle,im2col,fused,winograd]
//! ```
//!
//! Prints, per op shape and per shipped model: forward MP/s on one 512×512 image (for upscale: a
//! 512×512 *output*), training step time (forward + MSE + backward + AdamW) at batch 16 of 64×64
//! (upscale: 48×48 low-resolution inputs), GFLOP/s, and peak memory: how far the resident set
//! grew above its size just before a cold run (freed heap handed back first), i.e. the working
//! memory of that forward pass or training step, with that cold run's time. The timed runs are
//! warm (no heap trim between them), as a folder's photos run one after another; until the
//! ninth session every timed run was cold, on both sides (`scripts/bench_torch.py` too).
//! `winograd` is the product's path: a forward pass
//! of loaded weights runs their 3×3 convs through Winograd prepared once
//! (`Net::prepare_inference`), a training step through the fused op, whose forward and `dx` convs
//! use Winograd too (`dw` stays the implicit GEMM); `fused` is the direct path everywhere.
//! `layers` compares the two on every 3×3 conv shape of the shipped models. GFLOP/s always count
//! the direct conv's multiply-adds, so Winograd's figure is an effective rate.
//! The machine's load average is printed too: other jobs sharing the cores slow every path.

use aetool::models::{ModelKind, ModelSpec, Net};
use aetool::ops::{conv2d_nhwc, im2col, set_conv_impl, ConvImpl, Winograd};
use aetool::train::optim::{AdamW, AdamWConfig};
use anyhow::{bail, Result};
use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use std::time::Instant;

/// The `aetool` binary's allocator (src/main.rs), so the benchmark times what the product runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const IMPLS: [ConvImpl; 4] = [
    ConvImpl::Candle,
    ConvImpl::Im2col,
    ConvImpl::Fused,
    ConvImpl::Winograd,
];

fn impl_name(i: ConvImpl) -> &'static str {
    match i {
        ConvImpl::Candle => "candle conv2d (stock)",
        ConvImpl::Im2col => "im2col + matmul",
        ConvImpl::Fused => "fused implicit GEMM",
        ConvImpl::Winograd => "winograd F(4x4,3x3)",
    }
}

/// Resets the kernel's peak-RSS counter of this process (Linux); false where unsupported.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A `/proc/self/status` field in MiB (`VmHWM`: peak RSS since the last reset, `VmRSS`: now).
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// CPU time of the whole process (all threads) in seconds: next to wall time it shows the work
/// done when other jobs share the cores (spin-waiting counts as work here).
fn process_cpu_secs() -> f64 {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct Timespec {
            tv_sec: i64,
            tv_nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clk: i32, tp: *mut Timespec) -> i32;
        }
        const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
        let mut ts = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec (64-bit Linux layout).
        if unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) } == 0 {
            return ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9;
        }
    }
    f64::NAN
}

/// Hands freed heap memory back to the kernel, so that the RSS before a run is its live data:
/// mimalloc's (the global allocator) and glibc's (whatever C code allocated through it).
fn trim_heap() {
    extern "C" {
        /// mimalloc's own collection (`mi_collect`, linked in by the `mimalloc` crate).
        fn mi_collect(force: bool);
    }
    // SAFETY: mi_collect has no preconditions; `force` frees every page the thread can.
    unsafe {
        mi_collect(true);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's malloc_trim has no preconditions.
        unsafe {
            malloc_trim(0);
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// What one implementation measured: median wall and CPU seconds of the timed runs, peak memory
/// growth (MiB) and the wall seconds of the cold run.
struct Row {
    secs: f64,
    cpu: f64,
    rss: f64,
    cold: f64,
}

/// Runs `f` for each implementation: a warm-up, then one **cold** run after handing freed heap
/// back to the kernel (its peak memory growth is the working memory; its time includes faulting
/// fresh pages in), then `reps` timed runs interleaved across implementations without trimming —
/// the steady state of a tool working through a folder, which reuses freed memory.
fn measure<F: FnMut(ConvImpl) -> Result<()>>(
    impls: &[ConvImpl],
    reps: usize,
    mut f: F,
) -> Result<Vec<Row>> {
    // Per implementation: (peak memory growth, cold seconds).
    let mut cold = Vec::new();
    for &imp in impls {
        f(imp)?; // warm-up (thread pool, lazily built tables)
        trim_heap();
        reset_peak_rss();
        let before = status_mib("VmRSS:");
        let t = Instant::now();
        f(imp)?;
        cold.push((status_mib("VmHWM:") - before, t.elapsed().as_secs_f64()));
    }
    let mut samples = vec![(Vec::new(), Vec::new()); impls.len()];
    for _ in 0..reps {
        for ((secs, cpu), &imp) in samples.iter_mut().zip(impls) {
            let (t, c) = (Instant::now(), process_cpu_secs());
            f(imp)?;
            secs.push(t.elapsed().as_secs_f64());
            cpu.push(process_cpu_secs() - c);
        }
    }
    Ok(samples
        .into_iter()
        .zip(cold)
        .map(|((mut secs, mut cpu), (rss, cold))| Row {
            secs: median(&mut secs),
            cpu: median(&mut cpu),
            rss,
            cold,
        })
        .collect())
}

fn print_rows(title: &str, impls: &[ConvImpl], rows: &[Row], work: impl Fn(f64) -> String) {
    println!("{title}");
    let (base, base_cpu) = (rows[0].secs, rows[0].cpu);
    for (&imp, r) in impls.iter().zip(rows) {
        println!(
            "  {:<24} {:>9.2} ms  {}  cpu {:>8.1} ms  peak mem +{:>4.0} MiB  cold {:>8.2} ms  speedup ×{:.2} (cpu ×{:.2})",
            impl_name(imp),
            r.secs * 1e3,
            work(r.secs),
            r.cpu * 1e3,
            r.rss,
            r.cold * 1e3,
            base / r.secs,
            base_cpu / r.cpu
        );
    }
}

fn bench_ops(impls: &[ConvImpl], reps: usize) -> Result<()> {
    let dev = Device::Cpu;
    // (label, n, h, w, c, c_out, backward)
    let shapes = [
        (
            "3×3 conv 64→64 on 16×32×32, forward",
            16,
            32,
            32,
            64,
            64,
            false,
        ),
        (
            "3×3 conv 32→32 on 16×64×64, forward+backward",
            16,
            64,
            64,
            32,
            32,
            true,
        ),
        (
            "3×3 conv 32→32 on 16×64×64, forward",
            16,
            64,
            64,
            32,
            32,
            false,
        ),
    ];
    for (label, n, h, w, c, co, bwd) in shapes {
        let k = 3;
        let x = Var::randn(0f32, 1., (n, h, w, c), &dev)?;
        let wt = Var::randn(0f32, 0.05, (k * k * c, co), &dev)?;
        let b = Var::randn(0f32, 0.05, co, &dev)?;
        let x_nchw = Var::from_tensor(&x.permute((0, 3, 1, 2))?.contiguous()?)?;
        let w_oihw = Var::from_tensor(
            &wt.reshape((k, k, c, co))?
                .permute((3, 2, 0, 1))?
                .contiguous()?,
        )?;
        let probe = Tensor::randn(0f32, 1., (n, h, w, co), &dev)?;
        let probe_nchw = probe.permute((0, 3, 1, 2))?.contiguous()?;
        let wino = Winograd::new(&wt, &b)?;
        let rows = measure(impls, reps, |imp| {
            set_conv_impl(imp);
            let (y, p) = match imp {
                // Stock: candle's conv2d on NCHW tensors (no bias), as a candle user would write it.
                ConvImpl::Candle => (x_nchw.conv2d(&w_oihw, 1, 1, 1, 1)?, &probe_nchw),
                ConvImpl::Im2col => (
                    im2col(&x, k)?
                        .matmul(&wt)?
                        .broadcast_add(&b)?
                        .reshape((n, h, w, co))?,
                    &probe,
                ),
                ConvImpl::Winograd if !bwd => (wino.forward(&x, false)?, &probe),
                // Training: the fused op, which runs Winograd inside unless `Fused` is set.
                ConvImpl::Fused | ConvImpl::Winograd => {
                    (conv2d_nhwc(&x, &wt, &b, k, false)?, &probe)
                }
            };
            if bwd {
                let grads = (y * p)?.sum_all()?.backward()?;
                drop(grads);
            }
            set_conv_impl(ConvImpl::default());
            Ok(())
        })?;
        let flop = 2.0 * (n * h * w * k * k * c * co) as f64 * if bwd { 3.0 } else { 1.0 };
        print_rows(label, impls, &rows, |t| {
            format!("{:>6.1} GFLOP/s", flop / t / 1e9)
        });
    }
    Ok(())
}

/// Every distinct 3×3 conv shape of the shipped models, at the size it runs on for a 512×512
/// output (colorize: its default 256-pixel working copy; the noise estimator: up to 64 crops of
/// 64×64): (layer, batch, side, c_in, c_out).
const LAYERS: [(&str, usize, usize, usize, usize); 19] = [
    ("denoise head", 1, 512, 4, 24),
    ("denoise level 0 blocks", 1, 512, 24, 24),
    ("denoise level 1 blocks", 1, 256, 48, 48),
    ("denoise mid block", 1, 128, 96, 96),
    ("denoise tail", 1, 512, 24, 3),
    ("estimator head", 64, 64, 3, 16),
    ("estimator stage 1", 64, 32, 32, 32),
    ("estimator stage 2", 64, 16, 48, 48),
    ("upscale-x2 head", 1, 256, 3, 32),
    ("upscale-x2 body", 1, 256, 32, 32),
    ("upscale-x2 tail", 1, 256, 32, 12),
    ("upscale-x4 head", 1, 128, 3, 48),
    ("upscale-x4 body and tail", 1, 128, 48, 48),
    ("colorize head", 1, 256, 1, 16),
    ("colorize level 0 blocks", 1, 256, 16, 16),
    ("colorize level 1 blocks", 1, 128, 32, 32),
    ("colorize level 2 blocks", 1, 64, 64, 64),
    ("colorize level 3 blocks", 1, 32, 128, 128),
    ("colorize mid block", 1, 16, 192, 192),
];

/// The direct path against Winograd on each shipped 3×3 conv shape (forward, bias + ReLU),
/// whether or not the models use Winograd there (`Winograd::pays_off`).
fn bench_layers(impls: &[ConvImpl], reps: usize) -> Result<()> {
    let impls: Vec<ConvImpl> = [ConvImpl::Fused, ConvImpl::Winograd]
        .into_iter()
        .filter(|i| impls.contains(i))
        .collect();
    let dev = Device::Cpu;
    for (label, n, side, c, co) in LAYERS {
        let x = Tensor::rand(0f32, 1., (n, side, side, c), &dev)?;
        let wt = Tensor::randn(0f32, 0.1, (9 * c, co), &dev)?;
        let b = Tensor::randn(0f32, 0.1, co, &dev)?;
        let wino = Winograd::new(&wt, &b)?;
        let rows = measure(&impls, reps, |imp| {
            match imp {
                ConvImpl::Winograd => wino.forward(&x, true)?,
                _ => conv2d_nhwc(&x, &wt, &b, 3, true)?,
            };
            Ok(())
        })?;
        let flop = 2.0 * (n * side * side * 9 * c * co) as f64;
        print_rows(
            &format!(
                "{label}: {n}×{side}² {c}→{co} (the models use {})",
                if Winograd::pays_off(c) {
                    "Winograd"
                } else {
                    "the direct path"
                }
            ),
            &impls,
            &rows,
            |t| format!("{:>6.1} GFLOP/s", flop / t / 1e9),
        );
    }
    Ok(())
}

fn spec_by_name(name: &str) -> Result<ModelSpec> {
    match ModelKind::ALL.into_iter().find(|k| k.name() == name) {
        Some(kind) => Ok(kind.default_spec()),
        None => bail!("unknown model {name}"),
    }
}

fn bench_model(name: &str, impls: &[ConvImpl], reps: usize) -> Result<()> {
    let dev = Device::Cpu;
    let spec = spec_by_name(name)?;
    let s = spec.scale();
    let c_in = spec.kind().expect("a shipped kind").channels().0;

    // Trainable copy (VarMap) and an inference copy built from plain tensors (no autograd graph).
    let vm = VarMap::new();
    let train_net = Net::new(VarBuilder::from_varmap(&vm, DType::F32, &dev), &spec)?;
    let values: Vec<(String, Tensor)> = vm
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    let mut infer_net = Net::from_constants(values, &spec, &dev)?;
    // As weights::load does; `ConvImpl::Fused` still runs the direct path on it.
    infer_net.prepare_inference()?;
    println!(
        "model {name}: {} params, {:.1} kMAC per output pixel",
        train_net.params(),
        train_net.macs_per_pixel() / 1e3
    );

    // Forward: one 512×512 output image.
    let side = 512 / s;
    let x = Tensor::rand(0f32, 1., (1, side, side, c_in), &dev)?;
    let out_px = (512 * 512) as f64;
    let fwd_flop = 2.0 * train_net.macs_per_pixel() * out_px;
    let rows = measure(impls, reps, |imp| {
        set_conv_impl(imp);
        let y = infer_net.forward(&x);
        set_conv_impl(ConvImpl::default());
        y?;
        Ok(())
    })?;
    print_rows(
        &format!("  forward, one {side}×{side} input → 512×512 output"),
        impls,
        &rows,
        |t| {
            format!(
                "{:>6.3} MP/s {:>6.1} GFLOP/s",
                out_px / t / 1e6,
                fwd_flop / t / 1e9
            )
        },
    );

    // Training step: batch 16, 64×64 (upscale: 48×48 LR), MSE, backward, AdamW.
    let (bn, lr_side) = (16, if s == 1 { 64 } else { 48 });
    let xb = Tensor::rand(0f32, 1., (bn, lr_side, lr_side, c_in), &dev)?;
    // Shaped like the net's output (the colour classifier's logits are coarser and wider).
    let target = Tensor::rand(0f32, 1., train_net.forward(&xb)?.shape(), &dev)?;
    // The product's optimizer (`aetool finetune`'s), as the PyTorch twin uses PyTorch's AdamW.
    let named = vm.data().lock().unwrap().clone().into_iter().collect();
    let mut opt = AdamW::new(named, AdamWConfig::default())?;
    let train_px = (bn * lr_side * lr_side * s * s) as f64;
    let train_flop = 3.0 * 2.0 * train_net.macs_per_pixel() * train_px;
    let rows = measure(impls, reps, |imp| {
        set_conv_impl(imp);
        let step = train_net
            .forward(&xb)
            .and_then(|y| (y - &target)?.sqr()?.mean_all())
            .and_then(|loss| opt.step(&loss.backward()?, 1e-3, 1.0));
        set_conv_impl(ConvImpl::default());
        step?;
        Ok(())
    })?;
    print_rows(
        &format!("  training step, {bn}×{lr_side}×{lr_side} input (fwd+bwd+AdamW)"),
        impls,
        &rows,
        |t| format!("{:>6.1} GFLOP/s (3× fwd FLOPs)", train_flop / t / 1e9),
    );
    Ok(())
}

/// Runs on a thread of rayon's pool, as `aetool` runs its commands (see `aetool::app::run`).
fn main() -> Result<()> {
    rayon::scope(|_| bench())
}

fn bench() -> Result<()> {
    let mut reps = 5;
    let mut only = String::new();
    let mut models = "denoise,upscale-x2,upscale-x4,colorize".to_string();
    let mut impls: Vec<ConvImpl> = IMPLS.to_vec();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reps" => reps = args.next().unwrap_or_default().parse()?,
            "--only" => only = args.next().unwrap_or_default(),
            "--models" => models = args.next().unwrap_or_default(),
            "--impls" => {
                impls = args
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(|s| match s {
                        "candle" => Ok(ConvImpl::Candle),
                        "im2col" => Ok(ConvImpl::Im2col),
                        "fused" => Ok(ConvImpl::Fused),
                        "winograd" => Ok(ConvImpl::Winograd),
                        o => bail!("unknown impl {o} (candle, im2col, fused, winograd)"),
                    })
                    .collect::<Result<_>>()?
            }
            "--bench" => {} // passed by `cargo bench`
            other => bail!("unknown argument {other} (see the file's docs)"),
        }
    }
    println!(
        "aetool-bench: {} rayon threads, {reps} reps (median), load average before: {}",
        rayon::current_num_threads(),
        loadavg()
    );
    if !reset_peak_rss() {
        println!("(peak RSS cannot be reset here: figures are process-wide peaks)");
    }
    if only.is_empty() || only == "ops" {
        bench_ops(&impls, reps)?;
    }
    if only.is_empty() || only == "layers" {
        bench_layers(&impls, reps)?;
    }
    if only.is_empty() || only == "models" {
        for m in models.split(',').filter(|m| !m.is_empty()) {
            bench_model(m, &impls, reps)?;
        }
    }
    println!("load average after: {}", loadavg());
    Ok(())
}
