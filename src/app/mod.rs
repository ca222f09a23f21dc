//! Runs a parsed command line. Returns the process exit status: 0 all good, 1 some files
//! failed, 2 usage or fatal error (the latter as `Err`), 130 interrupted (143 by SIGTERM).

pub mod args;
pub mod config;
pub mod eval;
pub mod info;
pub mod stdout;

use crate::models::ModelKind;
use crate::pipeline::restore::{Restorer, Sigma};
use anyhow::Result;
use args::{Cli, Command};
use config::{RestoreConfig, TaskFlags};

/// Exit statuses (ripgrep / fd style).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    SomeFailed = 1,
    Fatal = 2,
    /// Ctrl-C (130) or SIGTERM (143, see `interrupt::exit_status`).
    Interrupted = 130,
}

/// The whole command line: parses the flags (clap exits with status 2 on bad ones), installs
/// the Ctrl-C handler, runs the command and prints its error chain once. Returns the exit status.
pub fn run_cli() -> i32 {
    use clap::Parser;
    let cli = Cli::parse();
    crate::interrupt::install();
    let status = match run(cli) {
        Ok(status) => status,
        Err(err) if stdout::is_broken_pipe(&err) => Status::Ok,
        Err(err) => {
            eprintln!("aetool: error: {err:#}");
            Status::Fatal
        }
    };
    match status {
        Status::Interrupted => crate::interrupt::exit_status(),
        other => other as i32,
    }
}

/// Runs one command: the thread count is applied first, then the flags become a validated
/// config, then the work starts.
///
/// The command runs on a thread of rayon's pool, not on the main thread: the convolutions' parallel
/// loops are then forked from inside the pool (the other workers steal the halves) instead of
/// being injected into it from outside, with the calling thread put to sleep and woken for every
/// loop — futex wake-ups that cost training steps 9–22 % and forward passes 3–5 %
/// (docs/performance.md, "Running inside the pool").
pub fn run(cli: Cli) -> Result<Status> {
    config::threads(cli.command.jobs())?;
    rayon::scope(|_| command(cli))
}

fn command(cli: Cli) -> Result<Status> {
    match cli.command {
        Command::Denoise {
            sigma,
            strength,
            run,
        } => {
            let flags = TaskFlags {
                sigma: &sigma,
                strength,
                ..TaskFlags::default()
            };
            restore(config::restore(ModelKind::Denoise, flags, &run)?)
        }
        Command::Upscale { scale, run } => restore(config::restore(
            config::kind(args::TaskArg::Upscale, scale),
            TaskFlags::default(),
            &run,
        )?),
        Command::Colorize {
            work_size,
            recolor,
            saturation,
            run,
        } => {
            let flags = TaskFlags {
                work_size,
                recolor,
                saturation,
                ..TaskFlags::default()
            };
            restore(config::restore(ModelKind::Colorize, flags, &run)?)
        }
        Command::Finetune(args) => finetune(&args),
        Command::Eval(args) => eval::run(&config::eval(&args)?).map(|()| Status::Ok),
        Command::Info { model } => info::run(model.as_deref()).map(|()| Status::Ok),
    }
}

fn restore(mut cfg: RestoreConfig) -> Result<Status> {
    let started = std::time::SystemTime::now();
    let loaded = crate::weights::load(&cfg.source, cfg.kind, &cfg.device)?;
    if loaded.trained_steps() == 0 {
        eprintln!(
            "aetool: warning: {} are UNTRAINED weights; results will not be restored photos",
            loaded.origin
        );
    }
    if let Some(pad) = cfg.settings.tile_pad {
        let radius = loaded.net.radius();
        if pad < radius && !cfg.quiet {
            eprintln!("aetool: warning: --tile-pad {pad} is below the model's receptive radius ({radius} px); tile seams may show");
        }
        // Context beyond the receptive radius cannot change an output pixel, only cost memory.
        cfg.settings.tile_pad = Some(pad.min(radius));
    }
    // The Gaussian-noise net serves only runs told the level.
    let told = matches!(cfg.settings.sigma, Sigma::Fixed(_));
    let companions =
        crate::weights::load_companions(&cfg.source, cfg.kind, &loaded, told, &cfg.device)?;
    let restorer = Restorer::new(loaded, cfg.device, cfg.settings).with_companions(companions);
    let mut plan = crate::pipeline::walk::plan(&cfg.inputs, &cfg.walk);
    crate::pipeline::dest::prepare(&mut plan, started);
    let summary = crate::pipeline::run(&plan, &restorer, &cfg.limits, &cfg.encode, cfg.quiet);
    if cfg.json {
        crate::outln!("{}", serde_json::to_string_pretty(&summary)?)?;
    }
    if !cfg.quiet {
        eprintln!(
            "aetool: {} done, {} skipped, {} failed; {:.2} MP in {:.1} s ({:.3} MP/s)",
            summary.done,
            summary.skipped,
            summary.failed,
            summary.megapixels,
            summary.seconds,
            summary.megapixels_per_second
        );
    }
    Ok(if summary.interrupted {
        Status::Interrupted
    } else if summary.failed > 0 {
        Status::SomeFailed
    } else {
        Status::Ok
    })
}

/// candle runs its elementwise ops (the gradient sums of `backward`, AdamW, residual adds) on a
/// spinning thread pool of its own beside rayon's. On 2 cores one thread for them made training
/// steps of the denoiser and the upscalers 8–16 % faster and the colorizer's 3–9 % slower
/// (`CANDLE_NUM_THREADS=1 aetool-bench --only models`, docs/performance.md), so training sets it
/// for those tasks unless the user has set it. Called before any tensor op: candle reads the
/// variable once, when its pool starts.
fn elementwise_threads(task: args::TaskArg) {
    if task != args::TaskArg::Colorize && std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}

fn finetune(args: &args::FinetuneArgs) -> Result<Status> {
    elementwise_threads(args.task);
    let cfg = config::finetune(args)?;
    // Temp files of weights or checkpoints a killed run left beside the output.
    let folder = cfg.output.parent().filter(|p| !p.as_os_str().is_empty());
    crate::atomic::remove_stale(
        folder.unwrap_or(std::path::Path::new(".")),
        std::time::SystemTime::now(),
    );
    let report = crate::train::run(&cfg)?;
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?)?;
    }
    if report.interrupted {
        return Ok(Status::Interrupted);
    }
    let versus_base = report
        .base_val_psnr
        .map(|b| format!("base model {b:.2} dB, {:+.2} dB; ", report.val_psnr - b))
        .unwrap_or_default();
    eprintln!(
        "aetool: wrote {} after {} steps in {:.0} s: validation PSNR {:.2} dB ({versus_base}degraded input {:.2} dB)",
        cfg.output.display(),
        report.steps,
        report.seconds,
        report.val_psnr,
        report.val_baseline_psnr
    );
    Ok(Status::Ok)
}
