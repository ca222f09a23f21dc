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
    let mut builder = tempfile::Builder::new();
    // Like a plainly created file: 0o666 minus the umask (tempfile's default is 0o600).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_completely_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/out.bin");
        write(&dest, b"first").unwrap();
        write(&dest, b"second").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dest.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.bin")]);
        // A failing writer leaves the previous file untouched and no temp file behind.
        assert!(write_with(&dest, |_| anyhow::bail!("disk full")).is_err());
        assert_eq!(std::fs::read(&dest).unwrap(), b"second");
        assert_eq!(
            std::fs::read_dir(dest.parent().unwrap()).unwrap().count(),
            1
        );
    }

    #[cfg(unix)]
    #[test]
    fn outputs_get_the_same_permissions_as_a_plainly_created_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        write(&dir.path().join("atomic.bin"), b"x").unwrap();
        std::fs::write(dir.path().join("plain.bin"), b"x").unwrap();
        assert_eq!(
            mode(&dir.path().join("atomic.bin")),
            mode(&dir.path().join("plain.bin"))
        );
    }
}
