//! Where weights come from, as the user names it: `bundled`, `bundled:VARIANT`, a file path, or
//! `hf:OWNER/REPO[@REV][/FILE]`.

use anyhow::{bail, Result};
use std::path::PathBuf;

/// Where to take weights from, as given by `--weights FILE` / `--model hf:OWNER/REPO[@REV][/FILE]`.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// The weights compiled into the binary: the default model of the task.
    Bundled,
    /// An alternative bundled model of the task, `<kind>-<variant>` in `weights/` (e.g. `clean`:
    /// `upscale-x2-clean`; `gaussian`: `denoise-gaussian`). The name is `[a-z0-9]+`.
    BundledVariant(String),
    /// A local safetensors file (memory-mapped).
    File(PathBuf),
    /// A file of a Hub model repo, downloaded into the Hugging Face cache.
    Hub {
        repo: String,
        revision: String,
        file: Option<String>,
    },
}

impl Source {
    /// Parses `hf:OWNER/REPO[@REV][/FILE]`, `bundled`, `bundled:VARIANT`, or a path.
    pub fn parse(s: &str) -> Result<Self> {
        if s == "bundled" {
            return Ok(Source::Bundled);
        }
        if let Some(v) = s.strip_prefix("bundled:") {
            return Self::variant(v);
        }
        let Some(rest) = s.strip_prefix("hf:") else {
            return Ok(Source::File(PathBuf::from(s)));
        };
        let mut parts = rest.splitn(3, '/');
        let (owner, name) = match (parts.next(), parts.next()) {
            (Some(o), Some(n)) if !o.is_empty() && !n.is_empty() => (o, n),
            _ => bail!("--model {s:?}: expected hf:OWNER/REPO[@REVISION][/FILE]"),
        };
        let file = parts.next().filter(|f| !f.is_empty()).map(str::to_string);
        let (name, revision) = match name.split_once('@') {
            Some((n, r)) if !n.is_empty() && !r.is_empty() => (n, r.to_string()),
            Some(_) => bail!("--model {s:?}: empty repository name or revision around '@'"),
            None => (name, "main".to_string()),
        };
        let repo = format!("{owner}/{name}");
        super::hub::check_repo(&repo)
            .and_then(|()| super::hub::check_revision(&revision))
            .and_then(|()| file.as_deref().map_or(Ok(()), super::hub::check_file))
            .map_err(|e| anyhow::anyhow!("{s}: {e}"))?;
        Ok(Source::Hub {
            repo,
            revision,
            file,
        })
    }

    /// The bundled variant `name` (`clean`, `gaussian`, …), checked to be a plain lowercase word.
    pub fn variant(name: &str) -> Result<Self> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            bail!("variant {name:?}: expected a bundled variant name such as `clean` or `gaussian` (see `aetool info`)");
        }
        Ok(Source::BundledVariant(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_model_sources() {
        assert_eq!(Source::parse("bundled").unwrap(), Source::Bundled);
        assert_eq!(
            Source::parse("bundled:clean").unwrap(),
            Source::BundledVariant("clean".into())
        );
        assert_eq!(
            Source::parse("w.safetensors").unwrap(),
            Source::File("w.safetensors".into())
        );
        assert_eq!(
            Source::parse("hf:me/aetool").unwrap(),
            Source::Hub {
                repo: "me/aetool".into(),
                revision: "main".into(),
                file: None
            }
        );
        assert_eq!(
            Source::parse("hf:me/aetool@v2/sub/x.safetensors").unwrap(),
            Source::Hub {
                repo: "me/aetool".into(),
                revision: "v2".into(),
                file: Some("sub/x.safetensors".into())
            }
        );
        for bad in [
            "hf:",
            "hf:me",
            "hf:/x",
            "hf:me/@v1",
            "hf:me/x@",
            "hf:me/good/../../../../../evil/X.safetensors",
            "hf:me/x//etc/passwd",
            "hf:../x/y",
            "hf:me/x@../../z",
            "hf:me/x y",
            "bundled:",
            "bundled:../x",
            "bundled:Clean",
        ] {
            assert!(Source::parse(bad).is_err(), "{bad}");
        }
    }
}
