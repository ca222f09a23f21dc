//! Runs a parsed command line. Returns the process exit status: 0 all good, 1 some files
//! failed, 2 usage or fatal error (the latter as `Err`).

use crate::cli::{Cli, Command};
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
        Command::Finetune(args) => {
            let cfg = crate::config::finetune(&args)?;
            let report = crate::train::run(&cfg)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
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
        _ => anyhow::bail!("not yet implemented"),
    }
}
