//! `--model hf:OWNER/REPO[@REV][/FILE]` end to end: `aetool::weights::load` through `hf-hub`'s
//! sync client against a local server that serves the Hub's `/{repo}/resolve/{rev}/{file}`
//! layout, with a fresh Hugging Face cache per case.
//!
//! The tests change process-wide `HF_*` variables, so each takes the [`HubEnv`] lock first.

mod common;

use aetool::models::ModelKind;
use aetool::testing::{tiny_spec, weights_bytes};
use aetool::weights::{inspect, load, Loaded, Source};
use candle_core::{Device, Module as _, Tensor};
use common::{HubServer, Request};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

const DENOISE: ModelKind = ModelKind::Denoise;

/// Variables that steer `hf-hub` / `ureq`; cleared before every case so the developer's own
/// settings (a token, a proxy: ureq 2 ignores `NO_PROXY`) cannot leak in.
const VARS: &[&str] = &[
    "HF_ENDPOINT",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HF_HUB_OFFLINE",
    "HF_TOKEN",
    "HF_TOKEN_PATH",
    "XDG_CACHE_HOME",
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

static ENV_LOCK: Mutex<()> = Mutex::new(());

/// Exclusive use of the process environment, pointed at `server` with a fresh cache
/// (`<tmp>/cache`) and a fresh `HF_HOME` (`<tmp>/home`, no token).
struct HubEnv {
    dir: tempfile::TempDir,
    _lock: MutexGuard<'static, ()>,
}

impl HubEnv {
    fn new(server: &HubServer) -> Self {
        let lock = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        for var in VARS {
            std::env::remove_var(var);
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("home")).unwrap();
        std::env::set_var("HF_ENDPOINT", server.endpoint());
        std::env::set_var("HF_HOME", dir.path().join("home"));
        std::env::set_var("HF_HUB_CACHE", dir.path().join("cache"));
        Self { dir, _lock: lock }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// Points `HF_HUB_CACHE` at an empty folder `<tmp>/<name>` and returns it.
    fn fresh_cache(&self, name: &str) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::env::set_var("HF_HUB_CACHE", &dir);
        dir
    }
}

impl Drop for HubEnv {
    fn drop(&mut self) {
        for var in VARS {
            std::env::remove_var(var);
        }
    }
}

fn provenance(tag: &str) -> serde_json::Value {
    serde_json::json!({ "steps": 0, "note": tag })
}

fn hub_load(model: &str, want: ModelKind) -> anyhow::Result<Loaded> {
    load(&Source::parse(model)?, want, &Device::Cpu)
}

fn body_gets(requests: &[Request]) -> usize {
    requests.iter().filter(|r| r.is_body_get()).count()
}

/// Where hf-hub puts `file` of `repo` fetched at `revision` (served commit) in `cache`.
fn snapshot(cache: &Path, repo: &str, revision: &str, file: &str) -> PathBuf {
    cache
        .join(format!("models--{}", repo.replace('/', "--")))
        .join("snapshots")
        .join(HubServer::commit(revision))
        .join(file)
}

/// Scenarios 1, 5 and 4 (with a cache): download, cached reload, offline reload.
#[test]
fn downloads_into_the_hf_cache_then_reuses_it_online_and_offline() {
    let server = HubServer::start();
    let spec = tiny_spec(ModelKind::Denoise);
    let bytes = weights_bytes(&spec, &provenance("main"));
    server.add("me/aetool", "main", "denoise.safetensors", bytes.clone());
    let env = HubEnv::new(&server);

    // 1. Download of the task's default file.
    let loaded = hub_load("hf:me/aetool", DENOISE).unwrap();
    assert_eq!(loaded.spec, spec);
    assert_eq!(loaded.provenance, provenance("main"));
    assert_eq!(loaded.origin, "hf:me/aetool@main/denoise.safetensors");
    let x = Tensor::zeros((1, 4, 4, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
    let y = loaded.net.forward(&x).unwrap();
    assert_eq!(y.dims(), &[1, 4, 4, 3]);

    let repo_dir = env.cache().join("models--me--aetool");
    let pointer = snapshot(&env.cache(), "me/aetool", "main", "denoise.safetensors");
    assert!(pointer.is_file(), "{} missing", pointer.display());
    assert_eq!(std::fs::read(&pointer).unwrap(), bytes);
    assert_eq!(
        std::fs::read_to_string(repo_dir.join("refs/main")).unwrap(),
        HubServer::commit("main")
    );
    assert!(repo_dir
        .join("blobs")
        .join(HubServer::etag(&bytes))
        .is_file());

    let requests = server.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/me/aetool/resolve/main/denoise.safetensors"),
        "{requests:#?}"
    );
    assert_eq!(body_gets(&requests), 1, "{requests:#?}");
    assert!(requests.iter().all(|r| r.authorization.is_none()));

    // 5. Online again: served from the cache, the body is not fetched again.
    let seen = server.requests().len();
    let again = hub_load("hf:me/aetool", DENOISE).unwrap();
    assert_eq!(again.spec, spec);
    let new = &server.requests()[seen..];
    assert_eq!(body_gets(new), 0, "{new:#?}");

    // 4a. Offline with that cache: loads without a single request.
    std::env::set_var("HF_HUB_OFFLINE", "1");
    let seen = server.requests().len();
    let offline = hub_load("hf:me/aetool", DENOISE).unwrap();
    assert_eq!(offline.spec, spec);
    assert_eq!(
        server.requests().len(),
        seen,
        "offline load reached the server"
    );
}

/// Scenario 4 (empty cache): offline means no network, and the message says why.
#[test]
fn offline_with_an_empty_cache_fails_without_touching_the_network() {
    let server = HubServer::start();
    let bytes = weights_bytes(&tiny_spec(ModelKind::Denoise), &provenance("main"));
    server.add("me/aetool", "main", "denoise.safetensors", bytes);
    let env = HubEnv::new(&server);

    for on in ["1", "true", "YES"] {
        std::env::set_var("HF_HUB_OFFLINE", on);
        let err = hub_load("hf:me/aetool", DENOISE)
            .err()
            .expect("offline load");
        let msg = format!("{err:#}");
        assert!(msg.contains("HF_HUB_OFFLINE"), "{msg}");
        assert!(
            msg.contains("hf:me/aetool@main/denoise.safetensors"),
            "{msg}"
        );
    }
    assert!(server.requests().is_empty(), "{:#?}", server.requests());
    assert!(!env.cache().join("models--me--aetool").exists());

    // Anything else is online.
    std::env::set_var("HF_HUB_OFFLINE", "0");
    hub_load("hf:me/aetool", DENOISE).unwrap();
    assert_eq!(body_gets(&server.requests()), 1);
}

/// Scenario 2: `@REV` and `/FILE`, and the default file name following task and scale.
#[test]
fn explicit_revision_and_file() {
    let server = HubServer::start();
    let main_spec = tiny_spec(ModelKind::Denoise);
    let mut custom_spec = main_spec.clone();
    if let aetool::models::Arch::Unet(c) = &mut custom_spec.arch {
        c.blocks = 2;
    }
    let main_bytes = weights_bytes(&main_spec, &provenance("main"));
    let custom_bytes = weights_bytes(&custom_spec, &provenance("v1 custom"));
    // Decoys: the same name at another revision, the default name at the same revision.
    server.add(
        "me/aetool",
        "main",
        "sub/custom.safetensors",
        main_bytes.clone(),
    );
    server.add("me/aetool", "v1", "denoise.safetensors", main_bytes);
    server.add(
        "me/aetool",
        "v1",
        "sub/custom.safetensors",
        custom_bytes.clone(),
    );
    let x4 = tiny_spec(ModelKind::UpscaleX4);
    server.add(
        "me/aetool",
        "v1",
        "upscale-x4.safetensors",
        weights_bytes(&x4, &provenance("x4")),
    );
    let env = HubEnv::new(&server);

    let model = "hf:me/aetool@v1/sub/custom.safetensors";
    let loaded = hub_load(model, DENOISE).unwrap();
    assert_eq!(loaded.spec, custom_spec);
    assert_eq!(loaded.provenance, provenance("v1 custom"));
    assert_eq!(loaded.origin, model);
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/me/aetool/resolve/v1/sub/custom.safetensors"),
        "{requests:#?}"
    );
    let pointer = snapshot(&env.cache(), "me/aetool", "v1", "sub/custom.safetensors");
    assert_eq!(std::fs::read(&pointer).unwrap(), custom_bytes);
    assert_eq!(
        std::fs::read_to_string(env.cache().join("models--me--aetool/refs/v1")).unwrap(),
        HubServer::commit("v1")
    );

    // `aetool info hf:…/FILE` reads the same cached file without a request.
    let seen = server.requests().len();
    let info = inspect(&Source::parse(model).unwrap()).unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].spec, custom_spec);
    assert_eq!(server.requests().len(), seen);
    let err = inspect(&Source::parse("hf:me/aetool@v1").unwrap())
        .err()
        .expect("info without a file");
    assert!(format!("{err:#}").contains("needs the file"), "{err:#}");

    // Without /FILE the name comes from the task: upscale -x4 → upscale-x4.safetensors.
    let up = hub_load("hf:me/aetool@v1", ModelKind::UpscaleX4).unwrap();
    assert_eq!(up.spec, x4);
    assert_eq!(
        server.requests().last().unwrap().path,
        "/me/aetool/resolve/v1/upscale-x4.safetensors"
    );
}

/// Scenario 3: a 404 is an error naming the repo and file, not a panic, and leaves no snapshot.
#[test]
fn missing_file_or_repo_is_an_error_naming_it() {
    let server = HubServer::start();
    let bytes = weights_bytes(&tiny_spec(ModelKind::Denoise), &provenance("main"));
    server.add("me/aetool", "main", "denoise.safetensors", bytes);
    let env = HubEnv::new(&server);

    for (model, named) in [
        (
            "hf:me/aetool/missing.safetensors",
            "hf:me/aetool@main/missing.safetensors",
        ),
        ("hf:me/aetool@v9", "hf:me/aetool@v9/denoise.safetensors"),
        (
            "hf:nobody/nothing",
            "hf:nobody/nothing@main/denoise.safetensors",
        ),
    ] {
        let err = hub_load(model, DENOISE).err().expect(model);
        let msg = format!("{err:#}");
        assert!(msg.contains(named), "{model}: {msg}");
        assert!(msg.contains("404"), "{model}: {msg}");
    }
    assert!(!env
        .cache()
        .join("models--me--aetool")
        .join("snapshots")
        .exists());
    assert_eq!(server.requests().len(), 3, "{:#?}", server.requests());
}

/// Scenario 6: weights of another task under the expected name are refused, saying so.
#[test]
fn wrong_task_names_the_file_and_what_was_expected() {
    let server = HubServer::start();
    let x2 = weights_bytes(&tiny_spec(ModelKind::UpscaleX2), &provenance("x2"));
    server.add("me/aetool", "main", "denoise.safetensors", x2.clone());
    server.add("me/aetool", "main", "upscale-x4.safetensors", x2);
    let _env = HubEnv::new(&server);

    let err = hub_load("hf:me/aetool", DENOISE).err().expect("wrong task");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("hf:me/aetool@main/denoise.safetensors"),
        "{msg}"
    );
    assert!(msg.contains("`upscale-x2` weights"), "{msg}");
    assert!(msg.contains("`denoise` weights are needed"), "{msg}");

    let want = ModelKind::UpscaleX4;
    let err = hub_load("hf:me/aetool", want).err().expect("wrong scale");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("hf:me/aetool@main/upscale-x4.safetensors"),
        "{msg}"
    );
    assert!(msg.contains("`upscale-x2` weights"), "{msg}");
    assert!(msg.contains("`upscale-x4` weights are needed"), "{msg}");
}

/// Large files on huggingface.co are LFS: a 302 to a CDN, the blob named by `X-Linked-Etag`.
#[test]
fn lfs_redirect_is_followed() {
    let server = HubServer::start();
    let spec = tiny_spec(ModelKind::Colorize);
    let bytes = weights_bytes(&spec, &provenance("lfs"));
    server.add_lfs("me/big", "main", "colorize.safetensors", bytes.clone());
    let env = HubEnv::new(&server);

    let want = ModelKind::Colorize;
    let loaded = hub_load("hf:me/big", want).unwrap();
    assert_eq!(loaded.spec, spec);
    let etag = HubServer::etag(&bytes);
    let requests = server.requests();
    let cdn = format!("/cdn/{etag}");
    assert!(
        requests.iter().any(|r| r.path == cdn && r.is_body_get()),
        "{requests:#?}"
    );
    let blob = env.cache().join("models--me--big/blobs").join(&etag);
    assert_eq!(std::fs::read(blob).unwrap(), bytes);
    let pointer = snapshot(&env.cache(), "me/big", "main", "colorize.safetensors");
    assert_eq!(std::fs::read(pointer).unwrap(), bytes);
}

/// `HF_TOKEN` is sent; without it the token file of `HF_HOME` (or `HF_TOKEN_PATH`) is used,
/// even when `HF_HUB_CACHE` lives elsewhere; blank values count as unset.
#[test]
fn token_from_env_or_token_file() {
    let server = HubServer::start();
    let bytes = weights_bytes(&tiny_spec(ModelKind::Denoise), &provenance("main"));
    server.add("me/private", "main", "denoise.safetensors", bytes);
    let env = HubEnv::new(&server);
    let auth_of_last_load = |cache: &str| {
        env.fresh_cache(cache);
        let seen = server.requests().len();
        hub_load("hf:me/private", DENOISE).unwrap();
        let new = server.requests()[seen..].to_vec();
        assert!(!new.is_empty());
        let auth = new[0].authorization.clone();
        assert!(new.iter().all(|r| r.authorization == auth), "{new:#?}");
        auth
    };

    std::env::set_var("HF_TOKEN", "");
    assert_eq!(auth_of_last_load("c1"), None);

    // `huggingface-cli login` writes $HF_HOME/token; HF_HUB_CACHE (<tmp>/c2) is not under HF_HOME.
    std::fs::write(env.path().join("home/token"), "file-token\n").unwrap();
    assert_eq!(
        auth_of_last_load("c2").as_deref(),
        Some("Bearer file-token")
    );

    let token_path = env.path().join("elsewhere-token");
    std::fs::write(&token_path, "path-token").unwrap();
    std::env::set_var("HF_TOKEN_PATH", &token_path);
    assert_eq!(
        auth_of_last_load("c3").as_deref(),
        Some("Bearer path-token")
    );

    std::env::set_var("HF_TOKEN", "env-token");
    assert_eq!(auth_of_last_load("c4").as_deref(), Some("Bearer env-token"));
}

/// `HF_ENDPOINT=http://host:port/` works like `http://host:port`; with neither `HF_HUB_CACHE` nor
/// `HF_HOME`, the cache is `$XDG_CACHE_HOME/huggingface/hub`.
#[test]
fn endpoint_with_trailing_slash_and_default_cache_location() {
    let server = HubServer::start();
    let bytes = weights_bytes(&tiny_spec(ModelKind::Denoise), &provenance("main"));
    server.add("me/aetool", "main", "denoise.safetensors", bytes.clone());
    let env = HubEnv::new(&server);

    std::env::set_var("HF_ENDPOINT", format!("{}/", server.endpoint()));
    std::env::remove_var("HF_HUB_CACHE");
    std::env::remove_var("HF_HOME");
    std::env::set_var("XDG_CACHE_HOME", env.path().join("xdg"));
    hub_load("hf:me/aetool", DENOISE).unwrap();
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.path == "/me/aetool/resolve/main/denoise.safetensors"),
        "{requests:#?}"
    );
    let cache = env.path().join("xdg/huggingface/hub");
    let pointer = snapshot(&cache, "me/aetool", "main", "denoise.safetensors");
    assert_eq!(std::fs::read(pointer).unwrap(), bytes);
}

/// The real binary: `aetool denoise --model hf:…` downloads (saying so on stderr), writes the
/// output, and a second run with `HF_HUB_OFFLINE=1` works from the cache without a request.
#[test]
fn cli_denoise_with_a_hub_model_online_then_offline() {
    let server = HubServer::start();
    let spec = tiny_spec(ModelKind::Denoise);
    server.add(
        "me/aetool",
        "main",
        "denoise.safetensors",
        weights_bytes(&spec, &provenance("cli")),
    );
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.png");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rgb8.png"),
        &input,
    )
    .unwrap();
    let run = |offline: bool, out: &str| {
        let mut cmd = assert_cmd::Command::cargo_bin("aetool").unwrap();
        for var in VARS {
            cmd.env_remove(var);
        }
        cmd.env("HF_ENDPOINT", server.endpoint())
            .env("HF_HOME", dir.path().join("home"))
            .env("HF_HUB_CACHE", dir.path().join("cache"))
            .env("HF_HUB_OFFLINE", if offline { "1" } else { "0" })
            .args(["denoise", "--sigma", "10", "--model", "hf:me/aetool"])
            .arg(&input)
            .arg("-o")
            .arg(dir.path().join(out))
            .output()
            .unwrap()
    };
    let online = run(false, "a.png");
    let stderr = String::from_utf8_lossy(&online.stderr);
    assert_eq!(online.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("downloading") && stderr.contains("denoise.safetensors"),
        "{stderr}"
    );
    assert!(dir.path().join("a.png").is_file());
    assert_eq!(body_gets(&server.requests()), 1);
    let requests_before = server.requests().len();
    let offline = run(true, "b.png");
    assert_eq!(
        offline.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    assert!(dir.path().join("b.png").is_file());
    assert_eq!(
        server.requests().len(),
        requests_before,
        "the offline run must not touch the server"
    );
}
