//! Atomic file writes: data goes to a hidden temp file in the destination folder, which is
//! renamed over the destination only once complete, so a crash or Ctrl-C never leaves a
//! half-written output. Temp files start with [`TEMP_PREFIX`] and are skipped by the walker.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Name prefix of in-progress files.
pub const TEMP_PREFIX: &str = ".aetool-tmp-";

/// Creates the temp file next to `dest`, lets `fill` write into it, then renames it to `dest`.
pub fn write_with(dest: &Path, fill: impl FnOnce(&mut std::fs::File) -> Result<()>) -> Result<()> {
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create output folder", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "{}: cannot create a file in the output folder",
                dir.display()
            )
        })?;
    fill(tmp.as_file_mut())?;
    tmp.as_file_mut().flush()?;
    tmp.persist(dest)
        .with_context(|| format!("{}: cannot move finished output into place", dest.display()))?;
    Ok(())
}

/// Writes `bytes` to `dest` atomically.
pub fn write(dest: &Path, bytes: &[u8]) -> Result<()> {
    write_with(dest, |f| {
        f.write_all(bytes)
            .with_context(|| format!("{}: write failed", dest.display()))
    })
}
