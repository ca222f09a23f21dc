use aetool::app::{self, Status};
use clap::Parser;

fn main() {
    let cli = aetool::cli::Cli::parse();
    aetool::interrupt::install();
    let status = match app::run(cli) {
        Ok(status) => status,
        Err(err) if aetool::stdout::is_broken_pipe(&err) => Status::Ok,
        Err(err) => {
            eprintln!("aetool: error: {err:#}");
            Status::Fatal
        }
    };
    std::process::exit(status as i32);
}
