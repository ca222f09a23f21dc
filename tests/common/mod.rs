//! A local stand-in for the Hugging Face Hub, for the integration tests (tiny specs and test
//! weights come from `aetool::testing`), and running the binary ([`cli`]).
//!
//! Each test file includes this with `mod common;`; not every file uses every helper.
#![allow(dead_code)]

pub mod cli;

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// A local Hugging Face Hub
// ---------------------------------------------------------------------------------------------

/// One request the server received.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub method: String,
    /// The request target as sent, e.g. `/me/aetool/resolve/main/denoise.safetensors`.
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

impl Request {
    /// A GET that transfers the file itself, not just hf-hub's 1-byte metadata probe
    /// (`Range: bytes=0-0`).
    pub fn is_body_get(&self) -> bool {
        self.method == "GET" && self.range.as_deref() != Some("bytes=0-0")
    }
}

#[derive(Clone)]
struct Served {
    bytes: Arc<Vec<u8>>,
    /// Served like a Git LFS file on huggingface.co: a 302 to a CDN URL, with `X-Linked-Etag`.
    lfs: bool,
}

#[derive(Default)]
struct State {
    /// `(repo, revision, file)` → content.
    files: HashMap<(String, String, String), Served>,
    log: Vec<Request>,
}

/// A minimal HTTP/1.1 server on `127.0.0.1:<free port>` that serves the Hub's file layout
/// `/{owner}/{repo}/resolve/{revision}/{file}` the way `hf-hub`'s sync client needs it:
///
/// * the metadata probe (`GET` with `Range: bytes=0-0`, redirects not followed) gets
///   `206`, `X-Repo-Commit`, `ETag` and `Content-Range: bytes 0-0/<size>`;
/// * the download (`GET` with `Range: bytes=<start>-`) gets `206` and the bytes;
/// * files added with [`HubServer::add_lfs`] answer like LFS files on the real Hub: `302` to
///   `/cdn/<etag>` on the same server, with `X-Repo-Commit` and `X-Linked-Etag`;
/// * anything else is a `404` with `X-Error-Code: EntryNotFound` (or `RepoNotFound`).
///
/// Every connection is answered once and closed (`Connection: close`). The server runs until
/// dropped: `Drop` sets a stop flag, wakes the accept loop with a connection of its own and joins
/// every thread.
pub struct HubServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// A deterministic hex digest of `data`, `len` characters long (not cryptographic; enough to
/// give distinct blobs distinct names).
fn hex_digest(data: &[u8], len: usize) -> String {
    let mut out = String::new();
    let mut salt = 0u64;
    while out.len() < len {
        let mut h = DefaultHasher::new();
        salt.hash(&mut h);
        data.hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
        salt += 1;
    }
    out.truncate(len);
    out
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl HubServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::Builder::new()
                .name("hub-server".into())
                .spawn(move || accept_loop(listener, addr, state, stop))
                .expect("spawn server thread")
        };
        Self {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`, the value for `HF_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `bytes` as `file` (may contain `/`) of model repo `repo` (`owner/name`) at
    /// `revision`.
    pub fn add(&self, repo: &str, revision: &str, file: &str, bytes: Vec<u8>) {
        self.insert(repo, revision, file, bytes, false);
    }

    /// Like [`HubServer::add`], but answered the way the Hub answers LFS files: a redirect to
    /// a content URL.
    pub fn add_lfs(&self, repo: &str, revision: &str, file: &str, bytes: Vec<u8>) {
        self.insert(repo, revision, file, bytes, true);
    }

    fn insert(&self, repo: &str, revision: &str, file: &str, bytes: Vec<u8>, lfs: bool) {
        let key = (repo.to_string(), revision.to_string(), file.to_string());
        let served = Served {
            bytes: Arc::new(bytes),
            lfs,
        };
        lock(&self.state).files.insert(key, served);
    }

    /// The commit hash the server reports (`X-Repo-Commit`) for `revision`.
    pub fn commit(revision: &str) -> String {
        hex_digest(revision.as_bytes(), 40)
    }

    /// The ETag the server reports for `bytes` (hf-hub names the cached blob after it).
    pub fn etag(bytes: &[u8]) -> String {
        hex_digest(bytes, 64)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.state).log.clone()
    }
}

impl Drop for HubServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept(); the loop sees the flag and returns.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        workers.retain(|w| !w.is_finished());
        let state = state.clone();
        workers.push(std::thread::spawn(move || {
            // Errors only mean the client went away; nothing to report.
            let _ = handle(stream, addr, &state);
        }));
    }
    for w in workers {
        let _ = w.join();
    }
}

/// Reads one request head (request line + headers; the Hub client sends no bodies).
fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return Ok(None);
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(Some(String::from_utf8_lossy(&head).into_owned()))
}

fn handle(mut stream: TcpStream, addr: SocketAddr, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let Some(head) = read_head(&mut stream)? else {
        return Ok(());
    };
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or_default().split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let request = Request {
        method: method.clone(),
        path: path.clone(),
        range: headers.get("range").cloned(),
        authorization: headers.get("authorization").cloned(),
    };
    lock(state).log.push(request.clone());

    let response = route(&request, addr, state);
    let mut out = format!("HTTP/1.1 {}\r\n", response.status);
    for (k, v) in &response.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body.len()
    ));
    stream.write_all(out.as_bytes())?;
    if method != "HEAD" {
        stream.write_all(&response.body)?;
    }
    stream.flush()?;
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

struct Response {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn not_found(code: &str, message: &str) -> Response {
    Response {
        status: "404 Not Found",
        headers: vec![
            ("X-Error-Code", code.to_string()),
            ("X-Error-Message", message.to_string()),
            ("Content-Type", "text/plain; charset=utf-8".into()),
        ],
        body: message.as_bytes().to_vec(),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The bytes of `content` selected by a `Range: bytes=a-[b]` header: `206` with
/// `Content-Range`, or `200` for the whole file when there is no (usable) range.
fn ranged(
    content: &[u8],
    range: Option<&str>,
    mut headers: Vec<(&'static str, String)>,
) -> Response {
    let len = content.len();
    headers.push(("Accept-Ranges", "bytes".into()));
    headers.push(("Content-Type", "application/octet-stream".into()));
    let spec = range
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'));
    let Some((start, end)) = spec else {
        return Response {
            status: "200 OK",
            headers,
            body: content.to_vec(),
        };
    };
    let start: usize = start.trim().parse().unwrap_or(0);
    let end: usize = match end.trim() {
        "" => len.saturating_sub(1),
        e => e
            .parse::<usize>()
            .unwrap_or(usize::MAX)
            .min(len.saturating_sub(1)),
    };
    if start >= len || start > end {
        headers.push(("Content-Range", format!("bytes */{len}")));
        return Response {
            status: "416 Range Not Satisfiable",
            headers,
            body: Vec::new(),
        };
    }
    headers.push(("Content-Range", format!("bytes {start}-{end}/{len}")));
    Response {
        status: "206 Partial Content",
        headers,
        body: content[start..=end].to_vec(),
    }
}

fn route(request: &Request, addr: SocketAddr, state: &Mutex<State>) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        return Response {
            status: "405 Method Not Allowed",
            headers: Vec::new(),
            body: Vec::new(),
        };
    }
    let path = request.path.split('?').next().unwrap_or_default();
    let range = request.range.as_deref();

    // Content URLs the LFS redirects point at.
    if let Some(etag) = path.strip_prefix("/cdn/") {
        let found = lock(state)
            .files
            .values()
            .find(|s| HubServer::etag(&s.bytes) == etag)
            .map(|s| s.bytes.clone());
        return match found {
            Some(bytes) => ranged(&bytes, range, vec![("ETag", format!("\"{etag}\""))]),
            None => not_found("EntryNotFound", "Entry not found"),
        };
    }

    // `/{owner}/{name}/resolve/{revision}/{file...}`; owner and name must be non-empty, so a
    // doubled slash (`http://host//owner/...`) is not accepted.
    let Some((repo, rest)) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once("/resolve/"))
    else {
        return not_found("RepoNotFound", "Repository not found");
    };
    let valid_repo = matches!(repo.split_once('/'), Some((o, n)) if !o.is_empty() && !n.is_empty() && !n.contains('/'));
    let Some((revision, file)) = rest.split_once('/').filter(|_| valid_repo) else {
        return not_found("RepoNotFound", "Repository not found");
    };
    let key = (
        repo.to_string(),
        percent_decode(revision),
        percent_decode(file),
    );
    let Some(served) = lock(state).files.get(&key).cloned() else {
        return not_found("EntryNotFound", "Entry not found");
    };
    let etag = HubServer::etag(&served.bytes);
    let commit = HubServer::commit(&key.1);
    if served.lfs {
        return Response {
            status: "302 Found",
            headers: vec![
                ("Location", format!("http://{addr}/cdn/{etag}")),
                ("X-Repo-Commit", commit),
                ("X-Linked-Etag", format!("\"{etag}\"")),
                ("X-Linked-Size", served.bytes.len().to_string()),
                // The ETag of the LFS pointer file, which clients must not use for the blob.
                ("ETag", format!("\"{}\"", hex_digest(etag.as_bytes(), 40))),
            ],
            body: Vec::new(),
        };
    }
    ranged(
        &served.bytes,
        range,
        vec![("X-Repo-Commit", commit), ("ETag", format!("\"{etag}\""))],
    )
}
