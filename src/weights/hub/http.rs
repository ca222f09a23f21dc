//! HTTP for the Hub: every request has connect and read timeouts, redirects are followed by
//! hand up to [`MAX_REDIRECTS`] (a loop or a redirect without `Location` is an error), and the
//! access token is sent to the endpoint's own host only.
//!
//! Timeouts follow `huggingface_hub`: `HF_HUB_ETAG_TIMEOUT` (metadata requests, default 10 s)
//! and `HF_HUB_DOWNLOAD_TIMEOUT` (longest wait for the next bytes of a download, default 10 s),
//! in seconds.

use anyhow::{anyhow, bail, Result};
use std::time::Duration;

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 10;

/// Seconds from `var` (a positive number), else `default`.
fn seconds(var: &str, default: f64) -> Duration {
    let secs = std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(default);
    Duration::from_secs_f64(secs.min(86_400.0))
}

/// The client: timeouts, the token, and the host the token belongs to.
pub struct Client {
    agent: ureq::Agent,
    token: Option<String>,
    token_origin: String,
    /// Whole-request limit for metadata requests.
    pub metadata_timeout: Duration,
}

/// `scheme://host[:port]` of a URL (lower-cased), or the empty string.
fn origin(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return String::new();
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}").to_ascii_lowercase()
}

/// Resolves a `Location` header against the URL it answered.
pub fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = base.split_once("://").map_or("https", |(s, _)| s);
        return format!("{scheme}://{rest}");
    }
    if location.starts_with('/') {
        return format!("{}{location}", origin(base));
    }
    // Relative to the base's folder (query and fragment dropped).
    let path_end = base.find(['?', '#']).unwrap_or(base.len());
    let base = &base[..path_end];
    let folder = match base.rfind('/') {
        Some(i) if i >= origin(base).len() => &base[..=i],
        _ => return format!("{}/{location}", origin(base)),
    };
    format!("{folder}{location}")
}

impl Client {
    /// A client for `endpoint` (where the token may be sent).
    pub fn new(endpoint: &str, token: Option<String>) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(seconds("HF_HUB_DOWNLOAD_TIMEOUT", 10.0))
            .timeout_write(Duration::from_secs(30))
            .redirects(0)
            .try_proxy_from_env(true)
            .user_agent(concat!("aetool/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent,
            token,
            token_origin: origin(endpoint),
            metadata_timeout: seconds("HF_HUB_ETAG_TIMEOUT", 10.0),
        }
    }

    /// One GET, redirects not followed; `4xx`/`5xx` and transport errors become errors worded
    /// for the user. `whole` bounds the whole request (headers and body).
    fn get_once(&self, url: &str, range: &str, whole: Option<Duration>) -> Result<ureq::Response> {
        let mut req = self.agent.get(url).set("Range", range);
        if let Some(t) = whole {
            req = req.timeout(t);
        }
        if let Some(token) = &self.token {
            if origin(url) == self.token_origin {
                req = req.set("Authorization", &format!("Bearer {token}"));
            }
        }
        match req.call() {
            Ok(resp) => Ok(resp),
            Err(ureq::Error::Status(code, resp)) => {
                let detail = [resp.header("X-Error-Code"), resp.header("X-Error-Message")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": ");
                let detail = if detail.is_empty() {
                    resp.status_text().to_string()
                } else {
                    detail
                };
                Err(anyhow!("{url}: HTTP {code} ({detail})"))
            }
            Err(ureq::Error::Transport(t)) => {
                let timed_out = std::error::Error::source(&t)
                    .and_then(|s| s.downcast_ref::<std::io::Error>())
                    .is_some_and(|io| {
                        matches!(
                            io.kind(),
                            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                        )
                    });
                if timed_out || t.to_string().contains("timed out") {
                    Err(anyhow!(
                        "{url}: the server did not answer in time (HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT set the wait)"
                    ))
                } else {
                    Err(anyhow!("{url}: {t}"))
                }
            }
        }
    }

    /// A GET that follows up to [`MAX_REDIRECTS`] redirects, or stops at the first one whose
    /// `Location` satisfies `stop` (returned as is). Errors on a loop, a redirect without
    /// `Location`, or a final status other than 2xx.
    pub fn get(
        &self,
        url: &str,
        range: &str,
        whole: Option<Duration>,
        stop: impl Fn(&str) -> bool,
    ) -> Result<ureq::Response> {
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let resp = self.get_once(&url, range, whole)?;
            if !(300..400).contains(&resp.status()) {
                if !(200..300).contains(&resp.status()) {
                    bail!("{url}: unexpected HTTP {}", resp.status());
                }
                return Ok(resp);
            }
            let Some(location) = resp.header("Location") else {
                bail!(
                    "{url}: the server answered HTTP {} (a redirect) without a Location header",
                    resp.status()
                );
            };
            let location = location.trim();
            if stop(location) {
                return Ok(resp);
            }
            url = resolve(&url, location);
        }
        bail!("{url}: more than {MAX_REDIRECTS} redirects (a redirect loop?)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_like_a_browser() {
        let base = "http://h:1/me/x/resolve/main/a/b.bin?x=1";
        assert_eq!(resolve(base, "https://cdn/y"), "https://cdn/y");
        assert_eq!(resolve(base, "//cdn/y"), "http://cdn/y");
        assert_eq!(resolve(base, "/api/y"), "http://h:1/api/y");
        assert_eq!(
            resolve(base, "c.bin"),
            "http://h:1/me/x/resolve/main/a/c.bin"
        );
        assert_eq!(resolve("http://h", "y"), "http://h/y");
        assert_eq!(origin("HTTP://Host:8/x"), "http://host:8");
        assert_eq!(origin("nonsense"), "");
    }
}
