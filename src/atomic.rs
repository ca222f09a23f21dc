//! Atomic file writes: data goes to a hidden temp file in the destination folder, which is
//! synced to disk and renamed over the destination only once complete (and the folder synced
//! after), so a crash, Ctrl-C or power cut never leaves a half-written or empty output. Temp
//! files start with [`TEMP_PREFIX`], are skipped by the walker, and are locked while written:
//! [`remove_stale`] clears those an earlier killed run left behind.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

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
    // Held until the rename: tells `remove_stale` in another process that this one is live.
    #[cfg(unix)]
    let _ = tmp.as_file().try_lock();
    fill(tmp.as_file_mut())?;
    tmp.as_file_mut().flush()?;
    match tmp.as_file().sync_all() {
        // Some file systems cannot sync (FUSE, special mounts): the rename still protects.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::Unsupported | std::io::ErrorKind::InvalidInput
            ) => {}
        r => r.with_context(|| format!("{}: cannot flush output to disk", dest.display()))?,
    }
    tmp.persist(dest)
        .with_context(|| format!("{}: cannot move finished output into place", dest.display()))?;
    sync_folder(dir);
    Ok(())
}

/// Makes a rename in `dir` durable (best effort: not every platform or file system can).
fn sync_folder(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Writes `bytes` to `dest` atomically.
pub fn write(dest: &Path, bytes: &[u8]) -> Result<()> {
    write_with(dest, |f| {
        f.write_all(bytes)
            .with_context(|| format!("{}: write failed", dest.display()))
    })
}

/// Removes from `dir` (not its sub-folders) our temp files last modified before `before` that
/// no running aetool holds (a killed run's leftovers); returns how many. Errors are ignored:
/// this is housekeeping.
pub fn remove_stale(dir: &Path, before: SystemTime) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let old = entry
            .metadata()
            .is_ok_and(|m| m.file_type().is_file() && m.modified().is_ok_and(|t| t < before));
        if !old {
            continue;
        }
        let path = entry.path();
        // A live writer holds the lock; a killed one does not.
        let free = std::fs::File::open(&path).is_ok_and(|f| f.try_lock().is_ok());
        if free && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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

    #[test]
    fn stale_temp_files_go_live_and_foreign_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        let make = |name: &str, when: SystemTime| {
            let f = std::fs::File::create(dir.path().join(name)).unwrap();
            f.set_modified(when).unwrap();
        };
        make(".aetool-tmp-dead1", hour_ago);
        make(
            ".aetool-tmp-new",
            SystemTime::now() + Duration::from_secs(60),
        );
        make(".other-tmp-x", hour_ago);
        make("photo.png", hour_ago);
        std::fs::create_dir(dir.path().join(".aetool-tmp-folder")).unwrap();
        // A live writer's file: old, but locked.
        make(".aetool-tmp-live", hour_ago);
        let live = std::fs::File::open(dir.path().join(".aetool-tmp-live")).unwrap();
        live.lock().unwrap();

        assert_eq!(remove_stale(dir.path(), SystemTime::now()), 1);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".aetool-tmp-folder",
                ".aetool-tmp-live",
                ".aetool-tmp-new",
                ".other-tmp-x",
                "photo.png"
            ]
        );
        drop(live);
        assert_eq!(remove_stale(dir.path(), SystemTime::now()), 1);
        assert_eq!(
            remove_stale(&dir.path().join("missing"), SystemTime::now()),
            0
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
