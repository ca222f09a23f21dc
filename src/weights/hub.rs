//! Weights from the Hugging Face Hub, into the standard cache (`hf-hub`'s `Cache` finds cached
//! files; the download itself is ours, `hub/download.rs`, because `hf-hub` 0.4's client has no
//! timeouts or redirect limit and trusts the server's names).
//!
//! Honoured environment, as `huggingface_hub` reads it: `HF_ENDPOINT` (mirror or test server;
//! trailing `/` ignored), `HF_HOME` (default `$XDG_CACHE_HOME/huggingface`, else
//! `~/.cache/huggingface`) / `HF_HUB_CACHE` (cache location), `HF_TOKEN`, else the token
//! file at `HF_TOKEN_PATH` or `$HF_HOME/token` (private repos), `HF_HUB_OFFLINE=1` (never touch
//! the network; use the cache or fail saying so), `HF_HUB_ETAG_TIMEOUT` /
//! `HF_HUB_DOWNLOAD_TIMEOUT` (seconds, default 10). Empty values count as unset. A file already
//! in the cache is not downloaded again.

use anyhow::{anyhow, Result};
use hf_hub::{Cache, Repo, RepoType};
use std::path::PathBuf;

mod download;
mod http;
mod names;

pub use names::{check_file, check_repo, check_revision};

/// `hf:owner/repo@rev/file` for messages.
pub fn describe(repo: &str, revision: &str, file: &str) -> String {
    format!("hf:{repo}@{revision}/{file}")
}

fn truthy(var: &str) -> bool {
    std::env::var(var)
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// A variable's value, `None` when unset or blank.
fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `HF_HOME`, defaulting to `$XDG_CACHE_HOME/huggingface` or `~/.cache/huggingface`.
fn hf_home() -> Option<PathBuf> {
    var("HF_HOME").map(PathBuf::from).or_else(|| {
        let cache = var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(cache.join("huggingface"))
    })
}

/// `HF_HUB_CACHE`, defaulting to `$HF_HOME/hub`.
fn cache() -> Cache {
    match var("HF_HUB_CACHE").map(PathBuf::from) {
        Some(dir) => Cache::new(dir),
        None => hf_home().map_or_else(Cache::from_env, |home| Cache::new(home.join("hub"))),
    }
}

/// `HF_ENDPOINT` without trailing slashes (`huggingface_hub` strips them too; kept, they would
/// make `http://host//owner/repo/resolve/…` URLs).
fn endpoint() -> Option<String> {
    var("HF_ENDPOINT").map(|e| e.trim_end_matches('/').to_string())
}

/// The access token: `HF_TOKEN`, else the file `huggingface-cli login` writes (`HF_TOKEN_PATH`,
/// else `$HF_HOME/token`). hf-hub on its own looks beside the cache folder
/// (`$HF_HUB_CACHE/../token`), which misses the token whenever `HF_HUB_CACHE` is moved.
fn token() -> Option<String> {
    if let Some(token) = var("HF_TOKEN") {
        return Some(token);
    }
    let path = match var("HF_TOKEN_PATH") {
        Some(path) => PathBuf::from(path),
        None => hf_home()?.join("token"),
    };
    let token = std::fs::read_to_string(path).ok()?;
    Some(token.trim().to_string()).filter(|t| !t.is_empty())
}

/// Returns the local path of `file` of the model repo `repo` at `revision`, downloading it into
/// the Hugging Face cache if needed (and allowed). The names are checked first (nothing may
/// point outside the cache), and so is what the server answers (see `hub/download.rs`); every
/// request has timeouts and a redirect limit (`hub/http.rs`).
pub fn fetch(repo: &str, revision: &str, file: &str) -> Result<PathBuf> {
    let what = describe(repo, revision, file);
    check_repo(repo)
        .and_then(|()| check_revision(revision))
        .and_then(|()| check_file(file))
        .map_err(|e| anyhow!("{what}: {e}"))?;
    let hub_repo = Repo::with_revision(repo.to_string(), RepoType::Model, revision.to_string());
    let cache = cache();
    if let Some(path) = cache.repo(hub_repo.clone()).get(file) {
        return Ok(path);
    }
    if truthy("HF_HUB_OFFLINE") {
        return Err(anyhow!(
            "{what}: not in the Hugging Face cache ({}) and HF_HUB_OFFLINE is set; run once online or unset HF_HUB_OFFLINE",
            cache.path().display()
        ));
    }
    let endpoint = endpoint().unwrap_or_else(|| "https://huggingface.co".to_string());
    let url = format!(
        "{endpoint}/{repo}/resolve/{}/{file}",
        revision.replace('/', "%2F")
    );
    eprintln!("aetool: downloading {url}");
    let client = http::Client::new(&endpoint, token());
    let repo_dir = cache.path().join(hub_repo.folder_name());
    download::fetch(&client, &url, &repo_dir, revision, file)
        .map_err(|e| anyhow!("{what}: download failed: {e:#}"))
}
