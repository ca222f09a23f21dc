//! Weights from the Hugging Face Hub, through the `hf-hub` crate and its standard cache.
//!
//! Honoured environment: `HF_ENDPOINT` (mirror or test server), `HF_HOME` / `HF_HUB_CACHE`
//! (cache location), `HF_TOKEN` (private repos), `HF_HUB_OFFLINE=1` (never touch the network;
//! use the cache or fail saying so). A file already in the cache is not downloaded again.

use crate::weights::Source;
use anyhow::{anyhow, Result};
use hf_hub::{api::sync::ApiBuilder, Cache, Repo, RepoType};
use std::path::PathBuf;

/// The file of the repo to use: the one named in the source, else `<default_name>.safetensors`.
fn file_name(source: &Source, default_name: &str) -> String {
    match source {
        Source::Hub { file: Some(f), .. } => f.clone(),
        _ => format!("{default_name}.safetensors"),
    }
}

/// `hf:owner/repo@rev/file` for messages.
pub fn describe(source: &Source, default_name: &str) -> String {
    match source {
        Source::Hub { repo, revision, .. } => {
            format!("hf:{repo}@{revision}/{}", file_name(source, default_name))
        }
        other => format!("{other:?}"),
    }
}

fn truthy(var: &str) -> bool {
    std::env::var(var)
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

fn cache() -> Cache {
    match std::env::var_os("HF_HUB_CACHE") {
        Some(dir) => Cache::new(dir.into()),
        None => Cache::from_env(),
    }
}

/// Returns the local path of the weights file named by a `Source::Hub`, downloading it into the
/// Hugging Face cache if needed (and allowed).
pub fn fetch(source: &Source, default_name: &str) -> Result<PathBuf> {
    let Source::Hub { repo, revision, .. } = source else {
        return Err(anyhow!("not a Hub source: {source:?}"));
    };
    let file = file_name(source, default_name);
    let what = describe(source, default_name);
    let hub_repo = Repo::with_revision(repo.clone(), RepoType::Model, revision.clone());
    let cache = cache();
    if let Some(path) = cache.repo(hub_repo.clone()).get(&file) {
        return Ok(path);
    }
    if truthy("HF_HUB_OFFLINE") {
        return Err(anyhow!(
            "{what}: not in the Hugging Face cache ({}) and HF_HUB_OFFLINE is set; run once online or unset HF_HUB_OFFLINE",
            cache.path().display()
        ));
    }
    let mut builder = ApiBuilder::from_cache(cache).with_progress(false);
    if let Ok(endpoint) = std::env::var("HF_ENDPOINT") {
        builder = builder.with_endpoint(endpoint);
    }
    if let Ok(token) = std::env::var("HF_TOKEN") {
        builder = builder.with_token(Some(token));
    }
    let api = builder
        .build()
        .map_err(|e| anyhow!("{what}: cannot set up the Hub client: {e}"))?;
    let repo_api = api.repo(hub_repo);
    eprintln!("aetool: downloading {}", repo_api.url(&file));
    repo_api
        .download(&file)
        .map_err(|e| anyhow!("{what}: download failed: {e}"))
}
