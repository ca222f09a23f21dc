//! The Hub's download protocol, as `huggingface_hub` and `hf-hub` speak it, into the standard
//! cache layout of one repo folder (`<cache>/models--OWNER--NAME`):
//!
//! ```text
//! blobs/<etag>                       the bytes
//! snapshots/<commit>/<file>          → ../../blobs/<etag> (a relative link)
//! refs/<revision>                    <commit>
//! ```
//!
//! A 1-byte probe of `/{repo}/resolve/{revision}/{file}` gives the commit (`X-Repo-Commit`), the
//! blob name (`X-Linked-Etag`, else `ETag`) and the size; both names are checked before they
//! become file names (see `names.rs`), and the size is bounded. The body is then streamed into a
//! temp file in `blobs/`, checked against the size and renamed into place.

use super::http::{resolve, Client};
use super::names::{check_commit, check_etag};
use anyhow::{anyhow, bail, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest file accepted (an aetool weights file is at most a few hundred MB).
pub const MAX_BYTES: u64 = 2 << 30;

struct Metadata {
    commit: String,
    etag: String,
    size: u64,
}

/// A header value, or an error naming it.
fn header<'a>(resp: &'a ureq::Response, name: &str) -> Result<&'a str> {
    resp.header(name).ok_or_else(|| {
        anyhow!(
            "{}: the server's answer has no {name} header",
            resp.get_url()
        )
    })
}

/// `W/"abc"` → `abc`.
fn normalize_etag(raw: &str) -> &str {
    let raw = raw.trim();
    raw.strip_prefix("W/").unwrap_or(raw).trim_matches('"')
}

/// The total of `Content-Range: bytes 0-0/<total>`, else `Content-Length` of a 200.
fn size_of(resp: &ureq::Response) -> Result<u64> {
    let total = match resp.header("Content-Range") {
        Some(range) => range.rsplit('/').next().unwrap_or_default().trim(),
        None if resp.status() == 200 => header(resp, "Content-Length")?.trim(),
        None => header(resp, "Content-Range")?,
    };
    total
        .parse()
        .map_err(|_| anyhow!("{}: unusable file size {total:?}", resp.get_url()))
}

fn metadata(client: &Client, url: &str) -> Result<Metadata> {
    // Relative redirects (a renamed repo) are followed; an absolute one (the CDN holding an LFS
    // file) carries the headers, like `huggingface_hub`.
    let absolute = |location: &str| location.contains("://") || location.starts_with("//");
    let timeout = Some(client.metadata_timeout);
    let resp = client.get(url, "bytes=0-0", timeout, absolute)?;
    let etag = match resp.header("X-Linked-Etag") {
        Some(e) => e,
        None => header(&resp, "ETag")?,
    };
    let etag = normalize_etag(etag).to_string();
    check_etag(&etag).map_err(|e| anyhow!("{}: {e}", resp.get_url()))?;
    let commit = header(&resp, "X-Repo-Commit")?.trim().to_string();
    check_commit(&commit).map_err(|e| anyhow!("{}: {e}", resp.get_url()))?;
    let size = match resp.header("X-Linked-Size") {
        Some(s) => s
            .trim()
            .parse()
            .map_err(|_| anyhow!("{url}: unusable X-Linked-Size {s:?}"))?,
        None if (300..400).contains(&resp.status()) => {
            let location = resolve(resp.get_url(), header(&resp, "Location")?.trim());
            size_of(&client.get(&location, "bytes=0-0", timeout, |_| false)?)?
        }
        None => size_of(&resp)?,
    };
    if size > MAX_BYTES {
        bail!("{url}: the server announces {size} bytes, more than any aetool weights file");
    }
    Ok(Metadata { commit, etag, size })
}

/// Streams `url` into `blob`, which must end up exactly `size` bytes long.
fn download(client: &Client, url: &str, blob: &Path, size: u64) -> Result<()> {
    let resp = client.get(url, "bytes=0-", None, |_| false)?;
    crate::atomic::write_with(blob, |file| {
        let mut body = resp.into_reader().take(size + 1);
        let got = std::io::copy(&mut body, file).map_err(|e| {
            if matches!(
                e.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) {
                anyhow!("{url}: the download stalled (HF_HUB_DOWNLOAD_TIMEOUT sets the wait)")
            } else {
                anyhow!("{url}: {e}")
            }
        })?;
        if got != size {
            bail!("{url}: received {got} bytes, the server announced {size}");
        }
        Ok(())
    })
}

/// Makes `pointer` a relative link to `blob` (a copy where links are not available).
fn link(blob: &Path, pointer: &Path, depth: usize, etag: &str) -> Result<()> {
    let parent = pointer.parent().expect("a snapshot file has a folder");
    std::fs::create_dir_all(parent)
        .with_context(|| format!("{}: cannot create cache folder", parent.display()))?;
    let target: PathBuf = std::iter::repeat_n("..", depth)
        .collect::<PathBuf>()
        .join("blobs")
        .join(etag);
    if std::fs::read_link(pointer).is_ok_and(|t| t == target) {
        return Ok(());
    }
    if std::fs::symlink_metadata(pointer).is_ok() {
        std::fs::remove_file(pointer)
            .with_context(|| format!("{}: cannot replace cache entry", pointer.display()))?;
    }
    #[cfg(unix)]
    let linked = std::os::unix::fs::symlink(&target, pointer).is_ok();
    #[cfg(not(unix))]
    let linked = false;
    if !linked {
        std::fs::copy(blob, pointer)
            .with_context(|| format!("{}: cannot write cache entry", pointer.display()))?;
    }
    Ok(())
}

/// Downloads `file` at `revision` from `url` into `repo_dir` (unless its blob is already
/// there); returns the snapshot path. `revision` and `file` must have been checked.
pub fn fetch(
    client: &Client,
    url: &str,
    repo_dir: &Path,
    revision: &str,
    file: &str,
) -> Result<PathBuf> {
    let meta = metadata(client, url)?;
    let blob = repo_dir.join("blobs").join(&meta.etag);
    let have = std::fs::metadata(&blob).is_ok_and(|m| m.is_file() && m.len() == meta.size);
    if !have {
        download(client, url, &blob, meta.size)?;
    }
    let pointer = repo_dir.join("snapshots").join(&meta.commit).join(file);
    let depth = 1 + file.split('/').count();
    link(&blob, &pointer, depth, &meta.etag)?;
    crate::atomic::write(
        &repo_dir.join("refs").join(revision),
        meta.commit.as_bytes(),
    )?;
    Ok(pointer)
}
