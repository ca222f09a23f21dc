//! The `aetool` command: everything happens in the library's command layer (`src/app/`).

fn main() {
    std::process::exit(aetool::run_cli());
}
