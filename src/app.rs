//! Runs a parsed command line. Returns the process exit status: 0 all good, 1 some files
//! failed, 2 usage or fatal error (the latter as `Err`), 130 interrupted.

use crate::cli::{Cli, Command};
use crate::config::{self, RunConfig};
use crate::models::Task;
use crate::restore::Restorer;
use anyhow::Result;

/// Exit statuses (ripgrep / fd style).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    SomeFailed = 1,
    Fatal = 2,
    Interrupted = 130,
}

pub fn run(cli: Cli) -> Result<Status> {
    match cli.command {
        Command::Denoise { sigma, run } => {
            restore(config::run(Task::Denoise, 1, Some(&sigma), 256, &run)?)
        }
        Command::Upscale { scale, run } => {
            if !matches!(scale, 2 | 4) {
                anyhow::bail!("-x{scale}: upscale supports -x2 and -x4");
            }
            restore(config::run(Task::Upscale, scale as usize, None, 256, &run)?)
        }
        Command::Colorize { work_size, run } => {
            restore(config::run(Task::Colorize, 1, None, work_size, &run)?)
        }
        Command::Finetune(args) => finetune(&args),
        Command::Eval(args) => crate::eval::run(&args).map(|()| Status::Ok),
        Command::Info { model } => crate::info::run(model.as_deref()).map(|()| Status::Ok),
    }
}

fn restore(cfg: RunConfig) -> Result<Status> {
    let loaded = crate::weights::load(&cfg.source, cfg.want, &cfg.device)?;
    if loaded.trained_steps() == 0 {
        eprintln!(
            "aetool: warning: {} are UNTRAINED weights; results will not be restored photos",
            loaded.origin
        );
    }
    let restorer = Restorer {
        loaded,
        device: cfg.device.clone(),
        sigma: cfg.sigma,
        tile: cfg.tile,
        tile_pad: cfg.tile_pad,
        work_size: cfg.work_size,
    };
    if let Some(pad) = cfg.tile_pad {
        let radius = restorer.loaded.net.radius();
        if pad < radius && !cfg.quiet {
            eprintln!("aetool: warning: --tile-pad {pad} is below the model's receptive radius ({radius} px); tile seams may show");
        }
    }
    let plan = crate::walk::plan(&cfg.inputs, &cfg.walk);
    let summary = crate::pipeline::run(&plan, &restorer, &cfg.limits, cfg.quiet);
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

fn finetune(args: &crate::cli::FinetuneArgs) -> Result<Status> {
    let cfg = config::finetune(args)?;
    let report = crate::train::run(&cfg)?;
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?)?;
    }
    if report.interrupted {
        return Ok(Status::Interrupted);
    }
    eprintln!(
        "aetool: wrote {} after {} steps in {:.0} s: validation PSNR {:.2} dB (baseline {:.2} dB)",
        cfg.output.display(),
        report.steps,
        report.seconds,
        report.val_psnr,
        report.val_baseline_psnr
    );
    Ok(Status::Ok)
}
