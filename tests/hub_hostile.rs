//! `--model hf:…` against names and servers that try to escape the cache, hang or loop (issue
//! 13, items 4 and 5). A raw loopback server answers each request with whatever the case
//! needs; every run must end within seconds, in one error line, writing nothing outside the
//! Hugging Face cache.

use assert_cmd::Command;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the server does with one request.
enum Reply {
    /// Status line and headers (without `Content-Length`), then the body.
    Send(&'static str, Vec<(&'static str, String)>, Vec<u8>),
    /// Reads the request, then says nothing until the server stops.
    Hang,
    /// Sends the head announcing `len` bytes, then stalls.
    HeadThenHang(usize),
}

type Handler = dyn Fn(&str) -> Reply + Send + Sync;

/// A loopback HTTP server whose answers come from a closure of the request path.
struct RawServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    paths: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl RawServer {
    fn start(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (stop, paths) = (stop.clone(), paths.clone());
            std::thread::spawn(move || {
                let mut workers = Vec::new();
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (stop, paths, handler) = (stop.clone(), paths.clone(), handler.clone());
                    workers.push(std::thread::spawn(move || {
                        let _ = serve(stream, &stop, &paths, &*handler);
                    }));
                }
                for w in workers {
                    let _ = w.join();
                }
            })
        };
        Self {
            addr,
            stop,
            paths,
            thread: Some(thread),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    mut stream: TcpStream,
    stop: &AtomicBool,
    paths: &Mutex<Vec<String>>,
    handler: &Handler,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split(' ').nth(1).unwrap_or_default().to_string();
    paths.lock().unwrap().push(path.clone());
    let hang = || {
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    match handler(&path) {
        Reply::Send(status, headers, body) => {
            let mut out = format!("HTTP/1.1 {status}\r\n");
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            stream.write_all(out.as_bytes())?;
            stream.write_all(&body)?;
        }
        Reply::Hang => hang(),
        Reply::HeadThenHang(len) => {
            let out =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\nabc");
            stream.write_all(out.as_bytes())?;
            stream.flush()?;
            hang();
        }
    }
    Ok(())
}

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Headers of a good metadata answer for a file of `size` bytes named by `etag`.
fn meta(etag: &str, size: usize) -> Vec<(&'static str, String)> {
    vec![
        ("X-Repo-Commit", COMMIT.to_string()),
        ("ETag", format!("\"{etag}\"")),
        ("Content-Range", format!("bytes 0-0/{size}")),
    ]
}

/// Runs `aetool info MODEL` against `server` with a fresh cache under `tmp`; returns (exit
/// code, stderr, seconds taken).
fn info(server: &RawServer, tmp: &Path, model: &str) -> (i32, String, f64) {
    let mut cmd = Command::cargo_bin("aetool").unwrap();
    for var in [
        "HF_TOKEN",
        "HF_HUB_OFFLINE",
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HF_ENDPOINT", server.endpoint())
        .env("HF_HOME", tmp.join("home"))
        .env("HF_HUB_CACHE", tmp.join("cache"))
        .env("HF_HUB_ETAG_TIMEOUT", "1")
        .env("HF_HUB_DOWNLOAD_TIMEOUT", "1")
        .args(["info", model])
        .timeout(Duration::from_secs(60));
    let started = Instant::now();
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed().as_secs_f64(),
    )
}

/// Asserts a fatal error whose last line says `says`, quickly and without a panic.
fn assert_refused((code, err, secs): (i32, String, f64), says: &str) {
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("aetool: error: "), "{err}");
    assert!(last.contains(says), "no {says:?} in:\n{err}");
    assert!(secs < 20.0, "took {secs:.1} s:\n{err}");
}

/// Every file under `root`, as relative paths.
fn files(root: &Path) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .flatten()
        .map(|e| e.path().strip_prefix(root).unwrap().display().to_string())
        .collect()
}

#[test]
fn traversal_in_the_model_name_is_refused_before_any_request() {
    let server = RawServer::start(|_| Reply::Send("500 No", vec![], vec![]));
    let tmp = tempfile::tempdir().unwrap();
    for (model, says) in [
        (
            "hf:me/good/../../../../../evil/X.safetensors",
            "invalid file name",
        ),
        ("hf:me/good//tmp/X.safetensors", "invalid file name"),
        ("hf:me/good@../../../x/X.safetensors", "invalid revision"),
        ("hf:../..@main/X.safetensors", "invalid repository"),
        ("hf:me/a--b/X.safetensors", "invalid repository"),
    ] {
        assert_refused(info(&server, tmp.path(), model), says);
    }
    assert!(server.paths().is_empty(), "{:?}", server.paths());
    assert_eq!(files(tmp.path()), vec![String::new()], "nothing written");
}

#[test]
fn server_chosen_blob_and_commit_names_cannot_leave_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("planted");
    let evil = format!("../../../../../../../../../..{}", target.display());
    for (etag, commit, says) in [
        (evil.clone(), COMMIT.to_string(), "unusable ETag"),
        ("abc/def".to_string(), COMMIT.to_string(), "unusable ETag"),
        ("abcdef".to_string(), evil.clone(), "unusable commit"),
        ("abcdef".to_string(), "..".to_string(), "unusable commit"),
    ] {
        let server = RawServer::start(move |_| {
            let headers = vec![
                ("X-Repo-Commit", commit.clone()),
                ("ETag", format!("\"{etag}\"")),
                ("Content-Range", "bytes 0-0/5".to_string()),
            ];
            Reply::Send("206 Partial Content", headers, b"x".to_vec())
        });
        assert_refused(info(&server, tmp.path(), "hf:me/good/w.safetensors"), says);
        assert_eq!(server.paths().len(), 1, "{:?}", server.paths());
    }
    assert!(!target.exists());
    assert!(
        files(tmp.path())
            .iter()
            .all(|f| f.is_empty() || f.starts_with("cache")),
        "{:?}",
        files(tmp.path())
    );
}

#[test]
fn a_server_that_never_answers_times_out() {
    let server = RawServer::start(|_| Reply::Hang);
    let tmp = tempfile::tempdir().unwrap();
    assert_refused(
        info(&server, tmp.path(), "hf:me/x/w.safetensors"),
        "did not answer in time",
    );
}

#[test]
fn a_download_that_stalls_times_out() {
    let server = RawServer::start(|path| {
        if path.contains("resolve") {
            // First the probe, then the body request: both hit the same URL.
            static PROBED: AtomicBool = AtomicBool::new(false);
            if !PROBED.swap(true, Ordering::SeqCst) {
                return Reply::Send("206 Partial Content", meta("abcdef", 1000), b"x".to_vec());
            }
        }
        Reply::HeadThenHang(1000)
    });
    let tmp = tempfile::tempdir().unwrap();
    assert_refused(
        info(&server, tmp.path(), "hf:me/x/w.safetensors"),
        "stalled",
    );
    assert!(
        !files(tmp.path()).iter().any(|f| f.contains("blobs/abcdef")),
        "{:?}",
        files(tmp.path())
    );
}

#[test]
fn redirect_loops_and_redirects_without_location_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    // A relative redirect to itself (the probe follows those).
    let server = RawServer::start(|path| {
        Reply::Send("302 Found", vec![("Location", path.to_string())], vec![])
    });
    assert_refused(
        info(&server, tmp.path(), "hf:me/x/w.safetensors"),
        "more than 10 redirects",
    );
    assert!(server.paths().len() <= 12, "{}", server.paths().len());

    let server = RawServer::start(|_| Reply::Send("302 Found", vec![], vec![]));
    assert_refused(
        info(&server, tmp.path(), "hf:me/x/w.safetensors"),
        "without a Location header",
    );

    // The download of an LFS file: the probe stops at the absolute redirect to the CDN (its
    // headers name the blob), then the CDN bounces between two URLs forever.
    let server = RawServer::start(|path| {
        let mut headers = vec![(
            "Location",
            (if path == "/a" { "/b" } else { "/a" }).to_string(),
        )];
        if path.contains("resolve") {
            headers = meta("abcdef", 10);
            headers.push(("X-Linked-Size", "10".into()));
            headers.push(("X-Linked-Etag", "\"abcdef\"".into()));
            headers.push(("Location", format!("http://{}/a", HOST.get().unwrap())));
        }
        Reply::Send("302 Found", headers, vec![])
    });
    HOST.set(server.addr).unwrap();
    assert_refused(
        info(&server, tmp.path(), "hf:me/x/w.safetensors"),
        "more than 10 redirects",
    );
    let paths = server.paths();
    assert!(
        paths.iter().filter(|p| p.contains("resolve")).count() == 2,
        "probe and download: {paths:?}"
    );
}

/// The address of the one server that needs to name itself.
static HOST: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();

#[test]
fn absurd_sizes_and_short_bodies_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let server = RawServer::start(|_| {
        let mut headers = meta("abcdef", 1);
        headers[2].1 = "bytes 0-0/1000000000000000".into();
        Reply::Send("206 Partial Content", headers, b"x".to_vec())
    });
    assert_refused(
        info(&server, tmp.path(), "hf:me/x/w.safetensors"),
        "more than any aetool weights file",
    );
    let server = RawServer::start(|_| {
        Reply::Send(
            "206 Partial Content",
            meta("abcdef", 1000),
            b"0123456789".to_vec(),
        )
    });
    assert_refused(
        info(&server, tmp.path(), "hf:me/x/w.safetensors"),
        "received 10 bytes, the server announced 1000",
    );
    assert!(
        !files(tmp.path()).iter().any(|f| f.contains("blobs/abcdef")),
        "{:?}",
        files(tmp.path())
    );
}
