//! The `aetool` command: everything happens in the library's command layer (`src/app/`).

/// mimalloc keeps freed pages for reuse, so every layer's and tile's buffers do not page-fault
/// in afresh (see "A caching allocator" in docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(aetool::run_cli());
}
